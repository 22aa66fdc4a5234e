// keel/status.hpp — what the system database says about a workflow.
//
// Contract: plain value types, read from the database at one instant; they
// are snapshots and do not change when the workflow moves on.
// The status state machine (docs/schema.md):
//   ENQUEUED -> PENDING (dequeued) -> SUCCESS | ERROR | CANCELLED | MAX_RECOVERY_ATTEMPTS_EXCEEDED
//   CANCELLED / MAX_RECOVERY_ATTEMPTS_EXCEEDED -> PENDING (resume), or
//   ENQUEUED again for a workflow of a queue
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "keel/serialization.hpp"

namespace keel {

enum class WorkflowStatus { Enqueued, Pending, Success, Error, Cancelled, MaxRecoveryAttemptsExceeded };

std::string to_string(WorkflowStatus s);
// Throws keel::SerializationError on an unknown name.
WorkflowStatus workflow_status_from_string(const std::string& s);
// SUCCESS, ERROR, CANCELLED and MAX_RECOVERY_ATTEMPTS_EXCEEDED are terminal:
// the workflow runs no more unless resumed.
bool is_terminal(WorkflowStatus s);

struct RecordedErrorInfo {
  std::string type_name;
  std::string message;
};

struct WorkflowInfo {
  std::string id;
  std::string name;
  WorkflowStatus status = WorkflowStatus::Pending;
  Json inputs;                                 // JSON array of the arguments
  std::optional<Json> output;                  // on SUCCESS
  std::optional<RecordedErrorInfo> error;      // on ERROR
  std::string executor_id;
  std::string application_version;
  std::string parent_id;                       // empty for a top-level workflow
  std::string queue_name;                      // empty unless enqueued (keel/queue.hpp)
  int recovery_attempts = 0;
  std::optional<int64_t> deadline_epoch_ms;    // workflow timeout, if any
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct StepInfo {
  int function_id = 0;
  std::string name;
  std::optional<Json> output;
  std::optional<RecordedErrorInfo> error;
  std::string child_workflow_id;
  int64_t started_at_ms = 0;
  int64_t completed_at_ms = 0;
};

// One executor's lease (Runtime::list_executors; docs/postgres.md). A row
// whose heartbeat is older than lease_timeout is a dead executor, until a
// live one takes it over (and deletes the row).
struct ExecutorInfo {
  std::string executor_id;
  std::string application_version;
  std::string holder;  // the process holding the lease: "host:pid"
  int64_t heartbeat_at_ms = 0;  // the backend's clock; 0 after a clean shutdown
  int64_t started_at_ms = 0;
};

struct ListWorkflowsQuery {
  std::optional<WorkflowStatus> status;
  std::optional<std::string> name;
  int limit = 100;
};

}  // namespace keel
