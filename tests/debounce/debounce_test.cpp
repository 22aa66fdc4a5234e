// Debouncing in a Runtime (keel/debounce.hpp, docs/debounce.md), on SQLite
// and, through the postgres. prefix (tests/debounce/CMakeLists.txt), on
// PostgreSQL: a burst runs once with its last input, bursts apart run once
// each, max_wait caps a burst that never pauses, two runtimes on one
// database fire each burst once, a burst into a queue, and misuse.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "debounce/debounce_support.hpp"
#include "support/runtime_fixture.hpp"

namespace keel::testing {
namespace {

using namespace std::chrono_literals;

DebounceOptions opts(const std::string& key, std::chrono::milliseconds window,
                     std::optional<std::chrono::milliseconds> max_wait = std::nullopt) {
  DebounceOptions o;
  o.key = key;
  o.window = window;
  o.max_wait = max_wait;
  return o;
}

class DebounceTest : public RuntimeTest {
 protected:
  Workflow<int64_t, std::string, int64_t> setup(Runtime& r) {
    create_run_table(r);
    return register_debounced(r);
  }
};

TEST_F(DebounceTest, CallsWithinTheWindowRunOnceWithTheLastInput) {
  auto wf = setup(*rt);
  (void)rt->launch();
  std::set<std::string> ids;
  Handle<int64_t> last(*rt, "");
  for (int64_t v = 1; v <= 5; ++v) {
    last = rt->debounce(wf, opts("typing", 1500ms), std::string("typing"), v);
    ids.insert(last.id());
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(ids.size(), 1u) << "every call of a burst returns the same target";
  EXPECT_TRUE(runs_of(*rt, "typing").empty()) << "fired before the window closed";
  EXPECT_EQ(stored_bursts(*rt), 1);
  EXPECT_EQ(last.result_for(30s), 5) << "the handle waits for the burst's workflow";
  std::this_thread::sleep_for(1500ms);  // no second run comes
  auto runs = runs_of(*rt, "typing");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].value, 5);
  EXPECT_EQ(runs[0].workflow_id, last.id());
  EXPECT_EQ(stored_bursts(*rt), 0);
  EXPECT_EQ(rt->get_workflow(last.id())->status, WorkflowStatus::Success);
}

TEST_F(DebounceTest, CallsBeyondTheWindowRunOncePerBurst) {
  auto wf = setup(*rt);
  (void)rt->launch();
  auto a1 = rt->debounce(wf, opts("k", 300ms), std::string("k"), 1);
  auto a2 = rt->debounce(wf, opts("k", 300ms), std::string("k"), 2);
  EXPECT_EQ(a1.id(), a2.id());
  EXPECT_EQ(a2.result_for(30s), 2);
  auto b1 = rt->debounce(wf, opts("k", 300ms), std::string("k"), 3);
  auto b2 = rt->debounce(wf, opts("k", 300ms), std::string("k"), 4);
  EXPECT_EQ(b1.id(), b2.id());
  EXPECT_NE(b1.id(), a1.id()) << "a call after the fire begins a new burst";
  EXPECT_EQ(b1.result_for(30s), 4);
  // Another key is a burst of its own, at the same time.
  auto c = rt->debounce(wf, opts("other", 300ms), std::string("other"), 7);
  EXPECT_EQ(c.result_for(30s), 7);
  std::this_thread::sleep_for(700ms);
  auto runs = runs_of(*rt, "k");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].value, 2);
  EXPECT_EQ(runs[0].workflow_id, a1.id());
  EXPECT_EQ(runs[1].value, 4);
  EXPECT_EQ(runs[1].workflow_id, b1.id());
  EXPECT_EQ(runs_of(*rt, "other").size(), 1u);
}

TEST_F(DebounceTest, MaxWaitCapsABurstThatNeverPauses) {
  auto wf = setup(*rt);
  (void)rt->launch();
  std::vector<std::string> targets;  // one per call
  const auto until = std::chrono::steady_clock::now() + 3500ms;
  int64_t v = 0;
  while (std::chrono::steady_clock::now() < until) {
    targets.push_back(rt->debounce(wf, opts("busy", 600ms, 1200ms), std::string("busy"), ++v).id());
    std::this_thread::sleep_for(100ms);
  }
  // Calls never paused for the window: only the cap fired bursts meanwhile.
  std::vector<std::string> bursts;
  for (const auto& t : targets)
    if (bursts.empty() || bursts.back() != t) bursts.push_back(t);
  EXPECT_GE(bursts.size(), 2u) << "max_wait did not end a burst";
  std::set<std::string> distinct(bursts.begin(), bursts.end());
  EXPECT_EQ(distinct.size(), bursts.size()) << "a burst's calls are contiguous";
  for (const auto& b : bursts) (void)Handle<int64_t>(*rt, b).result_for(30s);
  auto runs = runs_of(*rt, "busy");
  ASSERT_EQ(runs.size(), bursts.size()) << "one run per burst";
  // Each burst ran with the input of its last call.
  for (const auto& run : runs) {
    auto last = std::find(targets.rbegin(), targets.rend(), run.workflow_id);
    ASSERT_NE(last, targets.rend());
    EXPECT_EQ(run.value, static_cast<int64_t>(targets.rend() - last)) << run.workflow_id;
  }
}

TEST_F(DebounceTest, TwoRuntimesOnOneDatabaseFireEachBurstOnce) {
  auto wf = setup(*rt);
  Runtime other(test_config(dir, "other"));
  auto wf2 = register_debounced(other);
  (void)rt->launch();
  (void)other.launch();
  constexpr int kKeys = 20;
  std::vector<std::string> targets(kKeys);
  for (int64_t v = 1; v <= 4; ++v) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = "key" + std::to_string(k);
      // Calls alternate between the runtimes: one burst per key all the same.
      auto h = (v + k) % 2 ? rt->debounce(wf, opts(key, 2000ms), key, v)
                           : other.debounce(wf2, opts(key, 2000ms), key, v);
      if (v == 1) targets[k] = h.id();
      EXPECT_EQ(h.id(), targets[k]) << key;
    }
  }
  for (const auto& t : targets) EXPECT_EQ(Handle<int64_t>(*rt, t).result_for(30s), 4);
  std::this_thread::sleep_for(1500ms);  // both debouncers passed over the fired bursts
  auto runs = debounce_runs(*rt);
  ASSERT_EQ(runs.size(), static_cast<size_t>(kKeys));
  std::set<std::string> keys;
  for (const auto& r : runs) {
    keys.insert(r.key);
    EXPECT_EQ(r.value, 4) << r.key;
  }
  EXPECT_EQ(keys.size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(stored_bursts(*rt), 0);
  other.shutdown();
}

TEST_F(DebounceTest, ABurstIntoAQueueIsEnqueuedAtTheFire) {
  auto wf = setup(*rt);
  rt->register_queue(QueueOptions{.name = "q", .concurrency = 1});
  (void)rt->launch();
  DebounceOptions o = opts("queued", 1000ms);
  o.queue = "q";
  o.workflow_id = "queued-target";
  auto h1 = rt->debounce(wf, o, std::string("queued"), 1);
  o.workflow_id = "ignored";  // only a burst's first call names its target
  auto h2 = rt->debounce(wf, o, std::string("queued"), 2);
  EXPECT_EQ(h1.id(), "queued-target");
  EXPECT_EQ(h2.id(), "queued-target");
  EXPECT_EQ(h2.result_for(30s), 2);
  auto info = rt->get_workflow("queued-target");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->queue_name, "q");
  EXPECT_EQ(runs_of(*rt, "queued").size(), 1u);
}

TEST_F(DebounceTest, AClientsBurstIsFiredByARuntime) {
  auto wf = setup(*rt);
  (void)rt->launch();
  Client client(test_db_url(dir));
  Workflow<int64_t, std::string, int64_t> typed("debounced");
  auto h1 = client.debounce(typed, opts("from-client", 1000ms), std::string("from-client"), 1);
  auto h2 = rt->debounce(wf, opts("from-client", 1000ms), std::string("from-client"), 2);  // the same burst
  auto h3 = client.debounce(typed, opts("from-client", 1000ms), std::string("from-client"), 3);
  EXPECT_EQ(h1.id(), h2.id());
  EXPECT_EQ(h1.id(), h3.id());
  EXPECT_EQ(h3.result_for(30s), 3) << "a ClientHandle waits for the burst too";
  EXPECT_THROW((void)client.debounce(typed, opts("", 300ms), std::string("x"), 1), UsageError);
  auto runs = runs_of(*rt, "from-client");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].value, 3);
}

TEST_F(DebounceTest, BadInputIsRefused) {
  auto wf = setup(*rt);
  auto other = rt->register_workflow("other", [](Context&, std::string, int64_t) { return int64_t{0}; });
  rt->register_queue(QueueOptions{.name = "parts", .partitioned = true});
  EXPECT_THROW((void)rt->debounce(wf, opts("k", 100ms), std::string("k"), 1), RuntimeStateError);
  (void)rt->launch();
  EXPECT_THROW((void)rt->debounce(wf, opts("", 100ms), std::string("k"), 1), UsageError);
  EXPECT_THROW((void)rt->debounce(wf, opts("k", 0ms), std::string("k"), 1), UsageError);
  EXPECT_THROW((void)rt->debounce(wf, opts("k", -5ms), std::string("k"), 1), UsageError);
  EXPECT_THROW((void)rt->debounce(wf, opts("k", 100ms, 99ms), std::string("k"), 1), UsageError);
  Workflow<int64_t, std::string, int64_t> unknown("not-registered");
  EXPECT_THROW((void)rt->debounce(unknown, opts("k", 100ms), std::string("k"), 1), UnknownWorkflowError);
  DebounceOptions q = opts("k", 100ms);
  q.queue = "no-such-queue";
  EXPECT_THROW((void)rt->debounce(wf, q, std::string("k"), 1), UnknownQueueError);
  q.queue = "parts";
  EXPECT_THROW((void)rt->debounce(wf, q, std::string("k"), 1), UsageError);
  EXPECT_EQ(stored_bursts(*rt), 0) << "a refused call stores nothing";
  // A key's open burst belongs to its workflow.
  auto h = rt->debounce(wf, opts("shared", 60s), std::string("shared"), 1);
  EXPECT_THROW((void)rt->debounce(other, opts("shared", 60s), std::string("shared"), 2), WorkflowConflictError);
  EXPECT_EQ(stored_bursts(*rt), 1);
  EXPECT_THROW((void)h.status(), WorkflowNotFoundError) << "the target exists once the burst fired";
  EXPECT_THROW((void)h.result_for(200ms), TimeoutError) << "a handle waits for an unfired burst";
  EXPECT_THROW((void)Handle<int64_t>(*rt, "never").result_for(200ms), WorkflowNotFoundError);
}

}  // namespace
}  // namespace keel::testing
