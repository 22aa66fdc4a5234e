// Parked workflows (src/runtime/parking.hpp) and the bounded thread pool:
// waits in recv, sleep, get_event and a child's result give their thread
// back and resume by replay, with the same results as a thread-bound wait.
// Runs on SQLite and (ctest -L postgres) on PostgreSQL.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/runtime_access.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

// Threads of this process, from /proc/self/status.
int process_threads() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

// ThreadSanitizer starts a background thread of its own in a process once
// that process starts a thread (it pushed PostgreSQL's count one over the
// bound below under make tsan-all).
#ifdef __SANITIZE_THREAD__
constexpr int kSanitizerThreads = 1;
#else
constexpr int kSanitizerThreads = 0;
#endif

using keel::testing::eventually;

class ParkingTest : public keel::testing::RuntimeTest {
 protected:
  // A runtime that parks at the first blocking wait, on `threads` threads.
  void use_config(int threads, std::chrono::milliseconds park_after = 0ms) {
    auto cfg = keel::testing::test_config(dir);
    cfg.max_workflow_threads = threads;
    cfg.park_after = park_after;
    rt.reset();
    rt = std::make_unique<keel::Runtime>(cfg);
  }
  size_t parked() { return keel::detail::RuntimeAccess::engine(*rt).counters().parked; }
  bool parked_soon(size_t n) {
    return eventually([&] { return parked() == n; });
  }
  // One thread; `parent` starts the child (1 + the int it receives on "in"),
  // publishes its ID as event "child" and waits for its result. Both park;
  // the child then gets 20. Returns the parent's result.
  int run_parent_parked_on_its_child(std::function<int(keel::Context&, const keel::Workflow<int, int>&)> parent) {
    use_config(1);
    auto child = rt->register_workflow("child", [](keel::Context& ctx, int x) {
      return x + ctx.recv<int>("in", 60s).value_or(-1000);
    });
    rt->register_workflow("parent", [parent, child](keel::Context& ctx) { return parent(ctx, child); });
    rt->launch();
    auto h = rt->start(keel::Workflow<int>("parent"), {.workflow_id = "p"});
    auto child_id = rt->get_event<std::string>("p", "child", 30s);
    EXPECT_TRUE(child_id.has_value());
    EXPECT_TRUE(parked_soon(2)) << "parent and child should both wait without a thread";
    rt->send(child_id.value_or("none"), 20, "in");
    return h.result_for(30s);
  }
  // Workflow `id` waits in recv("go") and then hits effect "after", which the
  // cancellation tests count to prove it never ran further. The caller
  // asserts that it parked: an ASSERT cannot sit in a function returning a value.
  keel::Handle<int> start_waiting_for_go(const std::string& id) {
    use_config(2);
    auto wf = rt->register_workflow("wait", [this](keel::Context& ctx) {
      auto m = ctx.recv<int>("go", 60s);
      ctx.step("after", [&] { effects.hit("after"); });
      return m.value_or(-1);
    });
    rt->launch();
    return rt->start(wf, {.workflow_id = id});
  }
};

TEST_F(ParkingTest, ThousandsParkedInRecvOnFourThreadsAllCompleteWithTheirOwnMessages) {
  constexpr int kThreads = 4;
  // PostgreSQL commits cost milliseconds here (fsync), and only 5 threads
  // write: fewer workflows keep the test within its time limit.
  const int kWorkflows = keel::testing::testing_on_postgres() ? 300 : 2000;
  use_config(kThreads);
  auto wf = rt->register_workflow("checkout", [this](keel::Context& ctx, int n) {
    ctx.step("reserve", [&] { effects.hit("reserve"); });
    auto first = ctx.recv<int>("payment", 120s);
    auto second = ctx.recv<int>("payment", 120s);
    ctx.step("ship", [&] { effects.hit("ship"); });
    return std::vector<int>{n, first.value_or(-1), second.value_or(-1)};
  });
  rt->launch();
  std::vector<keel::Handle<std::vector<int>>> hs;
  for (int i = 0; i < kWorkflows; ++i) hs.push_back(rt->start(wf, {.workflow_id = "c" + std::to_string(i)}, i));
  ASSERT_TRUE(parked_soon(kWorkflows)) << parked() << " parked";
  EXPECT_LE(keel::detail::RuntimeAccess::engine(*rt).counters().pool_threads, static_cast<size_t>(kThreads));
  // main + pool + the parking lot's timer thread + the debouncer thread
  // (keel/debounce.hpp); a little slack for the test framework; and TSan's
  // own background thread in a ThreadSanitizer build.
  EXPECT_LE(process_threads(), kThreads + 5 + kSanitizerThreads) << "threads while " << kWorkflows << " workflows wait";
  for (int i = kWorkflows - 1; i >= 0; --i) rt->send("c" + std::to_string(i), i * 10, "payment");
  for (int i = 0; i < kWorkflows; ++i) rt->send("c" + std::to_string(i), i * 10 + 1, "payment");
  for (int i = 0; i < kWorkflows; ++i)
    ASSERT_EQ(hs[static_cast<size_t>(i)].result_for(120s), (std::vector<int>{i, i * 10, i * 10 + 1})) << i;
  EXPECT_EQ(effects.count("reserve"), kWorkflows);  // replays do not run recorded steps again
  EXPECT_EQ(effects.count("ship"), kWorkflows);
  EXPECT_LE(keel::detail::RuntimeAccess::engine(*rt).counters().pool_threads, static_cast<size_t>(kThreads));
  EXPECT_EQ(parked(), 0u);
}

TEST_F(ParkingTest, ParkedRecvTimesOutAtItsDurableDeadline) {
  use_config(2);
  auto wf = rt->register_workflow("wait", [](keel::Context& ctx) { return ctx.recv<int>("never", 700ms).value_or(-1); });
  rt->launch();
  auto t0 = std::chrono::steady_clock::now();
  auto h = rt->start(wf, {.workflow_id = "w"});
  ASSERT_TRUE(parked_soon(1));
  EXPECT_EQ(h.result_for(30s), -1);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 650ms);
  EXPECT_LT(waited, 20s);
  auto steps = rt->list_steps("w");
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].name, "keel.deadline");
  EXPECT_EQ(steps[1].name, "keel.recv");
}

TEST_F(ParkingTest, SleepParksAndWakesAfterItsDuration) {
  use_config(2);
  auto wf = rt->register_workflow("nap", [this](keel::Context& ctx) {
    ctx.sleep(600ms);
    ctx.step("after", [&] { effects.hit("after"); });
    return 1;
  });
  rt->launch();
  auto t0 = std::chrono::steady_clock::now();
  auto h = rt->start(wf, {.workflow_id = "n"});
  ASSERT_TRUE(parked_soon(1));
  EXPECT_EQ(h.result_for(30s), 1);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 550ms);
  EXPECT_EQ(effects.count("after"), 1);
}

TEST_F(ParkingTest, ParkedWorkflowCancelledInProcessDoesNotRunFurther) {
  auto h = start_waiting_for_go("x");
  ASSERT_TRUE(parked_soon(1));
  EXPECT_TRUE(rt->cancel("x"));
  EXPECT_EQ(parked(), 0u);
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
  rt->send("x", 1, "go");
  std::this_thread::sleep_for(300ms);  // what it would take a woken workflow to run its step
  EXPECT_EQ(effects.count("after"), 0);
  EXPECT_EQ(h.status(), keel::WorkflowStatus::Cancelled);
}

TEST_F(ParkingTest, ParkedWorkflowCancelledByAnotherProcessIsDropped) {
  auto h = start_waiting_for_go("y");
  ASSERT_TRUE(parked_soon(1));
  {
    // Another process (another executor) cancels it through the database:
    // no in-process flag reaches this runtime; its sweep must notice.
    keel::Runtime other(keel::testing::test_config(dir, "other-executor"));
    EXPECT_TRUE(other.cancel("y"));
  }
  ASSERT_TRUE(parked_soon(0)) << "the parked entry was never dropped";
  rt->send("y", 1, "go");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(effects.count("after"), 0);
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
}

// A wake-up reads the workflow's row before the replay (the parking lot keeps
// only its ID, name and creation time): one cancelled by another process and
// woken by its timer before the sweep noticed is not replayed at all.
TEST_F(ParkingTest, AWorkflowCancelledElsewhereAndWokenByItsTimerRunsNothingMore) {
  auto cfg = keel::testing::test_config(dir);
  cfg.max_workflow_threads = 2;
  cfg.park_after = 0ms;
  cfg.poll_interval = 1s;  // the sweep (25 polls) comes long after the timer
  rt.reset();
  rt = std::make_unique<keel::Runtime>(cfg);
  auto wf = rt->register_workflow("timed", [this](keel::Context& ctx) {
    effects.hit("run");  // once per run of the body: the first run, and each replay
    auto got = ctx.recv<int>("go", 400ms);
    ctx.step("after", [&] { effects.hit("after"); });
    return got.value_or(-1);
  });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "t"});
  ASSERT_TRUE(parked_soon(1));
  {
    keel::Runtime other(keel::testing::test_config(dir, "other-executor"));
    EXPECT_TRUE(other.cancel("t"));
  }
  ASSERT_TRUE(parked_soon(0)) << "the timer fired";
  std::this_thread::sleep_for(300ms);  // what it would take a woken workflow to run its step
  EXPECT_EQ(effects.count("run"), 1) << "woken, it read its row and did not replay";
  EXPECT_EQ(effects.count("after"), 0);
  EXPECT_EQ(h.status(), keel::WorkflowStatus::Cancelled);
}

// An ID cancelled and deleted by another process while parked here, then
// started here again, is a new row: it runs with its own inputs, not the
// parked run's (the wake-up compares the row's creation time).
TEST_F(ParkingTest, AnIdDeletedElsewhereAndStartedAgainRunsTheNewRowsInputs) {
  use_config(2);
  auto wf = rt->register_workflow("echo", [](keel::Context& ctx, int x) {
    return x * 100 + ctx.recv<int>("go", 60s).value_or(-1);
  });
  rt->launch();
  (void)rt->start(wf, {.workflow_id = "e"}, 1);
  ASSERT_TRUE(parked_soon(1));
  {
    keel::Runtime other(keel::testing::test_config(dir, "other-executor"));
    EXPECT_TRUE(other.cancel("e"));
    other.delete_workflow("e");
  }
  std::this_thread::sleep_for(5ms);  // a creation time of its own (milliseconds)
  auto h = rt->start(wf, {.workflow_id = "e"}, 2);
  rt->send("e", 7, "go");
  EXPECT_EQ(h.result_for(30s), 207);
}

TEST_F(ParkingTest, MessageFromAnotherProcessWakesAParkedRecv) {
  use_config(2);
  auto wf = rt->register_workflow("wait", [](keel::Context& ctx) { return ctx.recv<int>("go", 60s).value_or(-1); });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "z"});
  ASSERT_TRUE(parked_soon(1));
  {
    // No in-process notify: only the parking lot's poll can see it.
    keel::Runtime other(keel::testing::test_config(dir, "other-executor"));
    other.register_workflow("unused", [](keel::Context&) { return 0; });
    other.launch();
    other.send("z", 42, "go");
  }
  EXPECT_EQ(h.result_for(30s), 42);
}

TEST_F(ParkingTest, ParentParksOnItsChildsResultSoOneThreadIsEnough) {
  EXPECT_EQ(run_parent_parked_on_its_child([](keel::Context& ctx, const keel::Workflow<int, int>& child) {
              auto h = ctx.start_child(child, 1);
              ctx.set_event("child", h.id());
              return h.result() * 2;
            }),
            42);
}

// A step's checkpoint is written by the next operation; a wait on a child's
// result is none, yet it may park (unwind and later replay): the step's
// checkpoint is written before, so the replay does not run the step again.
TEST_F(ParkingTest, AStepRightBeforeParkingOnAChildsResultDoesNotRunAgain) {
  EXPECT_EQ(run_parent_parked_on_its_child([this](keel::Context& ctx, const keel::Workflow<int, int>& child) {
              auto h = ctx.start_child(child, 1);
              ctx.set_event("child", h.id());
              int a = ctx.step("just before", [this] {
                effects.hit("step");
                return 100;
              });
              return h.result() * 2 + a;
            }),
            142);
  EXPECT_EQ(effects.count("step"), 1);
}

TEST_F(ParkingTest, ParkedGetEventWakesWhenTheEventIsSet) {
  use_config(2);
  auto sub = rt->register_workflow("sub", [](keel::Context& ctx) {
    return ctx.get_event<int>("pub", "answer", 60s).value_or(-1);
  });
  auto pub = rt->register_workflow("pub", [](keel::Context& ctx) {
    ctx.recv<int>("go", 60s);
    ctx.set_event("answer", 42);
    return 0;
  });
  rt->launch();
  auto hs = rt->start(sub, {.workflow_id = "sub"});
  auto hp = rt->start(pub, {.workflow_id = "pub"});
  ASSERT_TRUE(parked_soon(2));
  rt->send("pub", 1, "go");
  EXPECT_EQ(hs.result_for(30s), 42);
  EXPECT_EQ(hp.result_for(30s), 0);
}

TEST_F(ParkingTest, ParkedWorkflowsStayPendingAtShutdownAndResumeAfterRestart) {
  auto reg = [this] {
    return rt->register_workflow("wait", [this](keel::Context& ctx) {
      ctx.step("before", [&] { effects.hit("before"); });
      return ctx.recv<int>("go", 60s).value_or(-1);
    });
  };
  use_config(2);
  reg();
  rt->launch();
  for (int i = 0; i < 20; ++i) (void)rt->start(keel::Workflow<int>("wait"), {.workflow_id = "r" + std::to_string(i)});
  ASSERT_TRUE(parked_soon(20));
  use_config(2);  // shutdown, then a new runtime on the same database
  reg();
  auto report = rt->launch();
  EXPECT_EQ(report.recovered.size(), 20u);
  ASSERT_TRUE(parked_soon(20));
  for (int i = 0; i < 20; ++i) rt->send("r" + std::to_string(i), i, "go");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(rt->retrieve<int>("r" + std::to_string(i)).result_for(30s), i);
  EXPECT_EQ(effects.count("before"), 20);
}

// A fresh start() runs the workflow from the top, not as a replay: it waits
// park_after in its thread before parking, where a replay (recovery, a start
// of an ID already PENDING, or a start mistaken for a duplicate) parks at its
// first blocking wait. After a restart the same wait parks at once.
TEST_F(ParkingTest, AFreshStartIsNoReplayItWaitsInItsThreadBeforeParking) {
  auto reg = [this] {
    return rt->register_workflow("fresh", [this](keel::Context& ctx) {
      ctx.step("before", [&] { effects.hit("before"); });
      return ctx.recv<int>("go", 60s).value_or(-1);
    });
  };
  use_config(2, /*park_after=*/10min);
  reg();
  rt->launch();
  (void)rt->start(keel::Workflow<int>("fresh"), {.workflow_id = "f"});
  ASSERT_TRUE(eventually([&] { return effects.count("before") == 1; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(parked(), 0u) << "a fresh start parked at once, as only a replay does";
  use_config(2, /*park_after=*/10min);  // restart: the workflow is recovered by replay
  reg();
  EXPECT_EQ(rt->launch().recovered.size(), 1u);
  ASSERT_TRUE(parked_soon(1));
  rt->send("f", 7, "go");
  EXPECT_EQ(rt->retrieve<int>("f").result_for(30s), 7);
  EXPECT_EQ(effects.count("before"), 1);
}

TEST_F(ParkingTest, ParkingCanBeTurnedOffAndThreadCountIsValidated) {
  auto cfg = keel::testing::test_config(dir);
  cfg.max_workflow_threads = 0;
  EXPECT_THROW(keel::Runtime bad(cfg), keel::ConfigError);
  cfg.max_workflow_threads = 2;
  cfg.park_after = -1ms;
  EXPECT_THROW(keel::Runtime bad(cfg), keel::ConfigError);
  cfg.park_after = 0ms;
  cfg.park_waiting_workflows = false;
  rt.reset();
  rt = std::make_unique<keel::Runtime>(cfg);
  auto wf = rt->register_workflow("wait", [](keel::Context& ctx) { return ctx.recv<int>("go", 60s).value_or(-1); });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "t"});
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(parked(), 0u);
  rt->send("t", 5, "go");
  EXPECT_EQ(h.result_for(30s), 5);
}

}  // namespace
