// The system database's write of deferred records (SystemDatabase::
// record_operations, finish_workflow's last_ops): all or nothing, and a
// recv's record consumes its message only when it goes in. Runs on SQLite,
// and on PostgreSQL under ctest -L postgres (where a conflict on some
// positions only raises inside the statement).
#include <gtest/gtest.h>

#include "support/runtime_fixture.hpp"
#include "sysdb/system_database.hpp"

namespace {

using keel::sysdb::OperationRecord;

class DeferredRecords : public keel::testing::RuntimeTest {
 protected:
  void SetUp() override {
    config = keel::testing::test_config(dir);
    db = keel::sysdb::open_system_database(config);
    db->migrate();
    keel::sysdb::NewWorkflow wf;
    wf.id = id;
    wf.name = "inbox";
    wf.inputs = "[]";
    wf.executor_id = config.executor_id;
    wf.now_ms = 1;
    ASSERT_TRUE(db->insert_workflow(wf, "", nullptr).created);
    message_id = db->send_message(id, "t", "42", "", "", nullptr).message_id;
    ASSERT_GT(message_id, 0);
  }

  static OperationRecord op(int function_id, const std::string& name, const std::string& output) {
    OperationRecord r;
    r.function_id = function_id;
    r.name = name;
    r.output = output;
    r.started_at_ms = r.completed_at_ms = 5;
    return r;
  }
  OperationRecord recv_at(int function_id) const {
    OperationRecord r = op(function_id, "keel.recv", "[42]");
    r.consumes_message_id = message_id;
    return r;
  }

  keel::RuntimeConfig config;
  std::unique_ptr<keel::sysdb::SystemDatabase> db;
  const std::string id = "wf-records";
  int64_t message_id = 0;
};

TEST_F(DeferredRecords, ARecvsRecordConsumesItsMessageWithTheOthers) {
  auto waiting = db->peek_message(id, "t");
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->message_id, message_id);
  EXPECT_EQ(waiting->message, "42");
  auto cp = db->record_operations(id, {op(1, "keel.deadline", "99"), recv_at(2), op(3, "use", "1")});
  EXPECT_TRUE(cp.workflow_active);
  EXPECT_TRUE(cp.taken.empty());
  EXPECT_EQ(db->load_operations(id).size(), 3u);
  EXPECT_FALSE(db->peek_message(id, "t"));  // consumed
}

// Another execution recorded one of the positions: nothing of the list is
// written, and the message stays in the inbox for the replay.
TEST_F(DeferredRecords, APositionTakenLeavesTheWholeListUnwrittenAndTheMessageWaiting) {
  ASSERT_TRUE(db->record_operation(id, op(2, "keel.recv", "[7]")).taken.empty());
  auto cp = db->record_operations(id, {op(1, "keel.deadline", "99"), recv_at(2), op(3, "use", "1")});
  EXPECT_TRUE(cp.workflow_active);
  ASSERT_EQ(cp.taken.size(), 1u);
  EXPECT_EQ(cp.taken[0].function_id, 2);
  EXPECT_EQ(cp.taken[0].output, "[7]");
  auto recorded = db->load_operations(id);
  ASSERT_EQ(recorded.size(), 1u);  // the deadline and the step did not go in
  EXPECT_EQ(recorded[0].output, "[7]");
  EXPECT_TRUE(db->peek_message(id, "t"));
  // The workflow's end with such a list changes nothing either.
  auto end =
      db->finish_workflow(id, keel::WorkflowStatus::Success, "1", std::nullopt, 9, {op(1, "x", "1"), recv_at(2)});
  EXPECT_EQ(end, keel::sysdb::FinishResult::PositionTaken);
  EXPECT_EQ(db->get_workflow(id)->status, keel::WorkflowStatus::Pending);
  EXPECT_EQ(db->load_operations(id).size(), 1u);
}

// A recv's record whose message an earlier recv consumed already (a
// wake-up's message that the workflow had read before its notify came):
// nothing is written, no position is reported taken, and the caller is told
// the message is gone. The workflow's end with such a list changes nothing.
TEST_F(DeferredRecords, ARecordConsumingAConsumedMessageWritesNothing) {
  ASSERT_TRUE(db->record_operations(id, {recv_at(1)}).taken.empty());
  auto cp = db->record_operations(id, {op(2, "keel.deadline", "99"), recv_at(3), op(4, "use", "1")});
  EXPECT_TRUE(cp.workflow_active);
  EXPECT_TRUE(cp.taken.empty());
  EXPECT_TRUE(cp.message_consumed);
  EXPECT_EQ(db->load_operations(id).size(), 1u);
  auto end = db->finish_workflow(id, keel::WorkflowStatus::Success, "1", std::nullopt, 9, {recv_at(2)});
  EXPECT_EQ(end, keel::sysdb::FinishResult::PositionTaken);
  EXPECT_EQ(db->get_workflow(id)->status, keel::WorkflowStatus::Pending);
  EXPECT_EQ(db->load_operations(id).size(), 1u);
  // An unconsumed message is unaffected.
  auto fresh = db->send_message(id, "t", "43", "", "", nullptr).message_id;
  OperationRecord next = op(2, "keel.recv", "[43]");
  next.consumes_message_id = fresh;
  auto ok = db->record_operations(id, {next});
  EXPECT_TRUE(ok.taken.empty());
  EXPECT_FALSE(ok.message_consumed);
  EXPECT_FALSE(db->peek_message(id, "t"));
}

// A retry after a lost answer finds every position taken, by its own write.
TEST_F(DeferredRecords, ARepeatedWriteFindsAllItsRecords) {
  std::vector<OperationRecord> ops{recv_at(1), op(2, "use", "1")};
  ASSERT_TRUE(db->record_operations(id, ops).taken.empty());
  auto again = db->record_operations(id, ops);
  ASSERT_EQ(again.taken.size(), 2u);
  EXPECT_EQ(again.taken[0].output, "[42]");
  EXPECT_EQ(again.taken[1].output, "1");
  EXPECT_EQ(db->load_operations(id).size(), 2u);
  // A single record (a step's, written by its own statement) reports the same way.
  auto single = db->record_operations(id, {op(2, "use", "2")});
  ASSERT_EQ(single.taken.size(), 1u);
  EXPECT_EQ(single.taken[0].output, "1");
}

TEST_F(DeferredRecords, TheEndWritesTheListAndTheStatusTogether) {
  auto end = db->finish_workflow(id, keel::WorkflowStatus::Success, "1", std::nullopt, 9,
                                 {op(1, "keel.deadline", "99"), recv_at(2), op(3, "use", "1")});
  EXPECT_EQ(end, keel::sysdb::FinishResult::Finished);
  EXPECT_EQ(db->get_workflow(id)->status, keel::WorkflowStatus::Success);
  EXPECT_EQ(db->load_operations(id).size(), 3u);
  EXPECT_FALSE(db->peek_message(id, "t"));
}

// A cancelled workflow takes no records, and its message is not consumed.
TEST_F(DeferredRecords, ACancelledWorkflowTakesNoRecord) {
  ASSERT_TRUE(db->transition(id, {keel::WorkflowStatus::Pending}, keel::WorkflowStatus::Cancelled, 3, false, ""));
  auto cp = db->record_operations(id, {recv_at(1), op(2, "use", "1")});
  EXPECT_FALSE(cp.workflow_active);
  EXPECT_TRUE(db->load_operations(id).empty());
  EXPECT_TRUE(db->peek_message(id, "t"));
  // A step's record alone (PostgreSQL: its own lock-free statement) likewise.
  EXPECT_FALSE(db->record_operations(id, {op(1, "use", "1")}).workflow_active);
  EXPECT_TRUE(db->load_operations(id).empty());
}

// A step's record for a workflow another executor now owns (taken over) is
// refused; for an unknown workflow it is an error; neither writes anything.
TEST_F(DeferredRecords, AStepsRecordIsRefusedElsewhereAndUnknownWorkflowsAreAnError) {
  db->run_sql_write([&](keel::Sql& sql) {
    std::string table = sql.dialect() == "sqlite" ? "keel_workflow_status" : "keel.workflow_status";
    sql.execute("UPDATE " + table + " SET executor_id = 'someone-else' WHERE workflow_id = $1", {id});
  });
  EXPECT_FALSE(db->record_operations(id, {op(1, "use", "1")}).workflow_active);
  EXPECT_TRUE(db->load_operations(id).empty());
  EXPECT_THROW(db->record_operations("no-such-workflow", {op(1, "use", "1")}), keel::WorkflowNotFoundError);
  EXPECT_TRUE(db->load_operations("no-such-workflow").empty());
}

}  // namespace
