// Suspended workflows (RuntimeConfig::max_suspended_workflows): a wait that
// would park, in a workflow whose run has recorded at least
// suspend_after_operations, stays in its thread outside the pool's limit and
// resumes without a replay; beyond the limit, for shorter histories and
// after suspended_wait_limit, waits park as before. Each workflow counts its
// runs from the top ("entry-<id>": the body's first line runs again at every
// replay, a recorded step's body does not).
// Runs on SQLite and (ctest -L postgres) on PostgreSQL.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "runtime/runtime_access.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

using keel::testing::eventually;

constexpr int kLongHistory = 20;  // suspend_after_operations in these tests

class SuspendedTest : public keel::testing::RuntimeTest {
 protected:
  // One pool thread, parking at the first blocking wait.
  void use_config(int max_suspended, std::chrono::milliseconds wait_limit = 10min) {
    auto cfg = keel::testing::test_config(dir);
    cfg.max_workflow_threads = 1;
    cfg.park_after = 0ms;
    cfg.max_suspended_workflows = max_suspended;
    cfg.suspend_after_operations = kLongHistory;
    cfg.suspended_wait_limit = wait_limit;
    rt.reset();
    rt = std::make_unique<keel::Runtime>(cfg);
  }
  keel::detail::EngineCounters counters() { return keel::detail::RuntimeAccess::engine(*rt).counters(); }
  // `steps` recorded steps, then `rounds` times: recv("m") and a step; returns the sum received.
  keel::Workflow<int, int, int> register_looper() {
    return rt->register_workflow("looper", [this](keel::Context& ctx, int steps, int rounds) {
      effects.hit("entry-" + ctx.workflow_id());
      for (int i = 0; i < steps; ++i) ctx.step("s", [] {});
      int sum = 0;
      for (int r = 0; r < rounds; ++r) {
        sum += ctx.recv<int>("m", 60s).value_or(-1000);
        ctx.step("after", [] {});
      }
      return sum;
    });
  }
  int entries(const std::string& id) { return effects.count("entry-" + id); }
  // n parked and every one of them has left its thread (a message sent
  // while one is still unwinding may find it waiting yet, and it then
  // receives without a replay: parking gives way to a notify it sees).
  bool parked_and_gone(size_t n, size_t others_running) {
    return eventually([&] { return counters().parked == n && counters().running == others_running; });
  }
};

TEST_F(SuspendedTest, ALongHistoryWaitsSuspendedOutsideThePoolAndWakesWithoutAReplay) {
  use_config(/*max_suspended=*/1);
  auto looper = register_looper();
  rt->launch();
  auto h = rt->start(looper, {.workflow_id = "long"}, kLongHistory, 3);
  ASSERT_TRUE(eventually([&] { return counters().suspended == 1; }));
  EXPECT_EQ(counters().parked, 0u);
  // The pool's one thread is free: a short workflow runs and parks meanwhile.
  auto short_one = rt->start(looper, {.workflow_id = "short"}, 1, 1);
  ASSERT_TRUE(parked_and_gone(1, /*others_running=*/1)) << "the short workflow got no pool thread";
  for (int r = 1; r <= 3; ++r) rt->send("long", r, "m");
  EXPECT_EQ(h.result_for(30s), 1 + 2 + 3);
  EXPECT_EQ(entries("long"), 1) << "a suspended wait woke by replay";
  EXPECT_LE(counters().pool_threads, 2u) << "one pool thread and one suspended";
  rt->send("short", 5, "m");
  EXPECT_EQ(short_one.result_for(30s), 5);
  EXPECT_EQ(entries("short"), 2) << "a short history parks and replays, as before";
  EXPECT_TRUE(eventually([&] { return counters().suspended == 0; }));
}

TEST_F(SuspendedTest, BeyondTheLimitALongHistoryParksAndWakesByReplay) {
  use_config(/*max_suspended=*/1);
  auto looper = register_looper();
  rt->launch();
  auto a = rt->start(looper, {.workflow_id = "a"}, kLongHistory, 1);
  ASSERT_TRUE(eventually([&] { return counters().suspended == 1; }));
  auto b = rt->start(looper, {.workflow_id = "b"}, kLongHistory, 1);
  ASSERT_TRUE(parked_and_gone(1, /*others_running=*/1));
  EXPECT_EQ(counters().suspended, 1u);
  rt->send("b", 2, "m");
  rt->send("a", 1, "m");
  EXPECT_EQ(a.result_for(30s), 1);
  EXPECT_EQ(b.result_for(30s), 2);
  EXPECT_EQ(entries("a"), 1);
  EXPECT_EQ(entries("b"), 2);
}

TEST_F(SuspendedTest, ZeroSuspendsNothing) {
  use_config(/*max_suspended=*/0);
  auto looper = register_looper();
  rt->launch();
  auto h = rt->start(looper, {.workflow_id = "z"}, kLongHistory, 1);
  ASSERT_TRUE(parked_and_gone(1, /*others_running=*/0));
  EXPECT_EQ(counters().suspended, 0u);
  rt->send("z", 4, "m");
  EXPECT_EQ(h.result_for(30s), 4);
  EXPECT_EQ(entries("z"), 2);
}

TEST_F(SuspendedTest, ASuspendedWaitParksOnceItHasLastedItsLimit) {
  use_config(/*max_suspended=*/1, /*wait_limit=*/300ms);
  auto looper = register_looper();
  rt->launch();
  auto h = rt->start(looper, {.workflow_id = "w"}, kLongHistory, 1);
  ASSERT_TRUE(eventually([&] { return counters().suspended == 1; }));
  ASSERT_TRUE(eventually([&] { return counters().parked == 1 && counters().suspended == 0; }));
  rt->send("w", 9, "m");
  EXPECT_EQ(h.result_for(30s), 9);
  EXPECT_EQ(entries("w"), 2);
}

TEST_F(SuspendedTest, ShutdownEndsASuspendedWaitAndARestartResumesTheWorkflow) {
  use_config(/*max_suspended=*/1);
  (void)register_looper();
  rt->launch();
  (void)rt->start(keel::Workflow<int, int, int>("looper"), {.workflow_id = "s"}, kLongHistory, 1);
  ASSERT_TRUE(eventually([&] { return counters().suspended == 1; }));
  use_config(/*max_suspended=*/1);  // shuts the first runtime down (a hang here fails by the test's timeout)
  (void)register_looper();
  EXPECT_EQ(rt->launch().recovered.size(), 1u);
  ASSERT_TRUE(eventually([&] { return counters().suspended == 1; })) << "the replay's wait is suspended again";
  rt->send("s", 3, "m");
  EXPECT_EQ(rt->retrieve<int>("s").result_for(30s), 3);
  EXPECT_EQ(entries("s"), 2);
}

}  // namespace
