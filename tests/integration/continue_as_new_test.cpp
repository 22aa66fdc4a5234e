// ctx.continue_as_new: a run ends and the workflow starts again from the top
// with new inputs and a fresh history, in one commit (keel/context.hpp).
// The crash sweep over the hand-over is in tests/crash/crash_sweep_test.cpp.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

using ContinueAsNewTest = keel::testing::RuntimeTest;

const keel::Workflow<int, int> kTally("tally");

// Adds up messages; every `per_run` of them it continues with the sum so
// far. A negative message ends it with the sum.
void register_tally(keel::Runtime& rt, keel::testing::EffectCounter& effects, int per_run) {
  rt.register_workflow("tally", [&effects, per_run](keel::Context& ctx, int sum) {
    for (int i = 0; i < per_run; ++i) {
      int v = ctx.recv<int>("n", 30s).value_or(-1);
      if (v < 0) return sum;
      sum = ctx.step("add", [&] {
        effects.hit("add");
        return sum + v;
      });
    }
    ctx.continue_as_new(kTally, sum);
  });
}

TEST_F(ContinueAsNewTest, ALoopGoesOnWithItsNewInputsAndAShortHistory) {
  register_tally(*rt, effects, 3);
  rt->launch();
  auto h = rt->start(kTally, {.workflow_id = "t"}, 0);
  for (int v = 1; v <= 10; ++v) rt->send("t", v, "n");
  rt->send("t", -1, "n");
  EXPECT_EQ(h.result_for(20s), 55);
  EXPECT_EQ(effects.count("add"), 10) << "no step ran twice across the hand-overs";

  auto info = rt->get_workflow("t");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->inputs, keel::Json::array({45})) << "the last run's inputs";
  // Three hand-overs; the history holds only the last run: its marker, one
  // message, its add, and the closing message.
  auto steps = rt->list_steps("t");
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.front().name, "keel.continue_as_new");
  EXPECT_EQ(steps.front().output, keel::Json::array({45}));
  EXPECT_LT(steps.size(), 8u);
  // Positions go on counting through the runs: 3 runs of 3 rounds (recv's
  // deadline, recv, add: a deadline not needed takes its position unrecorded)
  // before the last marker.
  EXPECT_GT(steps.front().function_id, 27);
  for (size_t i = 1; i < steps.size(); ++i) EXPECT_GT(steps[i].function_id, steps[i - 1].function_id);
}

// A restart after a hand-over resumes the latest run, from its own
// history: the earlier runs' steps do not run again.
TEST_F(ContinueAsNewTest, RecoveryResumesTheLatestRun) {
  register_tally(*rt, effects, 2);
  rt->launch();
  (void)rt->start(kTally, {.workflow_id = "t"}, 100);
  for (int v = 1; v <= 3; ++v) rt->send("t", v, "n");  // one hand-over, then one add in the second run
  ASSERT_TRUE(keel::testing::eventually([&] { return effects.count("add") == 3; }, 10s));
  restart();
  register_tally(*rt, effects, 2);
  auto report = rt->launch();
  EXPECT_EQ(report.recovered, std::vector<std::string>{"t"});
  rt->send("t", -1, "n");
  EXPECT_EQ(rt->retrieve<int>("t").result_for(20s), 106);
  EXPECT_EQ(effects.count("add"), 3);
}

// Child IDs derived from positions ("<parent>-<position>") stay unique:
// each run's child is a new workflow, not the first run's again.
TEST_F(ContinueAsNewTest, EachRunsDerivedChildIdIsNew) {
  const keel::Workflow<int, int> echo("echo");
  const keel::Workflow<int, int> parent("parent");
  rt->register_workflow("echo", [](keel::Context&, int v) { return v; });
  rt->register_workflow("parent", [&](keel::Context& ctx, int run) {
    int got = ctx.start_child(echo, run).result_for(10s);
    if (run < 3) ctx.continue_as_new(parent, run + 1);
    return got;
  });
  rt->launch();
  EXPECT_EQ(rt->start(parent, {.workflow_id = "p"}, 1).result_for(20s), 3);
  std::set<std::string> children;
  for (const auto& w : rt->list_workflows({.name = "echo"})) {
    children.insert(w.id);
    EXPECT_EQ(w.status, keel::WorkflowStatus::Success);
  }
  EXPECT_EQ(children.size(), 3u);
}

// Workflow code that swallows the hand-over (catch (...) without rethrow)
// and returns does not end the workflow with that return value.
TEST_F(ContinueAsNewTest, ASwallowedHandOverStillContinues) {
  const keel::Workflow<int, int> wf("swallow");
  rt->register_workflow("swallow", [&](keel::Context& ctx, int run) {
    if (run == 2) return 2;
    try {
      ctx.continue_as_new(wf, 2);
    } catch (...) {
    }
    return -1;
  });
  rt->launch();
  EXPECT_EQ(rt->start(wf, {.workflow_id = "s"}, 1).result_for(10s), 2);
}

TEST_F(ContinueAsNewTest, AnotherWorkflowOrAStepIsAUsageError) {
  const keel::Workflow<int> other("other"), named("named"), in_step("in_step");
  rt->register_workflow("other", [](keel::Context&) { return 0; });
  rt->register_workflow("named", [&](keel::Context& ctx) -> int { ctx.continue_as_new(other); });
  rt->register_workflow("in_step", [&](keel::Context& ctx) {
    return ctx.step("s", [&]() -> int { ctx.continue_as_new(in_step); });
  });
  rt->launch();
  for (const char* id : {"named", "in_step"}) {
    auto h = rt->start(keel::Workflow<int>(id), {.workflow_id = id});
    EXPECT_THROW((void)h.result_for(10s), keel::UsageError) << id;
    auto info = rt->get_workflow(id);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->status, keel::WorkflowStatus::Error) << id;
    EXPECT_EQ(info->inputs, keel::Json::array()) << id << ": nothing was handed over";
  }
}

// A fork of a later run: from its top (step 0) it runs the current inputs
// again; a step before the hand-over no longer exists.
TEST_F(ContinueAsNewTest, AForkStartsFromTheCurrentRun) {
  register_tally(*rt, effects, 2);
  rt->launch();
  (void)rt->start(kTally, {.workflow_id = "t"}, 0);
  for (int v = 1; v <= 2; ++v) rt->send("t", v, "n");
  ASSERT_TRUE(keel::testing::eventually(
      [&] { return rt->get_workflow("t")->inputs == keel::Json::array({3}); }, 10s));
  rt->send("t", -1, "n");
  EXPECT_EQ(rt->retrieve<int>("t").result_for(10s), 3);
  const int marker = rt->list_steps("t").front().function_id;
  EXPECT_THROW((void)rt->fork_workflow("t", {.start_step = marker}), keel::UsageError);
  auto fork = rt->fork_workflow("t", {.start_step = 0, .workflow_id = "t2"});
  rt->send(fork, 4, "n");
  rt->send(fork, -1, "n");
  EXPECT_EQ(rt->retrieve<int>(fork).result_for(10s), 7);
}

}  // namespace
