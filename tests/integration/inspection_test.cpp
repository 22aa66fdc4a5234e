// A workflow's events and inbox from outside it (Runtime::get_all_events,
// Runtime::list_messages, and the same through a Client), and the steps
// through a Client. Runs on SQLite, and on PostgreSQL under ctest -L postgres.
#include <gtest/gtest.h>

#include "keel/client.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

class InspectionTest : public keel::testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    rt->register_workflow("inbox", [](keel::Context& ctx) {
      ctx.set_event("stage", std::string("one"));
      ctx.set_event("count", 1);
      ctx.set_event("stage", std::string("two"));
      auto first = ctx.recv<int>("pay", 30s).value_or(-1);
      auto second = ctx.recv<int>("pay", 30s).value_or(-1);
      return first + second;
    });
    rt->launch();
  }
};

TEST_F(InspectionTest, EventsAreTheLatestValuePerKey) {
  (void)rt->start(keel::Workflow<int>("inbox"), {.workflow_id = "w"});
  ASSERT_TRUE(keel::testing::eventually([&] { return rt->get_all_events("w").size() == 2u &&
                                                      rt->get_all_events("w")[1].value == "two"; }));
  auto events = rt->get_all_events("w");
  EXPECT_EQ(events[0].key, "count");
  EXPECT_EQ(events[0].value, 1);
  EXPECT_EQ(events[1].key, "stage");
  EXPECT_GT(events[1].updated_at_ms, 0);
  keel::Client client(keel::testing::test_config(dir).database_url);
  auto seen = client.get_all_events("w");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].value, "two");
  EXPECT_TRUE(rt->get_all_events("nope").empty());
  rt->send("w", 1, "pay");
  rt->send("w", 2, "pay");
  EXPECT_EQ(rt->retrieve<int>("w").result_for(20s), 3);
}

// The inbox shows every message, consumed or not, in order, and pages on.
TEST_F(InspectionTest, TheInboxListsConsumedAndPendingMessagesInOrder) {
  (void)rt->start(keel::Workflow<int>("inbox"), {.workflow_id = "w"});
  rt->send("w", 10, "pay");
  rt->send("w", 7, "other-topic");
  ASSERT_TRUE(keel::testing::eventually([&] {
    auto m = rt->list_messages("w");
    return m.size() == 2u && m[0].consumed;
  })) << "the first recv takes 10";
  auto inbox = rt->list_messages("w");
  EXPECT_EQ(inbox[0].topic, "pay");
  EXPECT_EQ(inbox[0].message, 10);
  EXPECT_TRUE(inbox[0].consumed);
  EXPECT_EQ(inbox[1].topic, "other-topic");
  EXPECT_FALSE(inbox[1].consumed);
  EXPECT_LT(inbox[0].message_id, inbox[1].message_id);
  EXPECT_TRUE(inbox[0].sender_id.empty());
  EXPECT_GT(inbox[0].created_at_ms, 1'600'000'000'000) << "sent from outside a workflow: stamped now";
  auto page = rt->list_messages("w", inbox[0].message_id, 1);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].message_id, inbox[1].message_id);
  EXPECT_TRUE(rt->list_messages("w", inbox[1].message_id).empty());
  keel::Client client(keel::testing::test_config(dir).database_url);
  EXPECT_EQ(client.list_messages("w").size(), 2u);
  EXPECT_THROW((void)rt->list_messages("w", 0, 0), keel::UsageError);
  EXPECT_THROW((void)rt->list_messages("w", 0, 10001), keel::UsageError);
  EXPECT_THROW((void)client.list_messages("w", -1), keel::UsageError);
  rt->send("w", 20, "pay");
  EXPECT_EQ(rt->retrieve<int>("w").result_for(20s), 30);
  EXPECT_EQ(client.list_steps("w").size(), rt->list_steps("w").size());
  EXPECT_EQ(client.list_steps("w").back().name, "keel.recv");
}

}  // namespace
