// A caller waiting for a workflow's result runs it itself while no pool thread
// has taken it (keel/handle.hpp; runtime/queued_run.hpp): an untimed result()
// outside any workflow does, result_for() does not. With one pool thread held
// by a blocked workflow, where the next workflow runs (and whether its
// result() returns before the blocker is released) shows which.
// Runs on SQLite and (ctest -L postgres) on PostgreSQL.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "runtime/runtime_access.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

using keel::testing::eventually;

class ResultRunsHereTest : public keel::testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    auto cfg = keel::testing::test_config(dir);
    cfg.max_workflow_threads = 1;
    rt.reset();
    rt = std::make_unique<keel::Runtime>(cfg);
    blocker.emplace(rt->register_workflow("blocker", [this](keel::Context& ctx) {
      ctx.step("hold", [this] {
        entered = true;
        // Bounded, so that a failing test ends instead of hanging.
        for (auto until = std::chrono::steady_clock::now() + 30s; !released && std::chrono::steady_clock::now() < until;)
          std::this_thread::sleep_for(1ms);
      });
      return 1;
    }));
    quick.emplace(rt->register_workflow("quick", [this](keel::Context& ctx, int x) {
      effects.hit("entry-" + ctx.workflow_id());  // once per run from the top
      if (linger) std::this_thread::sleep_for(300ms);  // time for a second waiter to come
      int doubled = ctx.step("double", [x] { return 2 * x; });
      std::lock_guard lock(mu);
      ran_on = std::this_thread::get_id();
      return doubled;
    }));
    rt->launch();
  }
  void TearDown() override {
    released = true;
    rt.reset();  // before the members the blocker's step reads go
  }
  // The blocker holds the pool's only thread.
  keel::Handle<int> hold_the_pool() {
    auto h = rt->start(*blocker, {.workflow_id = "blocker"});
    EXPECT_TRUE(eventually([&] { return entered.load(); }));
    return h;
  }
  std::thread::id quick_thread() {
    std::lock_guard lock(mu);
    return ran_on;
  }

  std::optional<keel::Workflow<int>> blocker;
  std::optional<keel::Workflow<int, int>> quick;
  std::atomic<bool> entered{false};
  std::atomic<bool> released{false};
  std::atomic<bool> linger{false};  // quick's run lasts a while
  std::mutex mu;
  std::thread::id ran_on;  // guarded by mu
};

TEST_F(ResultRunsHereTest, AnUntimedResultRunsAQueuedWorkflowOnTheWaitingThread) {
  auto held = hold_the_pool();
  auto h = rt->start(*quick, {.workflow_id = "q"}, 21);
  EXPECT_EQ(h.result(), 42);
  EXPECT_FALSE(released) << "result() returned only after the pool's thread was free again";
  EXPECT_EQ(quick_thread(), std::this_thread::get_id());
  EXPECT_EQ(h.status(), keel::WorkflowStatus::Success);
  EXPECT_EQ(rt->list_steps("q").size(), 1u) << "checkpointed as on a pool thread";
  released = true;
  EXPECT_EQ(held.result_for(30s), 1);
  EXPECT_TRUE(eventually([&] { return keel::detail::RuntimeAccess::engine(*rt).counters().running == 0; }))
      << "the pool's thread found the run taken and left it";
}

TEST_F(ResultRunsHereTest, ATimedResultLeavesTheRunToThePool) {
  auto held = hold_the_pool();
  auto h = rt->start(*quick, {.workflow_id = "q"}, 5);
  EXPECT_THROW(h.result_for(300ms), keel::TimeoutError);
  released = true;
  EXPECT_EQ(h.result_for(30s), 10);
  EXPECT_NE(quick_thread(), std::this_thread::get_id());
  EXPECT_EQ(held.result_for(30s), 1);
}

TEST_F(ResultRunsHereTest, ADuplicateStartsResultRunsNothingTwice) {
  auto held = hold_the_pool();
  linger = true;
  auto first = rt->start(*quick, {.workflow_id = "q"}, 4);
  auto again = rt->start(*quick, {.workflow_id = "q"}, 4);
  std::thread other([&] { EXPECT_EQ(again.result(), 8); });
  EXPECT_EQ(first.result(), 8);
  other.join();
  EXPECT_EQ(effects.count("entry-q"), 1) << "two threads ran the workflow";
  EXPECT_EQ(rt->list_steps("q").size(), 1u);
  released = true;
  EXPECT_EQ(held.result_for(30s), 1);
}

}  // namespace
