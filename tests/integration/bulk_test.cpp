// Delete and the bulk operations (Runtime and Client: delete_workflow,
// cancel_workflows, resume_workflows, delete_workflows). Runs on SQLite, and
// on PostgreSQL under ctest -L postgres.
#include <gtest/gtest.h>

#include "keel/client.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

using keel::WorkflowStatus;

class BulkTest : public keel::testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    rt->register_workflow("ok", [this](keel::Context& ctx, int x) {
      ctx.step("s", [&] { effects.hit("ok"); });
      ctx.set_event("e", x);
      return x;
    });
    rt->register_workflow("wait", [](keel::Context& ctx, int) { return ctx.recv<int>("go", 60s).value_or(-1); });
    rt->launch();
  }
  void finish(const std::string& id) {
    ASSERT_EQ(rt->start(keel::Workflow<int, int>("ok"), {.workflow_id = id}, 7).result_for(20s), 7);
  }
  void start_waiting(const std::string& id) {
    (void)rt->start(keel::Workflow<int, int>("wait"), {.workflow_id = id}, 0);
  }
  WorkflowStatus status(const std::string& id) { return rt->get_workflow(id)->status; }
};

TEST_F(BulkTest, DeleteRemovesAFinishedWorkflowAndAllItRecorded) {
  finish("d");
  rt->send("d", 1, "late");  // a message to a finished workflow: in its inbox
  ASSERT_FALSE(rt->list_steps("d").empty());
  ASSERT_FALSE(rt->get_all_events("d").empty());
  ASSERT_FALSE(rt->list_messages("d").empty());
  rt->delete_workflow("d");
  EXPECT_FALSE(rt->get_workflow("d").has_value());
  EXPECT_TRUE(rt->list_steps("d").empty());
  EXPECT_TRUE(rt->get_all_events("d").empty());
  EXPECT_TRUE(rt->list_messages("d").empty());
  // The ID is free again, and a start runs anew (no cached outcome).
  finish("d");
  EXPECT_EQ(effects.count("ok"), 2);
}

TEST_F(BulkTest, DeleteRefusesAnUnknownOrUnfinishedWorkflow) {
  EXPECT_THROW(rt->delete_workflow("nope"), keel::WorkflowNotFoundError);
  start_waiting("w");
  EXPECT_THROW(rt->delete_workflow("w"), keel::WorkflowConflictError);
  EXPECT_EQ(status("w"), WorkflowStatus::Pending) << "unchanged";
  ASSERT_TRUE(rt->cancel("w"));
  rt->delete_workflow("w");
  EXPECT_FALSE(rt->get_workflow("w").has_value());
  keel::Client client(keel::testing::test_config(dir).database_url);
  EXPECT_THROW(client.delete_workflow("w"), keel::WorkflowNotFoundError);
}

TEST_F(BulkTest, BulkCancelDryRunCountsThenCancelsEveryMatch) {
  for (int i = 0; i < 7; ++i) start_waiting("wait-" + std::to_string(i));
  finish("done");
  keel::ListWorkflowsQuery pending{.statuses = {WorkflowStatus::Pending}, .id_prefix = "wait-"};
  auto dry = rt->cancel_workflows(pending, {.dry_run = true, .on_progress = {}});
  EXPECT_EQ(dry.matched, 7);
  EXPECT_EQ(dry.changed, 0);
  EXPECT_EQ(status("wait-3"), WorkflowStatus::Pending) << "a dry run changes nothing";
  int progress_calls = 0;
  auto r = rt->cancel_workflows(pending, {.dry_run = false, .on_progress = [&](const keel::BulkProgress& p) {
                                             ++progress_calls;
                                             EXPECT_LE(p.changed, p.matched);
                                           }});
  EXPECT_EQ(r.matched, 7);
  EXPECT_EQ(r.changed, 7);
  EXPECT_EQ(r.failed, 0);
  EXPECT_GE(progress_calls, 1);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(status("wait-" + std::to_string(i)), WorkflowStatus::Cancelled);
  EXPECT_EQ(status("done"), WorkflowStatus::Success);
  EXPECT_EQ(rt->cancel_workflows(pending).matched, 0) << "none PENDING any more";
}

// More matches than a page: the walk pages on (kBulkPageSize).
TEST_F(BulkTest, BulkDeleteWalksEveryPageAndKeepsUnfinishedOnes) {
  const int n = keel::kBulkPageSize + 20;
  for (int i = 0; i < n; ++i) finish("f-" + std::to_string(i));
  start_waiting("f-running");
  auto r = rt->delete_workflows({.id_prefix = "f-"});
  EXPECT_EQ(r.matched, n) << "only finished workflows match a delete";
  EXPECT_EQ(r.changed, n);
  EXPECT_EQ(rt->list_workflows({.id_prefix = "f-"}).size(), 1u);
  EXPECT_EQ(status("f-running"), WorkflowStatus::Pending);
  EXPECT_THROW((void)rt->delete_workflows({.statuses = {WorkflowStatus::Pending}}), keel::UsageError);
  EXPECT_THROW((void)rt->delete_workflows({.cursor = "n1.61"}), keel::UsageError);
}

TEST_F(BulkTest, BulkResumeRunsCancelledWorkflowsAgain) {
  for (int i = 0; i < 3; ++i) start_waiting("r-" + std::to_string(i));
  ASSERT_EQ(rt->cancel_workflows({.id_prefix = "r-"}).changed, 3);
  auto r = rt->resume_workflows({.statuses = {WorkflowStatus::Cancelled}, .id_prefix = "r-"});
  EXPECT_EQ(r.changed, 3);
  for (int i = 0; i < 3; ++i) {
    std::string id = "r-" + std::to_string(i);
    rt->send(id, i, "go");
    EXPECT_EQ(rt->retrieve<int>(id).result_for(20s), i) << "resumed and ran here";
  }
}

// A Client runs no workflow: its resume releases the workflow for an
// executor of its version (this Runtime claims it within a heartbeat).
TEST_F(BulkTest, ClientBulkOperationsActThroughTheDatabase) {
  for (int i = 0; i < 4; ++i) start_waiting("c-" + std::to_string(i));
  keel::Client client(keel::testing::test_config(dir).database_url);
  EXPECT_EQ(client.cancel_workflows({.id_prefix = "c-"}, {.dry_run = true, .on_progress = {}}).matched, 4);
  EXPECT_EQ(client.cancel_workflows({.id_prefix = "c-"}).changed, 4);
  ASSERT_TRUE(keel::testing::eventually([&] { return rt->list_workflows({.statuses = {WorkflowStatus::Pending}}).empty(); }));
  EXPECT_THROW((void)client.resume("nope"), keel::WorkflowNotFoundError);
  EXPECT_EQ(client.resume_workflows({.statuses = {WorkflowStatus::Cancelled}, .id_prefix = "c-0"}).changed, 1);
  auto info = rt->get_workflow("c-0");
  EXPECT_EQ(info->status, WorkflowStatus::Pending);
  rt->send("c-0", 5, "go");
  EXPECT_EQ(rt->retrieve<int>("c-0").result_for(30s), 5) << "claimed by the runtime's executor";
  EXPECT_EQ(client.delete_workflows({.id_prefix = "c-"}).changed, 4);
  EXPECT_TRUE(rt->list_workflows({.id_prefix = "c-"}).empty());
}

}  // namespace
