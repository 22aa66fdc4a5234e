// JSON views of Keel's status snapshots, shared by the admin HTTP server and
// the `keel` command so that both print the same shapes.
//
// Shapes (every key is always present; absent values are null):
//   workflow: {"id", "name", "status", "inputs", "output", "error",
//              "executor_id", "application_version", "parent_id",
//              "recovery_attempts", "deadline_epoch_ms", "created_at_ms",
//              "updated_at_ms"}
//   step:     {"function_id", "name", "kind", "output", "error",
//              "child_workflow_id", "started_at_ms", "completed_at_ms"}
//   events:   {"workflow_id", "events": [{"key", "value", "updated_at_ms"}...]}
//   messages: {"workflow_id", "messages": [{"message_id", "topic", "message",
//              "sender_id", "consumed", "created_at_ms"}...], "next_after"}
//              (next_after: the last message_id, to page on; null when none)
//   error:    {"type", "message"}
//   bulk:     {"dry_run", "matched", "changed", "failed",
//              "failures": [{"workflow_id", "message"}...]}
//   list:     {"workflows": [workflow...], "next_cursor", "total"}
//              (next_cursor: the next page's cursor, null on the last page;
//              total: every match, null unless counted)
//   steps:    {"workflow_id", "steps": [step...]}
//   executors: {"now_ms", "lease_timeout_ms", "executors": [{"executor_id",
//              "application_version", "holder", "heartbeat_at_ms",
//              "started_at_ms", "state", "heartbeat_age_ms", "lease_age_ms",
//              "workflows_held"}...]}
//              (state: "live", "dead" (no heartbeat for lease_timeout: a
//              live executor will take it over) or "stopped" (a clean
//              shutdown); ages null when unknown; workflows_held: its PENDING
//              workflows)
//   queues:   {"queues": [{"name", "enqueued", "running", "concurrency",
//              "worker_concurrency", "rate_limit": {"limit", "period_ms"},
//              "priority_enabled"}...]} (unset limits null)
//   schedules: {"schedules": [{"name", "workflow_name", "cron", "time_zone",
//              "missed", "paused", "last_tick_epoch_ms",
//              "next_tick_epoch_ms"}...]}
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "keel/bulk.hpp"
#include "keel/queue.hpp"
#include "keel/schedule.hpp"
#include "keel/serialization.hpp"
#include "keel/status.hpp"

namespace keel::admin {

Json to_json(const WorkflowInfo& info);
Json to_json(const StepInfo& step);
Json to_json(const RecordedErrorInfo& error);
Json workflows_to_json(const std::vector<WorkflowInfo>& workflows);
Json page_to_json(const WorkflowPage& page);
Json bulk_to_json(const BulkResult& result, bool dry_run);
Json steps_to_json(const std::string& workflow_id, const std::vector<StepInfo>& steps);
Json events_to_json(const std::string& workflow_id, const std::vector<EventInfo>& events);
Json messages_to_json(const std::string& workflow_id, const std::vector<MessageInfo>& messages);

// One executor's lease as seen at now_ms; workflows_held: its PENDING workflows.
struct ExecutorView {
  ExecutorInfo info;
  int64_t workflows_held = 0;
};
Json executors_to_json(const std::vector<ExecutorView>& executors, int64_t now_ms, int64_t lease_timeout_ms);
Json queues_to_json(const std::vector<QueueInfo>& queues);
Json schedules_to_json(const std::vector<ScheduleInfo>& schedules);

// The error body of the admin API and of the CLI: {"error": code, "message": message}.
Json error_to_json(const std::string& code, const std::string& message);

// Serializes for output: never throws on invalid UTF-8 in stored values
// (replaces the bad bytes). indent < 0 is compact.
std::string dump(const Json& j, int indent = -1);

}  // namespace keel::admin
