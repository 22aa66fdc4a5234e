// The system database seam: everything the runtime persists goes through this
// interface, one method per durable unit. Backends (sqlite/, postgres/)
// decide how units reach the disk; both batch concurrent units into one
// commit (group commit), each caller returning only once its own unit is
// durable.
//
// Every method that checkpoints an operation returns a Checkpoint telling the
// caller whether the position was already recorded (another execution got
// there first: use the recorded outcome) and whether the workflow is still
// PENDING (if not, it was cancelled: stop).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keel/config.hpp"
#include "keel/sql.hpp"
#include "keel/status.hpp"
#include "keel/transaction_options.hpp"
#include "metrics/catalog.hpp"

namespace keel::sysdb {

struct OperationRecord {
  int function_id = 0;
  std::string name;
  OperationKind kind = OperationKind::Keel;  // stored NULL for Unknown
  std::optional<std::string> output;  // JSON text
  std::optional<RecordedErrorInfo> error;
  std::string child_workflow_id;
  int64_t started_at_ms = 0;
  int64_t completed_at_ms = 0;
  // How many times a step's body ran (its retries, StepOptions); 1 for every
  // other operation (a transaction whose writes were rolled back and ran
  // again counts once: only its committed run exists). Read back as 0 from
  // rows written before the column existed (not counted).
  int attempts = 1;
  // > 0: a recv's record whose consume was deferred (it read the message
  // with peek_message): recording it also marks that message consumed.
  int64_t consumes_message_id = 0;
};

// An operation's kind as stored: its name, NULL for Unknown (to_string).
inline SqlValue stored_kind(OperationKind k) {
  return k == OperationKind::Unknown ? SqlValue(nullptr) : SqlValue(to_string(k));
}

struct NewWorkflow {
  std::string id;
  std::string name;
  std::string inputs;  // JSON text
  std::string executor_id;
  std::string application_version;
  std::string parent_id;
  std::optional<int64_t> deadline_epoch_ms;
  int64_t now_ms = 0;
};

struct [[nodiscard]] InsertWorkflowResult {
  bool created = false;
  std::optional<WorkflowInfo> existing;  // when !created
  bool parent_op_existing = false;       // the parent's op was already recorded
};

struct [[nodiscard]] Checkpoint {
  std::optional<OperationRecord> existing;  // at the (first) op's position
  bool workflow_active = true;
  // record_operations: what was found at the ops' positions when any was
  // taken (then nothing was written).
  std::vector<OperationRecord> taken;
  // record_operations: no position was taken, but the message a record
  // consumes (consumes_message_id) already was, by an earlier recv of this
  // workflow (a wake-up's message that was read before): nothing was
  // written, and the recv must read its inbox again.
  bool message_consumed = false;
};

// What finish_workflow did.
enum class [[nodiscard]] FinishResult {
  Finished,       // this commit moved the workflow to its terminal status
  NotPending,     // not PENDING here (ended before, cancelled, taken over): nothing changed
  PositionTaken,  // a last_op's position was already recorded, or its message consumed: nothing changed
};

// --- queues (implemented in sysdb/*/queues.cpp) ---
// The queue columns of a workflow inserted as ENQUEUED.
struct QueuedFields {
  std::string queue_name;
  int priority = 0;
  std::string deduplication_id;        // empty: none
  std::optional<int64_t> timeout_ms;   // the deadline is set at dequeue: now + timeout
  std::string partition_key;           // empty: none (NULL)
};

// One queue's limits as a dequeuer sees them (see include/keel/queue.hpp).
struct QueueSpec {
  std::string name;
  std::optional<int> concurrency;         // PENDING in the queue, all executors
  std::optional<int> worker_concurrency;  // PENDING in the queue under this executor
  std::optional<int> rate_limit;          // starts within any rate_period_ms window
  int64_t rate_period_ms = 0;
  bool priority_enabled = false;
  bool partitioned = false;  // the limits above but the rate apply per partition key
  bool operator==(const QueueSpec&) const = default;
};

struct DequeueRequest {
  QueueSpec queue;
  std::string executor_id;
  // Only workflows of this application version, or of none yet (enqueued by
  // a Client with no version: they take this one when dequeued).
  std::string application_version;
  std::vector<std::string> workflow_names;  // only these are taken (registered here)
  int max_batch = 100;
};

// What send_message did.
struct [[nodiscard]] SendResult {
  Checkpoint checkpoint;
  int64_t message_id = 0;  // the message inserted; 0 when none was (a key seen before, the op recorded before)
};

// list_events and list_messages: rows as stored (values are JSON text).
struct StoredEvent {
  std::string key;
  std::string value;
  int64_t updated_at_ms = 0;
};
struct StoredMessage {
  int64_t message_id = 0;
  std::string topic;
  std::string message;
  std::string sender_id;
  bool consumed = false;
  int64_t created_at_ms = 0;
};

// What read_stream found (docs/streams.md).
struct StreamRead {
  std::vector<std::string> values;  // JSON text, at offsets from, from + 1, ... in order
  // No value follows the last one returned: the stream is closed there, or
  // its workflow had reached a terminal status before the rows were read.
  bool ended = false;
};

// The oldest unconsumed message of an inbox (peek_message).
struct WaitingMessage {
  int64_t message_id = 0;
  std::string message;  // JSON text
};

// A message waiting in an inbox, as the parking lot's polls see it.
struct MessageArrival {
  int64_t message_id = 0;
  std::string destination_id;
  std::string topic;
};
// How run_transaction runs a user's transaction.
struct TransactionMode {
  // Check the workflow and the op's position before the body runs (see
  // run_transaction).
  bool probe_first = false;
  // Unset: the backend's default, batched with other units. Set: a database
  // transaction of its own at that level (PostgreSQL; SQLite is always
  // serializable).
  std::optional<IsolationLevel> isolation;
};

// One row of the executors table: a process's lease on its executor id.
using ExecutorRecord = ExecutorInfo;

// The workflows of one queue that wait (ENQUEUED) and run (PENDING), in
// every process.
struct QueueCounts {
  int64_t enqueued = 0;
  int64_t pending = 0;
};

// --- schedules (sysdb/*/schedules.cpp; docs/schedules.md) ---
// One schedule as stored. policy: to_string(MissedTicks). last_tick_ms: the
// last tick the schedule moved past (started or skipped), epoch ms.
struct ScheduleRow {
  std::string name;
  std::string workflow_name;
  std::string cron;
  std::string time_zone;
  std::string policy;
  bool paused = false;
  int64_t last_tick_ms = 0;
};

// --- debouncing (sysdb/*/debounces.cpp; keel/debounce.hpp) ---
// One call of Runtime::debounce, as the upsert of its key's row sees it.
struct DebounceCall {
  std::string key;
  std::string workflow_name;
  std::string inputs;               // JSON text: replaces the burst's
  std::string queue_name;           // empty: started, not enqueued (first call's kept)
  std::string workflow_id;          // the target ID if this call begins a burst
  int64_t now_ms = 0;
  int64_t window_ms = 0;            // fire_at becomes now + window ...
  std::optional<int64_t> max_wait_ms;  // ... never past first_call + max_wait
};

// A stored burst (keel_debounces), waiting for its fire_at.
struct DebounceRow {
  std::string key;
  std::string workflow_name;
  std::string workflow_id;  // the target
  std::string queue_name;   // empty: none
  int64_t first_call_ms = 0;
  int64_t fire_at_ms = 0;
  int64_t calls = 0;
};

// What fire_debounce did.
struct [[nodiscard]] FiredDebounce {
  bool fired = false;    // this commit deleted the row (else: fired by another, or moved on)
  bool created = false;  // ... and inserted the target workflow (else its ID existed)
  std::string queue_name;  // empty: inserted PENDING under the firing executor
  WorkflowInfo info;     // when created: the row inserted (id, name, inputs, ...)
};

// The most IDs one batch call (get_workflows, count_recoveries) takes: one
// statement with a placeholder each, well below SQLite's and PostgreSQL's limits.
inline constexpr size_t kMaxBatchIds = 500;

class SystemDatabase {
 public:
  virtual ~SystemDatabase() = default;

  virtual void migrate() = 0;

  // --- workflows ---
  // Inserts the workflow unless its ID exists. When parent_op is given (a
  // child start), the parent's operation is recorded in the same commit.
  // A fork (runtime/fork.cpp): inserts wf PENDING with ops recorded (as they
  // are, under wf.id) and events set, in one commit, unless wf.id exists:
  // then nothing is written and `existing` holds that workflow.
  virtual InsertWorkflowResult insert_forked(const NewWorkflow& wf, const std::vector<OperationRecord>& ops,
                                             const std::vector<std::pair<std::string, std::string>>& events) = 0;
  virtual InsertWorkflowResult insert_workflow(const NewWorkflow& wf, const std::string& parent_id,
                                               const OperationRecord* parent_op) = 0;
  // Moves a PENDING workflow owned by this executor to a terminal status.
  // With last_ops (records the workflow deferred: its last step's, a recv's
  // consume; see record_operations), they are recorded in the same commit,
  // and the status moves only if they all went in: all or nothing.
  virtual FinishResult finish_workflow(const std::string& id, WorkflowStatus status,
                                       const std::optional<std::string>& output,
                                       const std::optional<RecordedErrorInfo>& error, int64_t now_ms,
                                       const std::vector<OperationRecord>& last_ops) = 0;
  virtual std::optional<WorkflowInfo> get_workflow(const std::string& id) = 0;
  // get_workflow of each of `ids` (at most kMaxBatchIds) in one read: the rows
  // that exist, in no particular order.
  virtual std::vector<WorkflowInfo> get_workflows(const std::vector<std::string>& ids) = 0;
  // One page of the workflows matching q (sysdb/workflow_query.hpp); throws
  // UsageError for a bad limit or cursor.
  virtual WorkflowPage list_workflows(const ListWorkflowsQuery& q) = 0;
  virtual std::vector<std::string> list_pending(const std::string& executor_id) = 0;
  // Deletes those of `ids` that are finished (a terminal status), with all
  // that is recorded for them (operations, events, the messages sent to
  // them), in one commit; returns the IDs it deleted. A workflow that is not
  // finished, or unknown, is left alone.
  virtual std::vector<std::string> delete_finished(const std::vector<std::string>& ids) = 0;
  // --- version routing (docs/upgrades.md) ---
  // An executor runs only workflows of its application version. Releases
  // (executor_id '') the PENDING workflows of executor_id recorded by
  // another version; returns how many.
  virtual int release_other_versions(const std::string& executor_id, const std::string& version) = 0;
  // Moves the released PENDING workflows of `version` to executor_id,
  // returning their IDs; each goes to exactly one claimant.
  virtual std::vector<std::string> claim_released(const std::string& executor_id, const std::string& version) = 0;
  // Counts one more recovery of each PENDING workflow of `ids` (at most
  // kMaxBatchIds), in one commit; returns their new counts (a workflow that
  // is not PENDING, or unknown, is left out).
  virtual std::map<std::string, int> count_recoveries(const std::vector<std::string>& ids, int64_t now_ms) = 0;
  // Moves the workflow from one of `from` to `to`; false when it was in none
  // of them. executor_id: its new owner ("": none, released); nullopt keeps it.
  [[nodiscard]] virtual bool transition(const std::string& id, const std::vector<WorkflowStatus>& from, WorkflowStatus to,
                          int64_t now_ms, bool reset_recovery, const std::optional<std::string>& executor_id) = 0;

  // --- operations ---
  virtual std::vector<OperationRecord> load_operations(const std::string& id) = 0;
  // Records ops (one or more, by increasing position) in one commit, all or
  // nothing, while the workflow is PENDING here; an op with
  // consumes_message_id marks that message consumed in the same commit.
  // When any position is taken nothing is written, and `taken` holds what
  // is recorded at the ops' positions (all of them the caller's own after a
  // retry whose first answer was lost; else another execution got there).
  // When no position is taken but the consumed message already is, nothing
  // is written either (message_consumed).
  virtual Checkpoint record_operations(const std::string& id, const std::vector<OperationRecord>& ops) = 0;
  Checkpoint record_operation(const std::string& id, const OperationRecord& op) {
    return record_operations(id, {op});
  }
  // Runs body in a database transaction and records op in the same commit,
  // with body's result as output; if body throws, its writes are rolled back
  // and the error (type, message) is recorded instead — except a
  // TransientDatabaseError (a serialization failure or deadlock, also one
  // the body caught and swallowed), which rolls everything back, records
  // nothing and is thrown for the caller to run the transaction again.
  // mode.probe_first: check the workflow and op's position before the body
  // runs. Without it a backend may run the body first and fence afterwards:
  // if the position is taken or the workflow no longer runs here, the body's
  // writes are rolled back (its code ran for nothing). A retry after a
  // failure of unknown outcome probes first, so a committed body does not
  // run again.
  virtual Checkpoint run_transaction(const std::string& id, OperationRecord op,
                                     const std::function<std::string(Sql&)>& body, TransactionMode mode) = 0;
  // ctx.continue_as_new: in one commit, while the workflow is PENDING here
  // and op's position is free, records op (the hand-over's marker), deletes
  // every record before it, replaces the workflow's inputs by `inputs` (JSON
  // text) and resets its recovery count. When the position is taken nothing
  // is written (`existing` holds what is there).
  virtual Checkpoint continue_as_new(const std::string& id, const OperationRecord& op, const std::string& inputs) = 0;

  // --- events ---
  virtual Checkpoint set_event(const std::string& id, const std::string& key, const std::string& value,
                               const OperationRecord& op) = 0;
  virtual std::optional<std::string> get_event(const std::string& id, const std::string& key) = 0;
  // Every event of the workflow, by key; values as stored (JSON text).
  virtual std::vector<StoredEvent> list_events(const std::string& id) = 0;

  // --- streams (docs/streams.md) ---
  // Appends value to the stream (id, key) at the next offset (0, 1, 2, ...
  // per stream), and records op in the same commit; nothing is written when
  // op's position is taken or the workflow no longer runs here (Checkpoint).
  // value nullopt: closes the stream (a row with a NULL value at the next
  // offset; no value is ever written after it: the runtime refuses).
  virtual Checkpoint write_stream(const std::string& id, const std::string& key,
                                  const std::optional<std::string>& value, const OperationRecord& op) = 0;
  // At most limit values of (id, key) from offset `from` on. The workflow's
  // status is read before the rows: when it was terminal, no row can follow.
  virtual StreamRead read_stream(const std::string& id, const std::string& key, int64_t from, int limit) = 0;

  // --- messages ---
  // Sends a message. From a workflow, op is recorded in the same commit and
  // the message is not inserted again if op was already recorded. With a
  // non-empty idempotency_key, a second send with that key does nothing.
  // Throws WorkflowNotFoundError when the destination does not exist.
  virtual SendResult send_message(const std::string& destination, const std::string& topic,
                                  const std::string& message, const std::string& idempotency_key,
                                  const std::string& sender_id, const OperationRecord* op) = 0;
  // The oldest unconsumed message for (destination, topic), read without
  // writing: a recv consumes it later, by recording its operation with
  // consumes_message_id (record_operations, finish_workflow). Only the
  // destination workflow's recvs consume its inbox, so the message stays
  // the oldest until then.
  virtual std::optional<WaitingMessage> peek_message(const std::string& destination, const std::string& topic) = 0;
  // Every message sent to the workflow, consumed or not, by message_id; at
  // most `limit`, from the first after after_message_id.
  virtual std::vector<StoredMessage> list_messages(const std::string& destination, int64_t after_message_id,
                                                   int limit) = 0;

  // --- queues (sysdb/*/queues.cpp) ---
  // Inserts the workflow as ENQUEUED in q.queue_name unless its ID exists
  // (then like insert_workflow), with wf.parent_id and wf.deadline_epoch_ms
  // (kept at dequeue unless q.timeout_ms replaces it). When parent_op is
  // given (ctx.enqueue), the parent's operation (wf.parent_id's) is recorded
  // in the same commit, as insert_workflow does. Throws DeduplicatedError,
  // writing nothing, when q.deduplication_id is held by an ENQUEUED or
  // PENDING workflow of the same queue; UsageError, writing nothing, when the
  // queue's stored declaration is partitioned and q.partition_key is empty,
  // or is not and it is set (no stored declaration: not checked).
  virtual InsertWorkflowResult enqueue_workflow(const NewWorkflow& wf, const QueuedFields& q,
                                                const OperationRecord* parent_op = nullptr) = 0;
  // In one transaction, serialised with every other dequeuer of the queue:
  // reads the queue's stored limits (r.queue's when none is stored), counts
  // what runs and what started within the rate period, then moves the
  // next ENQUEUED workflows (priority, created_at, id) up to the free capacity
  // to PENDING under r.executor_id, stamping started_at. Returns them.
  virtual std::vector<WorkflowInfo> dequeue(const DequeueRequest& r) = 0;
  // The stored declaration of spec.name (table keel_queues), in one
  // transaction: inserts spec when none is stored; replaces the stored one
  // with spec when `replace`. Returns what is stored afterwards (the caller
  // compares it with spec). The dequeue reads the stored limits itself.
  virtual QueueSpec declare_queue(const QueueSpec& spec, bool replace) = 0;
  // The stored declarations of these queues (those that have one), by name.
  virtual std::map<std::string, QueueSpec> stored_queues(const std::vector<std::string>& names) = 0;
  // The counts of each of these queues (one grouped read, on the queue
  // index; for the metrics). A queue without such workflows has zeros.
  virtual std::map<std::string, QueueCounts> queue_counts(const std::vector<std::string>& queues) = 0;
  // Throws IncompatibleDatabaseError unless the schema is exactly this build's
  // (for a Client, which does not migrate).
  virtual void require_current_schema() = 0;
  // --- batched reads for parked workflows (runtime/parking.hpp; backends' parking.cpp) ---
  // Unconsumed messages with message_id > after_message_id, by message_id, at most limit.
  virtual std::vector<MessageArrival> unconsumed_messages_after(int64_t after_message_id, int limit) = 0;
  // One (destination, topic) per inbox among destinations holding an unconsumed message.
  virtual std::vector<MessageArrival> unconsumed_messages_for(const std::vector<std::string>& destinations) = 0;
  // The status of each of ids that exists (any order).
  virtual std::vector<std::pair<std::string, WorkflowStatus>> workflow_statuses(
      const std::vector<std::string>& ids) = 0;
  // --- executor leases (src/runtime/executor_lease.hpp) ---
  // Times come from the backend's clock: this machine's on SQLite, the
  // server's on PostgreSQL (so hosts' clocks need not agree).
  // Takes the lease on me.executor_id for me.holder: creates its row, or
  // takes it over when it expired (no heartbeat for lease_ms) or its holder
  // is replace_holder (non-empty: a process known to be dead). Returns
  // nullopt on success, else the current holder's row (unchanged).
  virtual std::optional<ExecutorRecord> acquire_lease(const ExecutorRecord& me, int64_t lease_ms,
                                                      const std::string& replace_holder) = 0;
  // Renews the lease; false when the row is gone (another executor took this
  // one over: its PENDING workflows moved away) or another holder has it.
  // The heartbeat value strictly increases at every renewal (the clock's
  // time, or the previous value + 1 if the clock stepped back), so that a
  // peer watching it sees it move (ExecutorLease: liveness is judged by the
  // value moving, not by the clock).
  virtual bool renew_lease(const std::string& executor_id, const std::string& holder) = 0;
  // Marks the lease expired now, if holder still has it (clean shutdown): a
  // live peer takes over what this executor leaves PENDING at its next heartbeat.
  virtual void release_lease(const std::string& executor_id, const std::string& holder) = 0;
  virtual std::vector<ExecutorRecord> list_executors() = 0;
  // In one transaction: deletes dead's row if its heartbeat is still
  // observed_heartbeat_ms (the value the caller watched not move for a
  // lease), moves its PENDING workflows of application version `version` to
  // executor `to`, returning their IDs, and releases those of other versions
  // (executor_id '', for claim_released by their version's executors);
  // nullopt when dead renewed meanwhile or another executor claimed it first.
  virtual std::optional<std::vector<std::string>> take_over(const std::string& dead, const std::string& to,
                                                            const std::string& version,
                                                            int64_t observed_heartbeat_ms) = 0;

  // --- schedules (sysdb/*/schedules.cpp) ---
  // Stores the declaration: inserts it (row.last_tick_ms is its first last
  // tick: nothing before runs) unless the name is stored; a stored one takes
  // row's workflow name, cron, zone and policy, and keeps paused and its
  // last tick.
  virtual void declare_schedule(const ScheduleRow& row) = 0;
  // Every stored schedule, by name.
  virtual std::vector<ScheduleRow> list_schedules() = 0;
  // Moves the last tick forward to tick_ms (never back: executors racing
  // over the same ticks all end at the latest).
  virtual void advance_schedule(const std::string& name, int64_t tick_ms) = 0;
  // Pauses or resumes; resuming a paused schedule also moves its last tick
  // to now_ms (the ticks of the pause do not run). False when not stored.
  [[nodiscard]] virtual bool set_schedule_paused(const std::string& name, bool paused, int64_t now_ms) = 0;
  // Forgets a stored schedule (its last tick and pause too). False when not stored.
  [[nodiscard]] virtual bool delete_schedule(const std::string& name) = 0;

  // --- debouncing (sysdb/*/debounces.cpp; keel/debounce.hpp) ---
  // Upserts call.key's burst in one transaction: no row: inserts one with
  // target call.workflow_id, first_call = fire_at - window = now; a row:
  // replaces its inputs, fire_at = now + window capped at its first call's
  // max_wait deadline, counts the call. Returns the burst's target ID.
  // Throws WorkflowConflictError, writing nothing, when the key's burst is
  // of another workflow name.
  virtual std::string debounce(const DebounceCall& call) = 0;
  // The bursts of these workflow names with the earliest fire_at, at most
  // limit, by fire_at.
  virtual std::vector<DebounceRow> next_debounces(const std::vector<std::string>& workflow_names, int limit) = 0;
  // In one transaction: deletes key's row if it still targets workflow_id
  // and is due at now_ms, and then inserts its workflow (PENDING under
  // executor_id, or ENQUEUED in its queue) unless that ID exists. Racing
  // firers: one fires, the others find no row.
  virtual FiredDebounce fire_debounce(const std::string& key, const std::string& workflow_id,
                                      const std::string& executor_id, const std::string& version, int64_t now_ms) = 0;
  // Whether a burst waits to start this workflow ID (a handle's wait).
  virtual bool debounce_targets(const std::string& workflow_id) = 0;

  // --- the application's SQL ---
  virtual void run_sql_write(const std::function<void(Sql&)>& fn) = 0;
  virtual void run_sql_read(const std::function<void(Sql&)>& fn) = 0;

  // --- wake-ups caused by other processes ---
  // Installs the sink for wake-ups that the backend learns of (PostgreSQL:
  // LISTEN/NOTIFY): sink(key) wakes the waiters of one notifier key
  // (an encoded WakeKey, common/wake_key.hpp), sink("") wakes every waiter
  // (wake-ups may have been lost). Called on a backend thread. An empty sink
  // stops delivery; once set_wakeup_sink returns, the previous sink is no
  // longer called. Default: none (waits poll).
  virtual void set_wakeup_sink(std::function<void(const std::string& key)> sink) { (void)sink; }

  // --- metrics ---
  // The committer's batches and the connections' reconnects (metrics/catalog.hpp).
  const metrics::DatabaseMetrics& metrics() const { return metrics_; }

 protected:
  metrics::DatabaseMetrics metrics_;
};

// Opens the backend named by config.database_url. Throws ConfigError for an
// invalid config (keel::validate), DatabaseError / IncompatibleDatabaseError
// when the database is unusable.
std::unique_ptr<SystemDatabase> open_system_database(const RuntimeConfig& config);

}  // namespace keel::sysdb
