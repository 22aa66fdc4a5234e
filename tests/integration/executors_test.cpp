// Executor leases inside one process (the multi-process tests are in
// tests/scaleout): takeover of a stopped executor's workflows by a live one,
// the lease table, and the fence. Runs on both backends and under TSan.
#include <gtest/gtest.h>

#include <thread>

#include "keel/client.hpp"
#include "support/runtime_fixture.hpp"
#include "sysdb/system_database.hpp"

using namespace std::chrono_literals;
using keel::testing::RuntimeTest;

namespace {

class ExecutorsTest : public RuntimeTest {
 protected:
  // The runtime stops before this fixture's members go: its heartbeats call
  // the fault hook, which reads `armed`, until then (a test's local there
  // was a write into a dead stack frame: TSan saw it crash the main thread).
  void TearDown() override {
    released = true;  // a workflow waiting for it would hold the shutdown
    rt.reset();
  }
  // rt becomes a runtime whose next commit, once `armed`, goes in but reports
  // a lost connection (the primary died after the commit: a failover).
  void use_losing_answers(const std::string& executor);
  std::atomic<bool> armed{false};
  std::atomic<bool> released{false};  // for workflows that wait for the test
};

keel::RuntimeConfig short_lease(const keel::testing::TempDir& dir, const std::string& executor) {
  auto c = keel::testing::test_config(dir, executor);
  c.heartbeat_interval = 50ms;
  c.lease_timeout = 400ms;
  return c;
}

using keel::testing::eventually;

void ExecutorsTest::use_losing_answers(const std::string& executor) {
  auto config = short_lease(dir, executor);
  config.fault_hook = [this](std::string_view point) {
    if (point == "checkpoint.after_commit" && armed.exchange(false))
      throw keel::DatabaseError("connection lost after the commit (injected)");
  };
  rt.reset();
  rt = std::make_unique<keel::Runtime>(config);
}

TEST_F(ExecutorsTest, AStoppedExecutorsWorkflowIsTakenOverAndFinishedByALiveOne) {
  auto make = [this](keel::Runtime& r) {
    return r.register_workflow("waiter", [this](keel::Context& ctx) {
      ctx.step("before", [&] { effects.hit("before"); });
      auto msg = ctx.recv<std::string>("go", 60s);
      ctx.step("after", [&] { effects.hit("after"); });
      return msg.value_or("timeout");
    });
  };
  auto a = std::make_unique<keel::Runtime>(short_lease(dir, "a"));
  auto b = std::make_unique<keel::Runtime>(short_lease(dir, "b"));
  auto wa = make(*a);
  make(*b);
  a->launch();
  b->launch();
  (void)a->start(wa, {.workflow_id = "w1"});
  ASSERT_TRUE(eventually([&] { return effects.count("before") == 1; }));
  a.reset();  // a clean shutdown releases a's lease: b takes w1 over at its next heartbeat
  ASSERT_TRUE(eventually([&] { return b->get_workflow("w1")->executor_id == "b"; }));
  for (const auto& e : b->list_executors()) EXPECT_NE(e.executor_id, "a") << "a's row is gone after the takeover";
  b->send("w1", std::string("hi"), "go");
  EXPECT_EQ(b->retrieve<std::string>("w1").result_for(10s), "hi");
  EXPECT_EQ(effects.count("before"), 1);  // replayed from its checkpoint, not run again
  EXPECT_EQ(effects.count("after"), 1);
  EXPECT_EQ(b->get_workflow("w1")->recovery_attempts, 1);
}

TEST_F(ExecutorsTest, ALaunchedRuntimeHoldsALeaseOnItsExecutorId) {
  auto r = std::make_unique<keel::Runtime>(short_lease(dir, "holder"));
  r->launch();
  auto rows = r->list_executors();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].executor_id, "holder");
  int64_t first = rows[0].heartbeat_at_ms;
  ASSERT_TRUE(eventually([&] { return r->list_executors().at(0).heartbeat_at_ms > first; })) << "no heartbeat";
  r->shutdown();
  EXPECT_EQ(r->list_executors().at(0).heartbeat_at_ms, 0) << "a clean shutdown releases the lease";
}

// A start whose commit went in but whose answer was lost (the primary died
// after the commit: a failover) throws; the row is there, PENDING on this
// executor, and nobody may ask for that ID again. The heartbeat reads such
// starts back and runs them (found by the failover test: such a workflow
// stayed PENDING until the process restarted).
TEST_F(ExecutorsTest, AStartWhoseCommitWentInButWhoseAnswerWasLostRunsAnyway) {
  use_losing_answers("unsure");
  auto wf = rt->register_workflow("once", [this](keel::Context& ctx) {
    return ctx.step("work", [this] {
      effects.hit("work");
      return 5;
    });
  });
  rt->launch();
  armed = true;
  EXPECT_THROW((void)rt->start(wf, {.workflow_id = "lost-answer"}), keel::DatabaseError);
  ASSERT_TRUE(rt->get_workflow("lost-answer").has_value()) << "the row went in";
  EXPECT_EQ(rt->retrieve<int>("lost-answer").result_for(10s), 5) << "run by the heartbeat, without a restart";
  EXPECT_EQ(effects.count("work"), 1);
}

// Many such starts (an outage under load: every start in flight is one) are
// read back in batches at the next heartbeat, all of them, none run twice.
TEST_F(ExecutorsTest, ManyStartsWithLostAnswersAreReadBackInBatchesAndAllRun) {
  constexpr int kStarts = 1003;  // more than two batches (sysdb::kMaxBatchIds)
  use_losing_answers("unsure-many");
  auto wf = rt->register_workflow("once", [this](keel::Context& ctx) {
    // Commits nothing until every start is made: a commit here would take
    // the fault meant for the next start.
    while (!released) std::this_thread::sleep_for(1ms);
    return ctx.step("work", [this] {
      effects.hit("work");
      return 5;
    });
  });
  rt->launch();
  // The fault goes to the next commit, which is the start's unless a
  // heartbeat's write comes first: that start goes through as usual.
  int lost = 0;
  int started = 0;
  while (lost < kStarts && started < 2 * kStarts) {
    armed = true;
    try {
      (void)rt->start(wf, {.workflow_id = "lost-" + std::to_string(started++)});
    } catch (const keel::DatabaseError&) {
      ++lost;
    }
  }
  ASSERT_EQ(lost, kStarts);
  armed = false;
  released = true;
  for (int i = 0; i < started; ++i)
    ASSERT_EQ(rt->retrieve<int>("lost-" + std::to_string(i)).result_for(30s), 5) << i;
  EXPECT_EQ(effects.count("work"), started) << "each ran once";
}

// A process that stalled past its lease may come back to find its executor
// id held by a new process (restarted meanwhile by a supervisor). Every
// workflow of the id is the new holder's then, so the old process must start,
// dequeue and resume nothing more (two processes would run them) and say so:
// its start-like calls throw RuntimeStateError.
TEST_F(ExecutorsTest, ASupersededProcessStartsDequeuesAndResumesNothingMore) {
  auto config = short_lease(dir, "x");
  config.lease_timeout = 10s;  // the new holder's row stays live without renewals
  rt.reset();
  rt = std::make_unique<keel::Runtime>(config);
  rt->register_queue({.name = "jobs"});
  auto waiter = rt->register_workflow("waiter", [this](keel::Context& ctx) {
    ctx.step("before", [&] { effects.hit("before"); });
    auto msg = ctx.recv<std::string>("go", 60s);
    ctx.step("after", [&] { effects.hit("after"); });
    return msg.value_or("timeout");
  });
  auto job = rt->register_workflow("job", [this](keel::Context& ctx) {
    return ctx.step("job", [&] {
      effects.hit("job");
      return 1;
    });
  });
  rt->launch();
  (void)rt->start(waiter, {.workflow_id = "w1"});
  ASSERT_TRUE(eventually([&] { return effects.count("before") == 1; }));

  // The new holder takes the id (as a launch does from a holder known dead).
  auto rows = rt->list_executors();
  ASSERT_EQ(rows.size(), 1u);
  auto other = keel::sysdb::open_system_database(config);
  ASSERT_FALSE(other->acquire_lease({"x", config.application_version, "elsewhere:1", 0, 0}, 10'000, rows[0].holder))
      << "the lease moved to the new holder";

  int attempt = 0;
  std::string refused;
  ASSERT_TRUE(eventually([&] {
    refused = "late-" + std::to_string(attempt++);  // those before the heartbeat noticed run as usual
    try {
      (void)rt->start(job, {.workflow_id = refused});
      return false;
    } catch (const keel::RuntimeStateError& e) {
      EXPECT_NE(std::string(e.what()).find("held by another process (elsewhere:1)"), std::string::npos) << e.what();
      return true;
    }
  })) << "a start is refused";
  EXPECT_FALSE(rt->get_workflow(refused).has_value()) << "the refused start wrote nothing";
  EXPECT_THROW(rt->send("w1", std::string("hi"), "go"), keel::RuntimeStateError);
  const int jobs_before = effects.count("job");

  keel::Client client(config.database_url);
  auto queued = client.enqueue("jobs", "job", {.workflow_id = "queued"});
  client.send("w1", std::string("hi"), "go");
  std::this_thread::sleep_for(1s);  // twenty heartbeats, many polls of the queue
  EXPECT_EQ(rt->get_workflow("queued")->status, keel::WorkflowStatus::Enqueued) << "not dequeued here";
  EXPECT_EQ(effects.count("job"), jobs_before);
  EXPECT_EQ(effects.count("after"), 0) << "w1 is the new holder's: not resumed here";
  auto w1 = rt->get_workflow("w1");
  EXPECT_EQ(w1->status, keel::WorkflowStatus::Pending);
  EXPECT_EQ(w1->executor_id, "x");
}

}  // namespace
