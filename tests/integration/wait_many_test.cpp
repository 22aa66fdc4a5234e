// ctx.wait_all and ctx.wait_first: waits on many workflows' ends that park
// like any wait (one thread serves a parent and its children), are woken by
// an end in this process or another, and, for wait_first, are recorded so a
// replay answers the same index. Runs on SQLite and (ctest -L postgres) on
// PostgreSQL.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "runtime/runtime_access.hpp"
#include "support/eventually.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::eventually;

namespace {

class WaitManyTest : public keel::testing::RuntimeTest {
 protected:
  // A runtime that parks at the first blocking wait, on `threads` threads.
  void use_parking_config(int threads) {
    auto cfg = keel::testing::test_config(dir);
    cfg.max_workflow_threads = threads;
    cfg.park_after = 0ms;
    rt.reset();
    rt = std::make_unique<keel::Runtime>(cfg);
  }
  size_t parked() { return keel::detail::RuntimeAccess::engine(*rt).counters().parked; }
  // A child that returns the int it receives on "go" (waiting up to an hour).
  keel::Workflow<int> register_child(keel::Runtime& r) {
    return r.register_workflow("child", [](keel::Context& ctx) { return ctx.recv<int>("go", 1h).value_or(-1); });
  }
  bool finished(const std::string& id) {
    return eventually([&] {
      auto w = rt->get_workflow(id);
      return w && w->status == keel::WorkflowStatus::Success;
    });
  }
};

TEST_F(WaitManyTest, WaitAllReturnsOnlyOnceEveryWorkflowEndedAndParksMeanwhile) {
  use_parking_config(1);
  auto child = register_child(*rt);
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    std::vector<keel::Handle<int>> children;
    for (int i = 0; i < 3; ++i) children.push_back(ctx.start_child(child));
    ctx.wait_all(children);
    int sum = 0;
    for (auto& h : children) sum += h.result();
    return sum;
  });
  rt->launch();
  auto h = rt->start(parent, {.workflow_id = "p"});
  ASSERT_TRUE(eventually([&] { return parked() == 4; })) << "one thread: the parent and its three children park";
  rt->send("p-3", 300, "go");  // the last one first: the one wait_all watches
  rt->send("p-1", 1, "go");
  ASSERT_TRUE(finished("p-3"));
  ASSERT_TRUE(finished("p-1"));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(h.status(), keel::WorkflowStatus::Pending) << "p-2 has not ended";
  rt->send("p-2", 20, "go");
  EXPECT_EQ(h.result_for(30s), 321);
}

TEST_F(WaitManyTest, WaitFirstReturnsTheIndexOfTheFirstToEndAndAReplayReturnsItAgain) {
  auto make = [this](keel::Runtime& r) {
    auto child = register_child(r);
    return r.register_workflow("parent", [child](keel::Context& ctx) {
      std::vector<keel::Handle<int>> children;
      for (int i = 0; i < 3; ++i) children.push_back(ctx.start_child(child));
      auto first = static_cast<int>(ctx.wait_first(children));
      ctx.set_event("first", first);
      ctx.recv<int>("finish", 1h);
      return first * 1000 + children[static_cast<size_t>(first)].result();
    });
  };
  auto parent = make(*rt);
  rt->launch();
  (void)rt->start(parent, {.workflow_id = "p"});
  ASSERT_TRUE(eventually([&] { return rt->list_steps("p").size() >= 3; }));
  rt->send("p-2", 7, "go");
  EXPECT_EQ(rt->get_event<int>("p", "first", 30s), 1);
  rt->send("p-1", 5, "go");  // a lower index ends too, before the replay
  ASSERT_TRUE(finished("p-1"));
  restart();
  make(*rt);
  rt->launch();
  rt->send("p", 1, "finish");
  EXPECT_EQ(rt->retrieve<int>("p").result_for(30s), 1007) << "the recorded index, not the lowest ended now";
}

TEST_F(WaitManyTest, AParkedWaitFirstIsWokenByAnyOfItsWorkflows) {
  use_parking_config(1);
  auto child = register_child(*rt);
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    std::vector<keel::Handle<int>> children;
    for (int i = 0; i < 3; ++i) children.push_back(ctx.start_child(child));
    return static_cast<int>(ctx.wait_first(children));
  });
  rt->launch();
  auto h = rt->start(parent, {.workflow_id = "p"});
  ASSERT_TRUE(eventually([&] { return parked() == 4; }));
  rt->send("p-3", 1, "go");
  EXPECT_EQ(h.result_for(30s), 2);
}

TEST_F(WaitManyTest, WaitFirstWithATimeoutAnswersNothingWhenNoneEnds) {
  auto child = register_child(*rt);
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    std::vector<keel::Handle<int>> children{ctx.start_child(child), ctx.start_child(child)};
    auto first = ctx.wait_first(children, 200ms);
    return first ? static_cast<int>(*first) : -1;
  });
  rt->launch();
  EXPECT_EQ(rt->start(parent, {.workflow_id = "p"}).result_for(30s), -1);
  auto steps = rt->list_steps("p");
  ASSERT_EQ(steps.size(), 4u) << "two children, the deadline, the answer";
  EXPECT_EQ(steps[3].name, "keel.wait_first");
}

// The end is written by another executor: no in-process notify reaches this
// runtime (on SQLite the parking lot's sweep finds it; on PostgreSQL also
// the end's NOTIFY).
TEST_F(WaitManyTest, AnEndInAnotherProcessWakesAParkedWait) {
  use_parking_config(2);
  auto parent = rt->register_workflow("parent", [](keel::Context& ctx) {
    ctx.wait_all(std::vector<std::string>{"elsewhere"});
    return static_cast<int>(ctx.wait_first(std::vector<std::string>{"elsewhere"}).value());
  });
  keel::Runtime other(keel::testing::test_config(dir, "other-executor"));
  auto child = register_child(other);
  other.launch();
  (void)other.start(child, {.workflow_id = "elsewhere"});
  rt->launch();
  auto h = rt->start(parent, {.workflow_id = "p"});
  ASSERT_TRUE(eventually([&] { return parked() == 1; }));
  other.send("elsewhere", 1, "go");
  EXPECT_EQ(h.result_for(30s), 0);
}

TEST_F(WaitManyTest, MisuseIsRefusedAtOnce) {
  auto none = rt->register_workflow("none", [](keel::Context& ctx) {
    return static_cast<int>(ctx.wait_first(std::vector<std::string>{}).value_or(9));
  });
  auto self = rt->register_workflow("self", [](keel::Context& ctx) {
    ctx.wait_all(std::vector<std::string>{"other", ctx.workflow_id()});
    return 0;
  });
  auto unknown = rt->register_workflow("unknown", [](keel::Context& ctx) {
    ctx.wait_all(std::vector<std::string>{"no-such-workflow"});
    return 0;
  });
  rt->launch();
  EXPECT_THROW(rt->start(none, {.workflow_id = "a"}).result_for(10s), keel::UsageError);
  EXPECT_THROW(rt->start(self, {.workflow_id = "b"}).result_for(10s), keel::UsageError);
  EXPECT_THROW(rt->start(unknown, {.workflow_id = "c"}).result_for(10s), keel::WorkflowNotFoundError);
}

}  // namespace
