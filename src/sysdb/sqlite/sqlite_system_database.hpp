// The SQLite system database: one file in WAL mode, shared with the
// application's tables. One writer connection, driven by the group committer
// (every write is a unit in a batch, BEGIN IMMEDIATE ... COMMIT), and a pool
// of reader connections that never block the writer.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "sysdb/group_commit.hpp"
#include "sysdb/sqlite/connection.hpp"
#include "sysdb/system_database.hpp"

namespace keel::sysdb::sqlite {

class SqliteSystemDatabase final : public SystemDatabase {
 public:
  SqliteSystemDatabase(std::string path, const RuntimeConfig& config);

  void migrate() override;

  InsertWorkflowResult insert_forked(const NewWorkflow& wf, const std::vector<OperationRecord>& ops,
                                     const std::vector<std::pair<std::string, std::string>>& events) override;
  InsertWorkflowResult insert_workflow(const NewWorkflow& wf, const std::string& parent_id,
                                       const OperationRecord* parent_op) override;
  FinishResult finish_workflow(const std::string& id, WorkflowStatus status, const std::optional<std::string>& output,
                               const std::optional<RecordedErrorInfo>& error, int64_t now_ms,
                               const std::vector<OperationRecord>& last_ops) override;
  std::optional<WorkflowInfo> get_workflow(const std::string& id) override;
  std::vector<WorkflowInfo> get_workflows(const std::vector<std::string>& ids) override;
  WorkflowPage list_workflows(const ListWorkflowsQuery& q) override;
  std::vector<std::string> delete_finished(const std::vector<std::string>& ids) override;
  std::vector<std::string> list_pending(const std::string& executor_id) override;
  int release_other_versions(const std::string& executor_id, const std::string& version) override;
  std::vector<std::string> claim_released(const std::string& executor_id, const std::string& version) override;
  std::map<std::string, int> count_recoveries(const std::vector<std::string>& ids, int64_t now_ms) override;
  bool transition(const std::string& id, const std::vector<WorkflowStatus>& from, WorkflowStatus to, int64_t now_ms,
                  bool reset_recovery, const std::optional<std::string>& executor_id) override;

  std::vector<OperationRecord> load_operations(const std::string& id) override;
  Checkpoint record_operations(const std::string& id, const std::vector<OperationRecord>& ops) override;
  Checkpoint run_transaction(const std::string& id, OperationRecord op,
                             const std::function<std::string(Sql&)>& body, TransactionMode mode) override;

  Checkpoint continue_as_new(const std::string& id, const OperationRecord& op, const std::string& inputs) override;
  Checkpoint set_event(const std::string& id, const std::string& key, const std::string& value,
                       const OperationRecord& op) override;
  std::optional<std::string> get_event(const std::string& id, const std::string& key) override;
  std::vector<StoredEvent> list_events(const std::string& id) override;
  Checkpoint write_stream(const std::string& id, const std::string& key, const std::optional<std::string>& value,
                          const OperationRecord& op) override;
  StreamRead read_stream(const std::string& id, const std::string& key, int64_t from, int limit) override;
  std::vector<StoredMessage> list_messages(const std::string& destination, int64_t after_message_id,
                                           int limit) override;

  SendResult send_message(const std::string& destination, const std::string& topic, const std::string& message,
                          const std::string& idempotency_key, const std::string& sender_id,
                          const OperationRecord* op) override;
  std::optional<WaitingMessage> peek_message(const std::string& destination, const std::string& topic) override;

  std::vector<MessageArrival> unconsumed_messages_after(int64_t after_message_id, int limit) override;
  std::vector<MessageArrival> unconsumed_messages_for(const std::vector<std::string>& destinations) override;
  std::vector<std::pair<std::string, WorkflowStatus>> workflow_statuses(const std::vector<std::string>& ids) override;
  std::optional<ExecutorRecord> acquire_lease(const ExecutorRecord& me, int64_t lease_ms,
                                              const std::string& replace_holder) override;
  bool renew_lease(const std::string& executor_id, const std::string& holder) override;
  void release_lease(const std::string& executor_id, const std::string& holder) override;
  std::vector<ExecutorRecord> list_executors() override;
  std::optional<std::vector<std::string>> take_over(const std::string& dead, const std::string& to, const std::string& version,
                                                    int64_t observed_heartbeat_ms) override;

  void run_sql_write(const std::function<void(Sql&)>& fn) override;
  void run_sql_read(const std::function<void(Sql&)>& fn) override;

  // schedules.cpp
  void declare_schedule(const ScheduleRow& row) override;
  std::vector<ScheduleRow> list_schedules() override;
  void advance_schedule(const std::string& name, int64_t tick_ms) override;
  bool set_schedule_paused(const std::string& name, bool paused, int64_t now_ms) override;
  bool delete_schedule(const std::string& name) override;

  // debounces.cpp
  std::string debounce(const DebounceCall& call) override;
  std::vector<DebounceRow> next_debounces(const std::vector<std::string>& workflow_names, int limit) override;
  FiredDebounce fire_debounce(const std::string& key, const std::string& workflow_id, const std::string& executor_id,
                              const std::string& version, int64_t now_ms) override;
  bool debounce_targets(const std::string& workflow_id) override;

  // queues.cpp
  InsertWorkflowResult enqueue_workflow(const NewWorkflow& wf, const QueuedFields& q,
                                        const OperationRecord* parent_op) override;
  std::vector<WorkflowInfo> dequeue(const DequeueRequest& r) override;
  QueueSpec declare_queue(const QueueSpec& spec, bool replace) override;
  std::map<std::string, QueueSpec> stored_queues(const std::vector<std::string>& names) override;
  std::map<std::string, QueueCounts> queue_counts(const std::vector<std::string>& queues) override;
  void require_current_schema() override;

 private:
  // Runs fn on the writer connection as one unit of a group commit.
  // fault_points = false: the lease's own writes (GroupCommitter::run).
  void write(const std::function<void(Connection&)>& fn, bool fault_points = true);
  // Runs fn on a reader connection from the pool.
  void read(const std::function<void(Connection&)>& fn);
  // Inside a write unit: the recorded op at (id, function_id), if any, and
  // whether the workflow is still PENDING.
  Checkpoint probe(Connection& c, const std::string& id, int function_id);
  // Inside a write unit: records op unless its position is taken (then
  // returns the recorded one) or the workflow is no longer PENDING.
  Checkpoint claim(Connection& c, const std::string& id, const OperationRecord& op);
  // Records all of ops or, when a position is taken, none (record_operations).
  Checkpoint claim_all(Connection& c, const std::string& id, const std::vector<OperationRecord>& ops);
  bool insert_operation(Connection& c, const std::string& id, const OperationRecord& op);
  void check_schema_version();

  std::string path_;
  SqliteSync sync_;
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<GroupCommitter> committer_;
  // The fence: checkpoints and the final status are written only while the
  // workflow belongs to this executor (a takeover moves it away).
  std::string executor_id_;
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;  // guarded by readers_mu_
};

// Decoders shared by the row readers.
// The columns read_workflow_row expects, in its order (comma-separated).
const char* workflow_columns();
WorkflowInfo read_workflow_row(const BoundStatement& st);
OperationRecord read_operation_row(const BoundStatement& st);
// Inserts op under workflow id as it is (no check of the workflow's owner).
void insert_record(Connection& c, const std::string& id, const OperationRecord& op);

}  // namespace keel::sysdb::sqlite
