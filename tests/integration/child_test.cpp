// Children started with ChildOptions or enqueued with ctx.enqueue: a chosen
// ID, recorded and replayed; the deadline a child inherits from its parent,
// its own timeout, or none; a deduplicated enqueue recorded.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "support/eventually.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::RuntimeTest;

namespace {

class ChildTest : public RuntimeTest {
 protected:
  // A child that waits for the message "go" (up to an hour) and returns it.
  keel::Workflow<int> register_waiting_child(keel::Runtime& r) {
    return r.register_workflow("waiting_child", [this](keel::Context& ctx) {
      effects.hit("child-start");
      return ctx.recv<int>("go", 1h).value_or(-1);
    });
  }

  bool status_is(const std::string& id, keel::WorkflowStatus status) {
    return keel::testing::eventually(
        [&] {
          auto w = rt->get_workflow(id);
          return w && w->status == status;
        },
        10s);
  }
};

TEST_F(ChildTest, AChildInheritsItsParentsDeadline) {
  auto child = register_waiting_child(*rt);
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    return ctx.start_child(child).result();
  });
  rt->launch();
  auto h = rt->start(parent, {.workflow_id = "p", .timeout = 400ms});
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
  ASSERT_TRUE(status_is("p-1", keel::WorkflowStatus::Cancelled))
      << "the child is cancelled at its parent's deadline, not left waiting an hour";
  EXPECT_EQ(rt->get_workflow("p-1")->deadline_epoch_ms, rt->get_workflow("p")->deadline_epoch_ms);
}

TEST_F(ChildTest, AParentWithoutDeadlineGivesItsChildNone) {
  auto child = register_waiting_child(*rt);
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    return ctx.start_child(child).result();
  });
  rt->launch();
  auto h = rt->start(parent, {.workflow_id = "p"});
  ASSERT_TRUE(keel::testing::eventually([&] { return effects.count("child-start") == 1; }, 10s));
  EXPECT_FALSE(rt->get_workflow("p-1")->deadline_epoch_ms.has_value());
  rt->send("p-1", 7, "go");
  EXPECT_EQ(h.result_for(10s), 7);
}

TEST_F(ChildTest, AChildsOwnTimeoutReplacesItsParentsDeadline) {
  auto child = register_waiting_child(*rt);
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    auto h = ctx.start_child(child, keel::ChildOptions{.timeout = 300ms});
    return h.id();
  });
  rt->launch();
  EXPECT_EQ(rt->start(parent, {.workflow_id = "p", .timeout = 1h}).result_for(10s), "p-1");
  ASSERT_TRUE(status_is("p-1", keel::WorkflowStatus::Cancelled)) << "its own 300 ms, not the parent's hour";
  auto c = rt->get_workflow("p-1");
  ASSERT_TRUE(c->deadline_epoch_ms.has_value());
  EXPECT_LT(*c->deadline_epoch_ms, *rt->get_workflow("p")->deadline_epoch_ms);
}

TEST_F(ChildTest, AChildToldNotToInheritOutlivesItsParentsDeadline) {
  auto child = register_waiting_child(*rt);
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    auto h = ctx.start_child(child, keel::ChildOptions{.inherit_deadline = false});
    return h.result();
  });
  rt->launch();
  auto h = rt->start(parent, {.workflow_id = "p", .timeout = 300ms});
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
  auto c = rt->get_workflow("p-1");
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->deadline_epoch_ms.has_value());
  EXPECT_EQ(c->status, keel::WorkflowStatus::Pending);
  rt->send("p-1", 5, "go");
  EXPECT_EQ(rt->retrieve<int>("p-1").result_for(10s), 5);
}

// A child's cancellation that its parent's code lets through fails the
// parent (ERROR, the child's WorkflowCancelledError recorded). It used to be
// taken for the parent's own cancellation: the parent stayed PENDING for ever.
TEST_F(ChildTest, AParentLettingItsCancelledChildsErrorThroughFailsInsteadOfHanging) {
  auto child = register_waiting_child(*rt);
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    return ctx.start_child(child).result();
  });
  rt->launch();
  auto h = rt->start(parent, {.workflow_id = "p"});
  ASSERT_TRUE(keel::testing::eventually([&] { return effects.count("child-start") == 1; }, 10s));
  EXPECT_TRUE(rt->cancel("p-1"));
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
  auto p = rt->get_workflow("p");
  EXPECT_EQ(p->status, keel::WorkflowStatus::Error);
  ASSERT_TRUE(p->error.has_value());
  EXPECT_NE(p->error->message.find("p-1"), std::string::npos) << p->error->message;
}

TEST_F(ChildTest, AChosenChildIdIsRecordedAndAReplayStartsNoSecondChild) {
  auto make = [this](keel::Runtime& r) {
    auto child = register_waiting_child(r);
    return r.register_workflow("parent", [child](keel::Context& ctx) {
      auto h = ctx.start_child(child, keel::ChildOptions{.workflow_id = "order-42-payment"});
      int got = h.result();
      return got + ctx.recv<int>("bonus", 1h).value_or(0);
    });
  };
  auto parent = make(*rt);
  rt->launch();
  (void)rt->start(parent, {.workflow_id = "order-42"});
  ASSERT_TRUE(keel::testing::eventually([&] { return effects.count("child-start") == 1; }, 10s));
  restart();  // both PENDING: the parent replays its start_child, the child runs again
  make(*rt);
  rt->launch();
  rt->send("order-42-payment", 40, "go");
  rt->send("order-42", 2, "bonus");
  EXPECT_EQ(rt->retrieve<int>("order-42").result_for(10s), 42);
  EXPECT_EQ(rt->list_steps("order-42")[0].child_workflow_id, "order-42-payment");
  EXPECT_EQ(rt->get_workflow("order-42-payment")->parent_id, "order-42");
  auto children = rt->list_workflows(keel::ListWorkflowsQuery{.parent_id = "order-42"});
  EXPECT_EQ(children.size(), 1u) << "the replay returned the recorded child";
}

TEST_F(ChildTest, AChosenIdOfAnotherWorkflowIsAConflict) {
  auto child = register_waiting_child(*rt);
  auto other = rt->register_workflow("other", [](keel::Context&) { return 1; });
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    return ctx.start_child(child, keel::ChildOptions{.workflow_id = "taken"}).result();
  });
  rt->launch();
  EXPECT_EQ(rt->start(other, {.workflow_id = "taken"}).result_for(10s), 1);
  EXPECT_THROW(rt->start(parent, {.workflow_id = "p"}).result_for(10s), keel::WorkflowConflictError);
  EXPECT_EQ(effects.count("child-start"), 0);
}

TEST_F(ChildTest, ANonPositiveTimeoutIsAUsageError) {
  auto child = register_waiting_child(*rt);
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    return ctx.start_child(child, keel::ChildOptions{.timeout = 0ms}).result();
  });
  rt->launch();
  EXPECT_THROW(rt->start(parent, {.workflow_id = "p"}).result_for(10s), keel::UsageError);
  EXPECT_FALSE(rt->get_workflow("p-1").has_value());
}

// Fan-out through a queue: each ctx.enqueue commits with its record, so the
// replay after a restart returns the same children and enqueues none again.
TEST_F(ChildTest, EnqueuedChildrenRunOnceAndAReplayEnqueuesNoSecond) {
  auto make = [this](keel::Runtime& r) {
    r.register_queue({.name = "work", .concurrency = 2});
    auto square = r.register_workflow("square", [this](keel::Context& ctx, int x) {
      ctx.step("work", [&] { effects.hit("square-" + std::to_string(x)); });
      return x * x;
    });
    return r.register_workflow("fan_out", [square](keel::Context& ctx) {
      std::vector<keel::Handle<int>> children;
      for (int x = 1; x <= 4; ++x) children.push_back(ctx.enqueue(square, "work", {}, x));
      ctx.recv<int>("gather", 1h);
      int sum = 0;
      for (auto& h : children) sum += h.result();
      return sum;
    });
  };
  auto fan_out = make(*rt);
  rt->launch();
  (void)rt->start(fan_out, {.workflow_id = "f"});
  ASSERT_TRUE(keel::testing::eventually([&] { return rt->list_steps("f").size() >= 4; }, 10s));
  restart();
  make(*rt);
  rt->launch();
  rt->send("f", 1, "gather");
  EXPECT_EQ(rt->retrieve<int>("f").result_for(20s), 1 + 4 + 9 + 16);
  auto children = rt->list_workflows(keel::ListWorkflowsQuery{.parent_id = "f"});
  ASSERT_EQ(children.size(), 4u);
  for (const auto& c : children) EXPECT_EQ(c.queue_name, "work");
  EXPECT_EQ(rt->list_steps("f")[0].child_workflow_id, "f-1");
  for (int x = 1; x <= 4; ++x) EXPECT_EQ(effects.count("square-" + std::to_string(x)), 1) << x;
}

// A deduplicated ctx.enqueue is recorded: the replay throws it again, even
// once the holder of the deduplication ID has finished (enqueueing anew then
// would change what the workflow did).
TEST_F(ChildTest, ADeduplicatedEnqueueIsRecordedAndThrownAgainOnReplay) {
  auto make = [this](keel::Runtime& r) {
    r.register_queue({.name = "once"});
    auto child = register_waiting_child(r);
    return std::pair{child, r.register_workflow("parent", [child](keel::Context& ctx) {
                       std::string outcome;
                       try {
                         (void)ctx.enqueue(child, "once", {.deduplication_id = "d"});
                         outcome = "enqueued";
                       } catch (const keel::DeduplicatedError&) {
                         outcome = "deduplicated";
                       }
                       ctx.recv<int>("go", 1h);
                       return outcome;
                     })};
  };
  auto [child, parent] = make(*rt);
  rt->launch();
  (void)rt->enqueue(child, "once", {.workflow_id = "holder", .deduplication_id = "d"});
  ASSERT_TRUE(keel::testing::eventually([&] { return effects.count("child-start") == 1; }, 10s));
  (void)rt->start(parent, {.workflow_id = "p"});
  ASSERT_TRUE(keel::testing::eventually([&] { return rt->list_steps("p").size() == 1; }, 10s));
  rt->send("holder", 1, "go");
  EXPECT_EQ(rt->retrieve<int>("holder").result_for(10s), 1);
  restart();
  make(*rt);
  rt->launch();
  rt->send("p", 1, "go");
  EXPECT_EQ(rt->retrieve<std::string>("p").result_for(10s), "deduplicated");
  EXPECT_FALSE(rt->get_workflow("p-1").has_value()) << "the replay enqueued nothing";
  auto steps = rt->list_steps("p");
  ASSERT_FALSE(steps.empty());
  ASSERT_TRUE(steps[0].error.has_value());
}

TEST_F(ChildTest, AnEnqueuedChildInheritsItsParentsDeadlineUnlessToldOtherwise) {
  rt->register_queue({.name = "work"});
  auto child = register_waiting_child(*rt);
  auto parent = rt->register_workflow("parent", [child](keel::Context& ctx) {
    (void)ctx.enqueue(child, "work", {.workflow_id = "inherits"});
    (void)ctx.enqueue(child, "work", {.workflow_id = "own", .timeout = 2h});
    (void)ctx.enqueue(child, "work", {.workflow_id = "none", .inherit_deadline = false});
    return 0;
  });
  rt->launch();
  EXPECT_EQ(rt->start(parent, {.workflow_id = "p", .timeout = 1h}).result_for(10s), 0);
  ASSERT_TRUE(keel::testing::eventually([&] { return effects.count("child-start") == 3; }, 10s));
  const auto deadline = rt->get_workflow("p")->deadline_epoch_ms;
  EXPECT_EQ(rt->get_workflow("inherits")->deadline_epoch_ms, deadline);
  ASSERT_TRUE(rt->get_workflow("own")->deadline_epoch_ms.has_value());
  EXPECT_GT(*rt->get_workflow("own")->deadline_epoch_ms, *deadline) << "its 2 h from the dequeue";
  EXPECT_FALSE(rt->get_workflow("none")->deadline_epoch_ms.has_value());
  for (const char* id : {"inherits", "own", "none"}) EXPECT_EQ(rt->get_workflow(id)->parent_id, "p") << id;
}

}  // namespace
