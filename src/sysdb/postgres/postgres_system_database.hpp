// The PostgreSQL system database: tables in the schema "keel", next to the
// application's tables in the same database. One writer connection driven by
// the pipeline committer (pipeline_committer.hpp: every write is a unit in a
// batch; most units are one statement, and a batch of them is one round trip),
// and a small pool of reader connections, each read in a REPEATABLE READ READ
// ONLY snapshot (or one SELECT, its own snapshot).
//
// Concurrency with other processes: every unit that checks a workflow's status
// first locks that workflow's row (SELECT ... FOR NO KEY UPDATE), so units of
// one workflow from different processes are serialised exactly as SQLite's
// single-writer lock serialises them; INSERT ... ON CONFLICT DO NOTHING plus a
// read-back decides races on new rows.
//
// A lost connection fails the unit in flight with DatabaseError and is
// re-established at the start of the next unit (or read).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "sysdb/postgres/connection.hpp"
#include "sysdb/postgres/listener.hpp"
#include "sysdb/postgres/pipeline_committer.hpp"
#include "sysdb/postgres/statement.hpp"
#include "sysdb/system_database.hpp"

namespace keel::sysdb::postgres {

// A workflow's end, as finish_workflow writes it.
struct FinalStatus {
  WorkflowStatus status;
  const std::optional<std::string>& output;
  const std::optional<RecordedErrorInfo>& error;
  int64_t now_ms;
};

class PostgresSystemDatabase final : public SystemDatabase {
 public:
  PostgresSystemDatabase(std::string url, const RuntimeConfig& config);

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

  // Starts (or, with an empty sink, stops) the LISTEN connection (listener.hpp).
  void set_wakeup_sink(std::function<void(const std::string& key)> sink) override;

 private:
  // fault_points = false: the lease's own writes (GroupCommitter::run);
  // begin: a transaction of fn's own (PipelineCommitter::run).
  void write(const std::function<void(Connection&)>& fn, bool fault_points = true, std::string_view begin = {});
  // One statement as a unit of its own; its result once committed.
  Result write_statement(std::string_view sql, const std::vector<SqlValue>& params);
  Result write_statement(const Statement& s) { return write_statement(s.sql(), s.params()); }
  void read(const std::function<void(Connection&)>& fn);
  void read_one(const std::function<void(Connection&)>& fn);  // fn runs one SELECT
  std::unique_ptr<Connection> take_reader();
  // Every connection's application_name: "keel <executor id>".
  std::string application_name() const { return "keel " + executor_id_; }
  void return_reader(std::unique_ptr<Connection> conn);
  // The idle readers unused for longer than reader_idle_timeout_, taken out
  // of the pool (to be closed outside its lock). Caller holds readers_mu_.
  std::vector<std::unique_ptr<Connection>> take_expired_readers(std::chrono::steady_clock::time_point now);
  Checkpoint probe(Connection& c, const std::string& id, int function_id);
  // finish_workflow with last_ops (operations.cpp).
  FinishResult finish_with_operations(const std::string& id, const std::vector<OperationRecord>& ops,
                                      const FinalStatus& end);
  Checkpoint taken_positions(const std::string& id, const std::vector<OperationRecord>& ops);
  Checkpoint step_refused(const std::string& id, const std::vector<OperationRecord>& ops);
  Checkpoint claim(Connection& c, const std::string& id, const OperationRecord& op);
  void run_body(Connection& c, const std::function<std::string(Sql&)>& body, OperationRecord& rec);
  bool insert_operation(Connection& c, const std::string& id, const OperationRecord& op);
  std::optional<OperationRecord> lookup_operation(const std::string& id, int function_id);  // on a reader
  void check_schema_version();
  void migrate_once();

  std::string url_;
  std::unique_ptr<Connection> writer_;                     // lane 0; also migrations
  std::vector<std::unique_ptr<Connection>> extra_writers_;  // lanes 1..n-1
  std::unique_ptr<PipelineCommitter> committer_;
  // queues.cpp: dequeues run on their own connection, so that the queue's
  // advisory lock is held for the dequeue alone, not for a whole batch.
  std::mutex dequeue_mu_;
  std::unique_ptr<Connection> dequeue_conn_;  // guarded by dequeue_mu_
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  struct IdleReader {
    std::unique_ptr<Connection> conn;
    std::chrono::steady_clock::time_point since;  // returned to the pool
  };
  // Taken and returned at the back, so the front is the longest unused
  // (times ascend front to back) and a steady load keeps using the same few.
  std::vector<IdleReader> idle_readers_;  // guarded by readers_mu_
  size_t open_readers_ = 0;               // idle + in use; guarded by readers_mu_
  std::chrono::milliseconds reader_idle_timeout_;  // zero: never close
  // The fence: checkpoints and the final status are written only while the
  // workflow belongs to this executor (a takeover moves it away).
  std::string executor_id_;
  // Whether the writers' wake triggers fire (docs/postgres.md, "Wake-ups"):
  // false only while the listener knows that no other process listens.
  std::atomic<bool> others_listen_{true};
  void set_others_listen(bool yes);
  std::mutex listener_mu_;
  std::unique_ptr<Listener> listener_;  // guarded by listener_mu_; last: stopped first
};

// The columns read_workflow_row expects, in its order (comma-separated).
const char* workflow_columns();
WorkflowInfo read_workflow_row(const Result& r, int row);
// "status = $a::text, output = ..., updated_at = $e::bigint": the columns a
// workflow's end sets (workflows.cpp).
void bind_final_status(Statement& s, const FinalStatus& end);
OperationRecord read_operation_row(const Result& r, int row, int first_column = 0);

}  // namespace keel::sysdb::postgres
