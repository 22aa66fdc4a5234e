// Recovery, cancellation, resume, timeouts, child workflows, dead letters,
// non-determinism.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>

#include "support/runtime_fixture.hpp"
#include "sysdb/system_database.hpp"

using namespace std::chrono_literals;
using keel::testing::RuntimeTest;

namespace {

using LifecycleTest = RuntimeTest;

void wait_for_steps(keel::Runtime& rt, const std::string& id, size_t n) {
  for (int i = 0; i < 500 && rt.list_steps(id).size() < n; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_GE(rt.list_steps(id).size(), n);
}

TEST_F(LifecycleTest, RecoveryResumesPendingWorkflowsWithoutRerunningSteps) {
  auto make = [this](keel::Runtime& r) {
    return r.register_workflow("order", [this](keel::Context& ctx, int qty) {
      int reserved = ctx.step("reserve", [&] {
        effects.hit("reserve");
        return qty;
      });
      auto paid = ctx.recv<bool>("paid", 30s);
      ctx.step("ship", [&] { effects.hit("ship"); });
      return paid.value_or(false) ? reserved : -1;
    });
  };
  make(*rt);
  rt->launch();
  (void)rt->start(keel::Workflow<int, int>("order"), {.workflow_id = "o1"}, 3);
  wait_for_steps(*rt, "o1", 1);
  restart();
  make(*rt);
  auto report = rt->launch();
  ASSERT_EQ(report.recovered, std::vector<std::string>{"o1"});
  rt->send("o1", true, "paid");
  EXPECT_EQ(rt->retrieve<int>("o1").result_for(10s), 3);
  EXPECT_EQ(effects.count("reserve"), 1);
  EXPECT_EQ(effects.count("ship"), 1);
  EXPECT_EQ(rt->get_workflow("o1")->recovery_attempts, 1);
}

// Recovery reads and counts in batches (sysdb::kMaxBatchIds): three of them
// here, the last one partial; a name no longer registered is reported and
// left as it was, its attempts not counted.
TEST_F(LifecycleTest, RecoveryResumesEveryPendingWorkflowAcrossBatches) {
  auto cfg = keel::testing::test_config(dir);
  cfg.park_after = 0ms;  // parked at once: no thread held per workflow
  const int workflows = static_cast<int>(2 * keel::sysdb::kMaxBatchIds + 3);
  auto make_rt = [&](bool with_retired) {
    auto r = std::make_unique<keel::Runtime>(cfg);
    r->register_workflow("waiter", [](keel::Context& ctx) { return ctx.recv<int>("x", 300s).value_or(-1); });
    if (with_retired) r->register_workflow("retired", [](keel::Context& ctx) { return ctx.recv<int>("x", 300s).value_or(-1); });
    return r;
  };
  rt.reset();
  {
    auto r = make_rt(true);
    r->launch();
    for (int i = 0; i < workflows; ++i) (void)r->start(keel::Workflow<int>("waiter"), {.workflow_id = "w-" + std::to_string(i)});
    (void)r->start(keel::Workflow<int>("retired"), {.workflow_id = "retired"});
  }
  auto r = make_rt(false);
  auto report = r->launch();
  std::set<std::string> expected;
  for (int i = 0; i < workflows; ++i) expected.insert("w-" + std::to_string(i));
  EXPECT_EQ(report.recovered.size(), expected.size());  // each once
  EXPECT_EQ(std::set<std::string>(report.recovered.begin(), report.recovered.end()), expected);
  ASSERT_EQ(report.not_recovered.size(), 1u);
  EXPECT_EQ(report.not_recovered[0].workflow_id, "retired");
  EXPECT_EQ(r->get_workflow("retired")->recovery_attempts, 0);
  EXPECT_EQ(r->get_workflow("retired")->status, keel::WorkflowStatus::Pending);
  for (int i : {0, workflows / 2, workflows - 1}) {
    const std::string id = "w-" + std::to_string(i);
    EXPECT_EQ(r->get_workflow(id)->recovery_attempts, 1) << id;
    r->send(id, i, "x");
    EXPECT_EQ(r->retrieve<int>(id).result_for(30s), i) << id;
  }
}

TEST_F(LifecycleTest, RecoveryOnlyTakesThisExecutorsWorkflows) {
  auto make = [](keel::Runtime& r) {
    return r.register_workflow("park", [](keel::Context& ctx) { return ctx.recv<int>("x", 30s).value_or(0); });
  };
  make(*rt);
  rt->launch();
  (void)rt->start(keel::Workflow<int>("park"), {.workflow_id = "mine"});
  wait_for_steps(*rt, "mine", 1);
  restart("another-executor");
  make(*rt);
  EXPECT_TRUE(rt->launch().recovered.empty());
  EXPECT_EQ(rt->get_workflow("mine")->status, keel::WorkflowStatus::Pending);
}

TEST_F(LifecycleTest, CancelStopsAWaitingWorkflowAndResumeFinishesIt) {
  rt->register_workflow("cancellable", [this](keel::Context& ctx) {
    ctx.step("before", [&] { effects.hit("before"); });
    auto v = ctx.recv<int>("go", 30s);
    ctx.step("after", [&] { effects.hit("after"); });
    return v.value_or(-1);
  });
  rt->launch();
  auto h = rt->start(keel::Workflow<int>("cancellable"), {.workflow_id = "c1"});
  wait_for_steps(*rt, "c1", 2);  // 'before' and the recv deadline
  EXPECT_TRUE(rt->cancel("c1"));
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
  EXPECT_EQ(h.status(), keel::WorkflowStatus::Cancelled);
  EXPECT_FALSE(rt->cancel("c1"));  // already terminal
  EXPECT_EQ(effects.count("after"), 0);

  EXPECT_TRUE(rt->resume("c1"));
  rt->send("c1", 9, "go");
  EXPECT_EQ(h.result_for(10s), 9);
  EXPECT_EQ(effects.count("before"), 1);
  EXPECT_EQ(effects.count("after"), 1);
  EXPECT_FALSE(rt->resume("c1"));  // SUCCESS is not resumable
}

TEST_F(LifecycleTest, CancelIsObservedAtTheNextStep) {
  // Outlive the runtime: the step may still run after the test body.
  static std::atomic<bool> in_step, release;
  in_step = false;
  release = false;
  rt->register_workflow("long", [this](keel::Context& ctx) {
    ctx.step("slow", [&] {
      in_step = true;
      while (!release) std::this_thread::sleep_for(1ms);
    });
    ctx.step("next", [&] { effects.hit("next"); });
    return 0;
  });
  rt->launch();
  auto h = rt->start(keel::Workflow<int>("long"), {.workflow_id = "l1"});
  while (!in_step) std::this_thread::sleep_for(1ms);
  bool cancelled = rt->cancel("l1");
  release = true;
  EXPECT_TRUE(cancelled);
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
  rt.reset();  // waits for the execution to unwind
  EXPECT_EQ(effects.count("next"), 0);
}

TEST_F(LifecycleTest, WorkflowTimeoutCancelsIt) {
  rt->register_workflow("slowpoke", [](keel::Context& ctx) {
    ctx.recv<int>("never", 30s);
    return 0;
  });
  rt->launch();
  auto t0 = std::chrono::steady_clock::now();
  auto h = rt->start(keel::Workflow<int>("slowpoke"), {.workflow_id = "t1", .timeout = 300ms});
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(h.status(), keel::WorkflowStatus::Cancelled);
  EXPECT_TRUE(rt->get_workflow("t1")->deadline_epoch_ms.has_value());
}

TEST_F(LifecycleTest, ChildWorkflowsStartOnceAndReturnResults) {
  auto child = rt->register_workflow("child", [this](keel::Context& ctx, int x) {
    ctx.step("work", [&] { effects.hit("child-work"); });
    return x * 10;
  });
  rt->register_workflow("parent", [this, child](keel::Context& ctx) {
    auto h1 = ctx.start_child(child, 1);
    auto h2 = ctx.start_child(child, 2);
    effects.hit("parent-body");
    return h1.result() + h2.result();
  });
  rt->launch();
  EXPECT_EQ(rt->start(keel::Workflow<int>("parent"), {.workflow_id = "p"}).result_for(10s), 30);
  EXPECT_EQ(effects.count("child-work"), 2);
  auto c = rt->get_workflow("p-1");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->parent_id, "p");
  EXPECT_EQ(rt->list_steps("p")[0].child_workflow_id, "p-1");
}

TEST_F(LifecycleTest, TooManyRecoveriesMoveTheWorkflowToDeadLetter) {
  auto cfg = keel::testing::test_config(dir);
  cfg.max_recovery_attempts = 2;
  auto make_rt = [&] {
    auto r = std::make_unique<keel::Runtime>(cfg);
    r->register_workflow("poison", [](keel::Context& ctx) { return ctx.recv<int>("x", 60s).value_or(0); });
    return r;
  };
  rt.reset();
  {
    auto r = make_rt();
    r->launch();
    (void)r->start(keel::Workflow<int>("poison"), {.workflow_id = "dl"});
    wait_for_steps(*r, "dl", 1);
  }
  for (int i = 1; i <= 2; ++i) {
    auto r = make_rt();
    EXPECT_EQ(r->launch().recovered.size(), 1u) << "recovery " << i;
  }
  auto r = make_rt();
  auto report = r->launch();
  EXPECT_EQ(report.dead_lettered, std::vector<std::string>{"dl"});
  EXPECT_EQ(r->get_workflow("dl")->status, keel::WorkflowStatus::MaxRecoveryAttemptsExceeded);
  EXPECT_THROW(r->retrieve<int>("dl").result_for(1s), keel::DeadLetterError);
  // Resume resets the count and runs it again.
  EXPECT_TRUE(r->resume("dl"));
  r->send("dl", 5, "x");
  EXPECT_EQ(r->retrieve<int>("dl").result_for(10s), 5);
}

TEST_F(LifecycleTest, ChangedCodeFailsWithANonDeterminismErrorNamingBoth) {
  rt->register_workflow("evolving", [](keel::Context& ctx) {
    ctx.step("charge_card", [] { return 1; });
    return ctx.recv<int>("x", 30s).value_or(0);
  });
  rt->launch();
  (void)rt->start(keel::Workflow<int>("evolving"), {.workflow_id = "nd"});
  wait_for_steps(*rt, "nd", 1);
  restart();
  rt->register_workflow("evolving", [](keel::Context& ctx) {
    ctx.step("send_email", [] { return 1; });
    return 0;
  });
  rt->launch();
  try {
    rt->retrieve<int>("nd").result_for(10s);
    FAIL();
  } catch (const keel::NonDeterminismError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("charge_card"), std::string::npos) << m;
    EXPECT_NE(m.find("send_email"), std::string::npos) << m;
    // The new code's registration, so that the changed code is found at once.
    EXPECT_NE(m.find("registered at " __FILE__ ":"), std::string::npos) << m;
  }
}

TEST_F(LifecycleTest, ShutdownWaitsForTheStepInFlightAndKeepsItsResult) {
  std::atomic<bool> in_step{false};
  auto make = [&](keel::Runtime& r) {
    return r.register_workflow("inflight", [&](keel::Context& ctx) {
      int v = ctx.step("slow", [&] {
        in_step = true;
        std::this_thread::sleep_for(300ms);
        effects.hit("slow");
        return 5;
      });
      ctx.step("second", [&] { effects.hit("second"); });
      return v;
    });
  };
  make(*rt);
  rt->launch();
  (void)rt->start(keel::Workflow<int>("inflight"), {.workflow_id = "f1"});
  while (!in_step) std::this_thread::sleep_for(1ms);
  restart();  // shutdown waits for 'slow', records it, stops before 'second'
  EXPECT_EQ(effects.count("slow"), 1);
  EXPECT_EQ(effects.count("second"), 0);
  make(*rt);
  rt->launch();
  EXPECT_EQ(rt->retrieve<int>("f1").result_for(10s), 5);
  EXPECT_EQ(effects.count("slow"), 1);
  EXPECT_EQ(effects.count("second"), 1);
}

}  // namespace

namespace {

TEST_F(LifecycleTest, CancelFromAnotherProcessInterruptsAWait) {
  rt->register_workflow("waits", [](keel::Context& ctx) { return ctx.recv<int>("x", 60s).value_or(0); });
  rt->launch();
  auto h = rt->start(keel::Workflow<int>("waits"), {.workflow_id = "remote"});
  wait_for_steps(*rt, "remote", 1);
  // A second runtime on the same file stands for another process (CLI, admin).
  keel::Runtime other(keel::testing::test_config(dir, "other-process"));
  other.launch();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(other.cancel("remote"));
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
  // The owner notices within a poll interval or so, not after the 60 s timeout:
  // resume must not wait for the old execution.
  (void)rt->resume("remote");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  rt->send("remote", 3, "x");
  EXPECT_EQ(h.result_for(10s), 3);
}

TEST_F(LifecycleTest, ResumeOfAnUnregisteredNameChangesNothing) {
  rt->register_workflow("known", [](keel::Context& ctx) { return ctx.recv<int>("x", 60s).value_or(0); });
  rt->launch();
  (void)rt->start(keel::Workflow<int>("known"), {.workflow_id = "u1"});
  wait_for_steps(*rt, "u1", 1);
  (void)rt->cancel("u1");
  keel::Runtime other(keel::testing::test_config(dir, "no-code"));
  other.launch();
  EXPECT_THROW((void)other.resume("u1"), keel::UnknownWorkflowError);
  auto info = other.get_workflow("u1");
  EXPECT_EQ(info->status, keel::WorkflowStatus::Cancelled);
  EXPECT_EQ(info->executor_id, "test");
}

}  // namespace
