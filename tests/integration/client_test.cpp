// keel::Client: a process with no workflow code enqueues, sends, reads events,
// status and results of workflows that a Runtime runs.
#include <gtest/gtest.h>

#include <thread>

#include "integration/queue_support.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::eventually;
using keel::testing::RuntimeTest;

namespace {

class ClientTest : public RuntimeTest {
 protected:
  keel::Client make_client() {
    return keel::Client(keel::ClientConfig{.database_url = keel::testing::test_db_url(dir), .poll_interval = 20ms});
  }
};

struct Order {
  std::string sku;
  int quantity = 0;
};
void to_json(keel::Json& j, const Order& o) { j = keel::Json{{"sku", o.sku}, {"quantity", o.quantity}}; }
void from_json(const keel::Json& j, Order& o) {
  j.at("sku").get_to(o.sku);
  j.at("quantity").get_to(o.quantity);
}

TEST_F(ClientTest, EnqueuedByTheClientRunByTheRuntime) {
  rt->register_queue({.name = "orders", .concurrency = 2});
  rt->register_workflow("price", [](keel::Context& ctx, Order o, int unit_cents) {
    return ctx.step("multiply", [&] { return o.quantity * unit_cents; });
  });
  rt->launch();
  auto client = make_client();
  auto h = client.enqueue<int>("orders", "price", {.workflow_id = "o-1"}, Order{"tea", 3}, 250);
  EXPECT_EQ(h.id(), "o-1");
  EXPECT_EQ(h.result_for(20s), 750);
  EXPECT_EQ(h.status(), keel::WorkflowStatus::Success);
  EXPECT_EQ(h.info().queue_name, "orders");
  // The typed form converts the arguments to the declared parameter types.
  keel::Workflow<int, Order, int> price("price");
  EXPECT_EQ(client.enqueue("orders", price, {}, Order{"cup", 2}, 100).result_for(20s), 200);
  // Same ID again: the same workflow, nothing enqueued.
  EXPECT_EQ(client.enqueue<int>("orders", "price", {.workflow_id = "o-1"}, Order{"x", 1}, 1).result_for(20s), 750);
  EXPECT_EQ(client.list_workflows().size(), 2u);
}

TEST_F(ClientTest, MessagesEventsAndStatus) {
  rt->register_workflow("greeter", [](keel::Context& ctx) {
    ctx.set_event("state", std::string("waiting"));
    auto name = ctx.recv<std::string>("name", 30s);
    ctx.set_event("state", std::string("greeted"));
    return "hello " + name.value_or("?");
  });
  rt->launch();
  auto client = make_client();
  (void)rt->start(keel::Workflow<std::string>("greeter"), {.workflow_id = "g"});
  EXPECT_EQ(client.get_event<std::string>("g", "state", 10s), "waiting");
  EXPECT_EQ(client.get_workflow("g")->status, keel::WorkflowStatus::Pending);
  client.send("g", std::string("ada"), "name", "once");
  client.send("g", std::string("bob"), "name", "once");  // deduplicated by its key
  EXPECT_EQ(client.retrieve<std::string>("g").result_for(20s), "hello ada");
  EXPECT_EQ(client.get_event<std::string>("g", "state", 1s), "greeted");
  EXPECT_EQ(client.get_event<std::string>("g", "absent", 50ms), std::nullopt);
  EXPECT_FALSE(client.get_workflow("nobody"));
  EXPECT_THROW(client.retrieve("nobody"), keel::WorkflowNotFoundError);
  EXPECT_THROW(client.send("nobody", 1), keel::WorkflowNotFoundError);
}

TEST_F(ClientTest, ResultRethrowsTheRecordedErrorAndTimesOut) {
  rt->register_workflow("fails", [](keel::Context&) -> int { throw std::runtime_error("out of stock"); });
  rt->register_queue({.name = "q"});
  rt->launch();
  auto client = make_client();
  auto h = client.enqueue<int>("q", "fails", {});
  EXPECT_THROW(h.result_for(20s), keel::RecordedError);
  auto never = client.enqueue<int>("nobody-dequeues-this", "fails", {});
  EXPECT_THROW(never.result_for(100ms), keel::TimeoutError);
}

TEST_F(ClientTest, AQueueNoProcessRegistersKeepsItsWorkflowsEnqueued) {
  rt->register_queue({.name = "here"});
  rt->register_workflow("work", [](keel::Context&) { return 1; });
  rt->launch();
  auto client = make_client();
  auto elsewhere = client.enqueue<int>("elsewhere", "work", {.workflow_id = "e"});
  auto here = client.enqueue<int>("here", "work", {.workflow_id = "h"});
  EXPECT_EQ(here.result_for(20s), 1);
  std::this_thread::sleep_for(200ms);  // several polls of the dequeuer
  EXPECT_EQ(elsewhere.status(), keel::WorkflowStatus::Enqueued);
  EXPECT_TRUE(client.cancel("e"));
  EXPECT_EQ(elsewhere.status(), keel::WorkflowStatus::Cancelled);
  EXPECT_FALSE(client.cancel("e"));
}

TEST_F(ClientTest, DeduplicationAndBadInput) {
  rt->launch();  // migrates; no queue is dequeued here
  auto client = make_client();
  (void)client.enqueue("q", "work", {.workflow_id = "a", .deduplication_id = "k"});
  EXPECT_THROW(client.enqueue("q", "work", {.workflow_id = "b", .deduplication_id = "k"}), keel::DeduplicatedError);
  EXPECT_FALSE(client.get_workflow("b"));
  EXPECT_THROW(client.enqueue("q", "other-name", {.workflow_id = "a"}), keel::WorkflowConflictError);
  EXPECT_THROW(client.enqueue("", "work", {}), keel::UsageError);
  EXPECT_THROW(client.enqueue("q", "", {}), keel::UsageError);
  EXPECT_THROW(client.enqueue("q", "work", {.priority = -3}), keel::UsageError);
  EXPECT_THROW(client.enqueue("q", "work", {.timeout = -1ms}), keel::UsageError);
  EXPECT_EQ(client.list_workflows().size(), 1u);
  EXPECT_THROW(keel::Client(keel::ClientConfig{.database_url = "mysql://x"}), keel::ConfigError);
  EXPECT_THROW(keel::Client(keel::ClientConfig{.database_url = keel::testing::test_db_url(dir), .poll_interval = 0ms}),
               keel::ConfigError);
}

TEST_F(ClientTest, AClientDoesNotMigrate) {
  // Nothing has launched on this database yet.
  EXPECT_THROW(make_client(), keel::IncompatibleDatabaseError);
  rt->launch();
  EXPECT_NO_THROW(make_client());
}

}  // namespace
