// The wall clock stepping by an hour (an NTP correction, `date -s`) while
// workflows sleep and wait, through the engine's clock seam
// (common/clock.hpp: every wall-clock reading of the engine). What
// docs/guarantees.md ("The wall clock") states, tested: durable timers follow
// the wall clock, so a step forward fires the timers it passes (at once, each
// exactly once) and a step backward delays them by the step; no timer is lost
// or fires twice, no message is lost, and parked workflows behave the same.
#include <gtest/gtest.h>

#include <atomic>

#include "common/clock.hpp"
#include "support/log_capture.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::RuntimeTest;

namespace {

// Steps the engine's wall clock for the life of the guard, then back.
class ClockStep {
 public:
  explicit ClockStep(std::chrono::milliseconds by) { keel::detail::set_wall_clock_offset(by); }
  ~ClockStep() { keel::detail::set_wall_clock_offset(0ms); }
  void to(std::chrono::milliseconds by) { keel::detail::set_wall_clock_offset(by); }
  ClockStep(const ClockStep&) = delete;
  ClockStep& operator=(const ClockStep&) = delete;
};

class ClockTest : public RuntimeTest {
 protected:
  // A sleeper: `after` counts how often the code after its sleep ran.
  keel::Workflow<int> sleeper(std::chrono::milliseconds nap) {
    return rt->register_workflow("sleeper", [this, nap](keel::Context& ctx) {
      ctx.step("before", [this] {
        effects.hit("before");
        return 0;
      });
      ctx.sleep(nap);
      return ctx.step("after", [this] {
        effects.hit("after");
        return 1;
      });
    });
  }

  bool sleeping(const std::string& id) {
    return keel::testing::eventually([&] { return rt->list_steps(id).size() >= 2; }, 10s);  // before + the wake time
  }
};

TEST_F(ClockTest, AStepForwardFiresTheSleepsItPassesOnce) {
  auto wf = sleeper(10min);
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "fwd"});
  ASSERT_TRUE(sleeping("fwd"));
  auto t0 = std::chrono::steady_clock::now();
  ClockStep step(1h);
  EXPECT_EQ(h.result_for(10s), 1) << "a sleep of 10 min ends once the clock passes its wake time";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(effects.count("before"), 1);
  EXPECT_EQ(effects.count("after"), 1);
}

TEST_F(ClockTest, AStepBackwardDelaysASleepByTheStepAndLosesNothing) {
  auto wf = sleeper(300ms);
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "back"});
  ASSERT_TRUE(sleeping("back"));
  ClockStep step(-1h);
  std::this_thread::sleep_for(1500ms);  // five times the nap, on the steady clock
  EXPECT_EQ(rt->get_workflow("back")->status, keel::WorkflowStatus::Pending)
      << "the wake time is on the wall clock: an hour away again";
  EXPECT_EQ(effects.count("after"), 0);
  step.to(0ms);  // the clock comes back (e.g. corrected again)
  EXPECT_EQ(h.result_for(10s), 1);
  EXPECT_EQ(effects.count("before"), 1);
  EXPECT_EQ(effects.count("after"), 1);
}

// A parked sleeper (park_after 0) is woken by the parking lot, not by its
// own thread: the same rule holds.
TEST_F(ClockTest, AParkedSleeperFollowsTheClockToo) {
  auto config = keel::testing::test_config(dir);
  config.park_after = 0ms;
  rt.reset();
  rt = std::make_unique<keel::Runtime>(config);
  auto wf = sleeper(10min);
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "parked"});
  ASSERT_TRUE(sleeping("parked"));
  std::this_thread::sleep_for(300ms);  // parked by now
  ClockStep step(1h);
  EXPECT_EQ(h.result_for(10s), 1);
  EXPECT_EQ(effects.count("before"), 1) << "the replay after parking reads 'before', it does not run it";
  EXPECT_EQ(effects.count("after"), 1);
}

TEST_F(ClockTest, ARecvTimesOutOnceAfterAStepForwardAndALaterMessageWaits) {
  auto wf = rt->register_workflow("patient", [this](keel::Context& ctx) {
    auto m = ctx.recv<int>("x", 10min);
    effects.hit(m ? "got" : "timed out");
    return m.value_or(-1);
  });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "recv"});
  std::this_thread::sleep_for(200ms);  // waiting in recv
  ClockStep step(1h);
  EXPECT_EQ(h.result_for(10s), -1);
  EXPECT_EQ(effects.count("timed out"), 1);
  EXPECT_EQ(effects.count("got"), 0);
  rt->send("recv", 5, "x");  // after the timeout: stays in the inbox
  auto inbox = rt->list_messages("recv");
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_FALSE(inbox[0].consumed);
}

TEST_F(ClockTest, AStepBackwardDoesNotStopAMessageFromArriving) {
  auto wf = rt->register_workflow("waiting", [](keel::Context& ctx) { return ctx.recv<int>("x", 2s).value_or(-1); });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "msg"});
  std::this_thread::sleep_for(200ms);
  ClockStep step(-1h);
  rt->send("msg", 42, "x");
  EXPECT_EQ(h.result_for(10s), 42);
}

// A workflow's timeout is a deadline on the wall clock, as sleeps are.
TEST_F(ClockTest, AStepForwardPastAWorkflowsDeadlineCancelsIt) {
  auto wf = sleeper(10min);
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "deadline", .timeout = 30min});
  ASSERT_TRUE(sleeping("deadline"));
  ClockStep step(1h);
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
  EXPECT_EQ(rt->get_workflow("deadline")->status, keel::WorkflowStatus::Cancelled);
  EXPECT_EQ(effects.count("after"), 0);
}

// Leases: an executor is dead when its peers watched its heartbeat value
// stand still for lease_timeout of their monotonic clocks, not when the
// value is older than lease_timeout by a wall clock. So a step forward far
// larger than the lease moves nothing: both executors stay live and the
// waiting workflow stays where it is (before the fix, on SQLite, whichever
// executor ticked first after the step took the other over).
TEST_F(ClockTest, AStepForwardPastTheLeaseMovesNothing) {
  auto lease = [this](const std::string& executor) {
    auto c = keel::testing::test_config(dir, executor);
    c.heartbeat_interval = 50ms;
    c.lease_timeout = 400ms;
    return c;
  };
  auto make = [this](keel::Runtime& r) {
    return r.register_workflow("waiter", [this](keel::Context& ctx) {
      ctx.step("before", [&] { effects.hit("before"); });
      auto msg = ctx.recv<std::string>("go", 10h);
      ctx.step("after", [&] { effects.hit("after"); });
      return msg.value_or("timeout");
    });
  };
  rt.reset();
  keel::testing::LogCapture log(keel::LogFormat::Text);
  auto a = std::make_unique<keel::Runtime>(lease("a"));
  auto b = std::make_unique<keel::Runtime>(lease("b"));
  auto wa = make(*a);
  make(*b);
  a->launch();
  b->launch();
  (void)a->start(wa, {.workflow_id = "w1"});
  ASSERT_TRUE(keel::testing::eventually([&] { return effects.count("before") == 1; }, 10s));
  ClockStep step(1h);
  std::this_thread::sleep_for(1200ms);  // three leases of watching after the step
  for (const auto& line : log.lines()) {
    EXPECT_EQ(line.find("lease lost"), std::string::npos) << line;
    EXPECT_EQ(line.find("took over"), std::string::npos) << line;
  }
  EXPECT_EQ(b->get_workflow("w1")->executor_id, "a");
  a->send("w1", std::string("hi"), "go");
  auto h = a->retrieve<std::string>("w1");
  EXPECT_EQ(h.result_for(10s), "hi");
  EXPECT_EQ(effects.count("before"), 1) << "recorded: replayed, not run again";
  EXPECT_EQ(effects.count("after"), 1);
}

}  // namespace
