/// @file
/// keel/status.hpp — what the system database says about a workflow.
///
/// Contract: plain value types, read from the database at one instant; they
/// are snapshots and do not change when the workflow moves on.
/// The status state machine (docs/schema.md):
/// ~~~{.unparsed}
///   ENQUEUED -> PENDING (dequeued) -> SUCCESS | ERROR | CANCELLED | MAX_RECOVERY_ATTEMPTS_EXCEEDED
///   CANCELLED / MAX_RECOVERY_ATTEMPTS_EXCEEDED -> PENDING (resume), or
///   ENQUEUED again for a workflow of a queue
/// ~~~
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "keel/serialization.hpp"

namespace keel {

/// A workflow's status, stored as its name (to_string); keel/status.hpp has
/// the state machine.
enum class WorkflowStatus {
  Enqueued,                    ///< ENQUEUED: waiting in its queue to be dequeued
  Pending,                     ///< PENDING: running, waiting, or to be recovered
  Success,                     ///< SUCCESS: returned; its output is recorded
  Error,                       ///< ERROR: threw; its error is recorded
  Cancelled,                   ///< CANCELLED: cancelled, or its timeout passed
  MaxRecoveryAttemptsExceeded  ///< MAX_RECOVERY_ATTEMPTS_EXCEEDED: dead-lettered
};

/// The status's name in the database: "ENQUEUED", "PENDING", "SUCCESS",
/// "ERROR", "CANCELLED" or "MAX_RECOVERY_ATTEMPTS_EXCEEDED".
std::string to_string(WorkflowStatus s);
/// Throws keel::SerializationError on an unknown name.
WorkflowStatus workflow_status_from_string(const std::string& s);
/// SUCCESS, ERROR, CANCELLED and MAX_RECOVERY_ATTEMPTS_EXCEEDED are terminal:
/// the workflow runs no more unless resumed.
bool is_terminal(WorkflowStatus s);

/// An error as the system database records it.
struct RecordedErrorInfo {
  std::string type_name;  ///< the demangled C++ type name of the exception
  std::string message;    ///< its what()
};

/// A workflow's row in the system database (Runtime::get_workflow, list_workflows).
struct WorkflowInfo {
  std::string id;                              ///< the workflow ID
  std::string name;                            ///< the registered workflow name
  WorkflowStatus status = WorkflowStatus::Pending;  ///< its status when it was read
  Json inputs;                                 ///< JSON array of the arguments
  std::optional<Json> output;                  ///< on SUCCESS
  std::optional<RecordedErrorInfo> error;      ///< on ERROR
  std::string executor_id;                     ///< the executor that runs or ran it (ENQUEUED: the enqueuer)
  std::string application_version;             ///< as recorded when it was started or enqueued
  std::string parent_id;                       ///< empty for a top-level workflow
  std::string queue_name;                      ///< empty unless enqueued (keel/queue.hpp)
  int recovery_attempts = 0;                   ///< times recovered (RuntimeConfig::max_recovery_attempts)
  std::optional<int64_t> deadline_epoch_ms;    ///< workflow timeout, if any
  int64_t created_at_ms = 0;                   ///< when it was started or enqueued, epoch milliseconds
  int64_t updated_at_ms = 0;                   ///< when its row last changed, epoch milliseconds
};

/// What kind of operation a record is (StepInfo::kind). Recorded with each
/// operation, so that the replay of a history tells a step from a
/// transaction of the same name (NonDeterminismError, keel::verify_histories).
enum class OperationKind {
  Unknown,      ///< recorded before Keel recorded kinds (schema: docs/schema.md)
  Step,         ///< Context::step
  Transaction,  ///< Context::transaction
  Keel,         ///< Keel's own operations (keel.*: recv, send, sleep, events, children, patches)
};

/// The kind's name in the database: "step", "transaction", "keel"; "" for Unknown.
std::string to_string(OperationKind k);
/// The kind named s; Unknown for "" (a record without a kind). Throws
/// keel::SerializationError on any other name.
OperationKind operation_kind_from_string(const std::string& s);

/// One recorded operation of a workflow (Runtime::list_steps).
struct StepInfo {
  int function_id = 0;                     ///< its position in the workflow, from 1
  std::string name;                        ///< the step's name; Keel's own operations are keel.*
  OperationKind kind = OperationKind::Unknown;  ///< step, transaction, or Keel's own
  std::optional<Json> output;              ///< the recorded result, if it succeeded
  std::optional<RecordedErrorInfo> error;  ///< the recorded error, if it failed
  std::string child_workflow_id;           ///< the child of a start_child, else empty
  int64_t started_at_ms = 0;               ///< when it started, epoch milliseconds
  int64_t completed_at_ms = 0;             ///< when its outcome was recorded, epoch milliseconds
  /// How many times a step's body ran: 1, or more after retries
  /// (StepOptions::max_attempts); 1 for every other operation. 0 when it was
  /// recorded before Keel counted attempts (schema: SQLite 6, PostgreSQL 9).
  int attempts = 0;
};

/// One executor's lease (Runtime::list_executors; docs/postgres.md). A row
/// whose heartbeat is older than lease_timeout is a dead executor, until a
/// live one takes it over (and deletes the row).
struct ExecutorInfo {
  std::string executor_id;          ///< the executor id the lease is on
  std::string application_version;  ///< the holder's RuntimeConfig::application_version
  std::string holder;  ///< the process holding the lease: "host:pid"
  int64_t heartbeat_at_ms = 0;  ///< the backend's clock; 0 after a clean shutdown
  int64_t started_at_ms = 0;    ///< when the holder took the lease, on the same clock
};

/// One event of a workflow (Runtime::get_all_events): the latest value set
/// for its key.
struct EventInfo {
  std::string key;            ///< the event's key
  Json value;                 ///< its latest value
  int64_t updated_at_ms = 0;  ///< when that value was set, epoch milliseconds
};

/// One message sent to a workflow (Runtime::list_messages), consumed or not.
struct MessageInfo {
  int64_t message_id = 0;     ///< its order of arrival
  std::string topic;          ///< its topic ("" for none)
  Json message;               ///< the message
  std::string sender_id;      ///< the sending workflow, or empty when sent from outside one
  bool consumed = false;      ///< a recv of the workflow took it
  int64_t created_at_ms = 0;  ///< when it was sent, epoch milliseconds
};

/// The order list_workflows returns workflows in: by creation time, ties
/// broken by workflow ID (byte order) in the same direction.
enum class ListOrder {
  NewestFirst,  ///< latest created first (the default)
  OldestFirst,  ///< earliest created first
};

/// Which workflows list_workflows returns (Runtime and Client). Every filter
/// that is set must match (AND); an empty `statuses` matches any status.
/// Times are epoch milliseconds, ranges half-open: after <= t < before.
///
/// Indexed (docs/operations.md, "Finding workflows"): status, name, ID
/// prefix, parent, queue and the created range answer a page of 100 from
/// millions of rows in milliseconds; executor, version and the updated range
/// only narrow what those (or the creation order) find.
struct ListWorkflowsQuery {
  std::vector<WorkflowStatus> statuses;            ///< any of these statuses (empty: all)
  std::optional<std::string> name;                 ///< only this workflow name
  std::optional<std::string> id_prefix;            ///< only IDs starting with these bytes
  std::optional<int64_t> created_after_ms;         ///< created at or after
  std::optional<int64_t> created_before_ms;        ///< created before
  std::optional<int64_t> updated_after_ms;         ///< row last changed at or after
  std::optional<int64_t> updated_before_ms;        ///< row last changed before
  std::optional<std::string> queue_name;           ///< only workflows of this queue
  std::optional<std::string> application_version;  ///< only this application version
  std::optional<std::string> executor_id;          ///< only this executor ("" : released, held by none)
  std::optional<std::string> parent_id;            ///< only the children of this workflow
  ListOrder order = ListOrder::NewestFirst;        ///< by creation time, either way
  int limit = 100;                                 ///< at most this many: 1 to kMaxListLimit
  /// Continue after the page that returned it (WorkflowPage::next_cursor);
  /// empty: from the start. Keyset pagination: rows inserted meanwhile never
  /// shift a page (a new row shows on the pages it sorts into).
  std::string cursor;
  bool count_total = false;  ///< also count every match (WorkflowPage::total): one more query
};

/// The largest ListWorkflowsQuery::limit.
inline constexpr int kMaxListLimit = 10000;

/// One page of list_workflows_page.
struct WorkflowPage {
  std::vector<WorkflowInfo> workflows;  ///< in the query's order
  /// Pass as ListWorkflowsQuery::cursor (with the same order) for the next
  /// page; empty when this page is the last.
  std::string next_cursor;
  std::optional<int64_t> total;  ///< every match, ignoring cursor and limit, when count_total
};

}  // namespace keel
