// What the `keel` command prints on a terminal: each result as a table or
// as "key: value" lines, times as ages ("3m ago") and durations in human
// units (human.hpp). The JSON views (src/admin/json_views.hpp) print the
// same results for scripts. `now_ms` is the present (ages); `width` the
// terminal's (table.hpp).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/bulk.hpp"
#include "keel/schedule.hpp"
#include "keel/status.hpp"

namespace keel::cli {

// ID, NAME, STATUS, CREATED (age), DURATION (created to last change, for a
// finished workflow), VERSION, QUEUE; "N of TOTAL" when counted.
std::string list_view(const WorkflowPage& page, int64_t now_ms, int width);
// Every field, one per line.
std::string workflow_view(const WorkflowInfo& info, int64_t now_ms, int width);
// A timeline: #, NAME, KIND, START (offset from the first step), DURATION,
// a bar of where the step falls in the whole run, OUTCOME (ok, the error,
// or the child started).
std::string steps_view(const std::string& workflow_id, const std::vector<StepInfo>& steps, int width);
std::string events_view(const std::vector<EventInfo>& events, int64_t now_ms, int width);
std::string messages_view(const std::vector<MessageInfo>& messages, int64_t now_ms, int width);
std::string executors_view(const std::vector<ExecutorInfo>& executors, int64_t now_ms, int width);
// NAME, WORKFLOW, CRON, ZONE, MISSED, STATE (active/paused), NEXT (UTC).
std::string schedules_view(const std::vector<ScheduleInfo>& schedules, int width);

// "cancelled 12 of 12 matching workflows", then the failures; for a dry run,
// how many match, that nothing changed, and how to act. verb: "cancel", ...;
// past_verb: "cancelled", ...
std::string bulk_view(const BulkResult& result, bool dry_run, const std::string& verb, const std::string& past_verb,
                      int width);

// The width of the timeline's bar, in columns.
inline constexpr int kBarWidth = 20;

}  // namespace keel::cli
