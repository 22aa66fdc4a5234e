// A deploy in the middle of a run, with crashes: build v1 of a workflow
// records step "a" and parks in recv; the process is killed (SIGKILL) while
// it is parked. Build v2, which adds step "c" behind ctx.patched(), recovers
// it, starts a new run and lets both go — and is itself killed at its Nth
// checkpoint commit, for every N, then restarted. The v1 run keeps v1's path
// (no marker, "c" never runs, "a" ran once), the v2 run takes the new one.
#include <gtest/gtest.h>

#include <algorithm>

#include "crash/worker_harness.hpp"

using namespace std::chrono_literals;

namespace keel::crash {
namespace {

bool has_step(const std::vector<keel::StepInfo>& steps, const std::string& name) {
  return std::any_of(steps.begin(), steps.end(), [&](const auto& s) { return s.name == name; });
}

int marks_of(const std::vector<TraceLine>& trace, const std::string& wf, const std::string& step) {
  return static_cast<int>(std::count_if(trace.begin(), trace.end(), [&](const TraceLine& t) {
    return t.kind == "mark" && t.a == wf && t.b == step;
  }));
}

Json result_of(const std::vector<RunResult>& runs, const std::string& id) {
  for (const auto& m : runs.back().of_kind("result"))
    if (m.at("workflow") == id) return m.at("result");
  return nullptr;
}

std::vector<keel::StepInfo> steps_of(const Paths& p, const std::string& id) {
  keel::Runtime rt({.database_url = "sqlite:" + p.db, .executor_id = "upgrade-inspector"});
  return rt.list_steps(id);
}

void upgrade_killed_at_commit(int n) {
  SCOPED_TRACE("v2 killed at checkpoint.after_commit #" + std::to_string(n));
  TempDir dir;
  Paths p(dir);
  const std::vector<std::string> v1{"--code", "v1", "--park-after", "0"};
  const std::vector<std::string> v2_killed{"--code", "v2", "--kill-at", "checkpoint.after_commit", "--kill-after",
                                           std::to_string(n)};
  // Parked (the deadline of its recv recorded: its history is past the patch).
  auto e = kill_while_waiting(p, "upgrade", 300ms, v1, v2_killed);
  ASSERT_TRUE(e.runs[0].killed()) << e.runs[0].describe();
  if (e.runs[1].killed()) e.runs.push_back(run_worker(p, "upgrade", 3, std::nullopt, {"--code", "v2"}));
  ASSERT_TRUE(e.runs.back().succeeded()) << e.runs.back().describe();

  EXPECT_EQ(result_of(e.runs, "upg-old"), (Json{{"path", "old"}, {"go", true}}));
  EXPECT_EQ(result_of(e.runs, "upg-new"), (Json{{"path", "new"}, {"go", true}}));
  auto old_steps = steps_of(p, "upg-old"), new_steps = steps_of(p, "upg-new");
  EXPECT_FALSE(has_step(old_steps, "keel.patch:fast-path"));
  EXPECT_FALSE(has_step(old_steps, "c"));
  EXPECT_TRUE(has_step(new_steps, "keel.patch:fast-path"));
  EXPECT_TRUE(has_step(new_steps, "c"));
  auto trace = read_trace(p.marks);
  EXPECT_EQ(marks_of(trace, "upg-old", "a"), 1) << "v1's recorded step ran again under v2";
  EXPECT_EQ(marks_of(trace, "upg-old", "c"), 0) << "the v1 run took the patched branch";
  EXPECT_GE(marks_of(trace, "upg-new", "c"), 1);
  EXPECT_GE(marks_of(trace, "upg-old", "b"), 1);
}

TEST(CrashDuringUpgrade, RunsRecordedByV1KeepTheirPathWhileV2Crashes) {
  // v2's run commits about ten times (two workflows' steps, sends, ends):
  // every one of them, and beyond (then v2 is not killed at all).
  for (int n = 1; n <= 12; ++n) {
    upgrade_killed_at_commit(n);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace keel::crash
