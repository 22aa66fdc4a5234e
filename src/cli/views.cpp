#include "views.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "human.hpp"
#include "json_views.hpp"
#include "table.hpp"

namespace keel::cli {

namespace {

constexpr const char* kNone = "-";

std::string or_none(const std::string& s) { return s.empty() ? kNone : s; }

// A JSON value on one line; a string without its quotes.
std::string compact(const Json& j) { return j.is_string() ? j.get<std::string>() : admin::dump(j); }

// "1 matching workflow", "12 matching workflows".
std::string matching(int64_t n) { return fmt::format("{} matching workflow{}", n, n == 1 ? "" : "s"); }

std::string error_text(const RecordedErrorInfo& e) { return e.type_name + ": " + e.message; }

// Created to last change: how long a finished workflow took. A running one's
// last change is no end, so it has none.
std::string run_duration(const WorkflowInfo& w) {
  return is_terminal(w.status) ? human_duration(w.updated_at_ms - w.created_at_ms) : kNone;
}

std::string step_outcome(const StepInfo& s) {
  if (s.error) return "error " + error_text(*s.error);
  if (!s.child_workflow_id.empty()) return "child " + s.child_workflow_id;
  return "ok";
}

// Where [begin, end) falls in [first, last], as a bar of kBarWidth columns:
// "|..####..........|" (dots, not blanks: a run of blanks reads as a column
// gap). At least one mark, so that an instant still shows.
std::string bar(int64_t begin, int64_t end, int64_t first, int64_t last) {
  const int64_t span = std::max<int64_t>(last - first, 1);
  auto column = [&](int64_t t) { return static_cast<int>((t - first) * kBarWidth / span); };
  int from = std::clamp(column(begin), 0, kBarWidth - 1);
  int to = std::clamp(column(end), from + 1, kBarWidth);
  return "|" + std::string(from, '.') + std::string(to - from, '#') + std::string(kBarWidth - to, '.') + "|";
}

}  // namespace

std::string list_view(const WorkflowPage& page, int64_t now_ms, int width) {
  if (page.workflows.empty()) {
    // A cursor past the last page finds none, though some match.
    if (page.total && *page.total > 0) return fmt::format("no more workflows ({})\n", matching(*page.total));
    return "no workflows match\n";
  }
  Table t({{"ID"}, {"NAME"}, {"STATUS", false, false}, {"CREATED", false, false}, {"DURATION", true, false},
           {"VERSION"}, {"QUEUE"}});
  for (const auto& w : page.workflows)
    t.add_row({w.id, w.name, to_string(w.status), human_age(w.created_at_ms, now_ms), run_duration(w),
               w.application_version, or_none(w.queue_name)});
  std::string out = t.render(width);
  if (page.total) out += fmt::format("{} of {}\n", page.workflows.size(), matching(*page.total));
  return out;
}

std::string workflow_view(const WorkflowInfo& w, int64_t now_ms, int width) {
  std::vector<std::pair<std::string, std::string>> p{
      {"id", w.id},
      {"name", w.name},
      {"status", to_string(w.status)},
      {"version", w.application_version},
      {"executor", w.executor_id.empty() ? "none (waiting for an executor of its version)" : w.executor_id},
      {"queue", or_none(w.queue_name)},
      {"parent", or_none(w.parent_id)},
      {"created", iso_time(w.created_at_ms) + " (" + human_age(w.created_at_ms, now_ms) + ")"},
      {"updated", iso_time(w.updated_at_ms) + " (" + human_age(w.updated_at_ms, now_ms) + ")"},
      {"duration", run_duration(w)},
      {"recoveries", std::to_string(w.recovery_attempts)},
      {"deadline", w.deadline_epoch_ms ? iso_time(*w.deadline_epoch_ms) : kNone},
      {"inputs", compact(w.inputs)},
  };
  if (w.output) p.emplace_back("output", compact(*w.output));
  if (w.error) p.emplace_back("error", error_text(*w.error));
  return render_pairs(p, width);
}

std::string steps_view(const std::string& workflow_id, const std::vector<StepInfo>& steps, int width) {
  if (steps.empty()) return workflow_id + ": no steps recorded\n";
  int64_t first = steps.front().started_at_ms, last = steps.front().completed_at_ms;
  for (const auto& s : steps) {
    first = std::min(first, s.started_at_ms);
    last = std::max(last, s.completed_at_ms);
  }
  Table t({{"#", true, false}, {"NAME"}, {"KIND", false, false}, {"START", true, false}, {"DURATION", true, false},
           {"TRIES", true, false}, {"TIMELINE", false, false}, {"OUTCOME"}});
  for (const auto& s : steps)
    t.add_row({std::to_string(s.function_id), s.name, or_none(to_string(s.kind)),
               "+" + human_duration(s.started_at_ms - first), human_duration(s.completed_at_ms - s.started_at_ms),
               s.attempts > 0 ? std::to_string(s.attempts) : "-", bar(s.started_at_ms, s.completed_at_ms, first, last),
               step_outcome(s)});
  return fmt::format("{}: {} steps over {}\n", workflow_id, steps.size(), human_duration(last - first)) +
         t.render(width);
}

std::string events_view(const std::vector<EventInfo>& events, int64_t now_ms, int width) {
  if (events.empty()) return "no events\n";
  Table t({{"KEY"}, {"VALUE"}, {"SET", false, false}});
  for (const auto& e : events) t.add_row({e.key, compact(e.value), human_age(e.updated_at_ms, now_ms)});
  return t.render(width);
}

std::string messages_view(const std::vector<MessageInfo>& messages, int64_t now_ms, int width) {
  if (messages.empty()) return "no messages\n";
  Table t({{"ID", true, false}, {"TOPIC"}, {"MESSAGE"}, {"SENDER"}, {"CONSUMED", false, false},
           {"SENT", false, false}});
  // A message sent from outside a workflow is recorded without its time (0).
  for (const auto& m : messages)
    t.add_row({std::to_string(m.message_id), or_none(m.topic), compact(m.message), or_none(m.sender_id),
               m.consumed ? "yes" : "no", m.created_at_ms == 0 ? kNone : human_age(m.created_at_ms, now_ms)});
  return t.render(width);
}

std::string executors_view(const std::vector<ExecutorInfo>& executors, int64_t now_ms, int width) {
  if (executors.empty()) return "no executors\n";
  Table t({{"EXECUTOR"}, {"VERSION"}, {"HOLDER"}, {"HEARTBEAT", false, false}, {"STARTED", false, false}});
  for (const auto& e : executors)
    // A heartbeat of 0 is a clean shutdown (ExecutorInfo::heartbeat_at_ms).
    t.add_row({e.executor_id, e.application_version, e.holder,
               e.heartbeat_at_ms == 0 ? "stopped" : human_age(e.heartbeat_at_ms, now_ms),
               human_age(e.started_at_ms, now_ms)});
  return t.render(width);
}

std::string schedules_view(const std::vector<ScheduleInfo>& schedules, int width) {
  if (schedules.empty()) return "no schedules\n";
  Table t({{"NAME"}, {"WORKFLOW"}, {"CRON"}, {"ZONE"}, {"MISSED", false, false}, {"STATE", false, false},
           {"NEXT", false, false}});
  for (const auto& s : schedules)
    t.add_row({s.name, s.workflow_name, s.cron, s.time_zone, to_string(s.missed), s.paused ? "paused" : "active",
               s.paused ? "-" : (s.next_tick_epoch_ms ? iso_time(*s.next_tick_epoch_ms) : "?")});
  return t.render(width);
}

std::string bulk_view(const BulkResult& r, bool dry_run, const std::string& verb, const std::string& past_verb,
                      int width) {
  if (dry_run)
    return fmt::format("dry run: {}; none {} (run again with --yes to {} them)\n", matching(r.matched), past_verb,
                       verb);
  std::string out = fmt::format("{} {} of {}", past_verb, r.changed, matching(r.matched));
  if (r.failed == 0) return out + "\n";
  out += fmt::format("; {} failed\n", r.failed);
  Table t({{"WORKFLOW"}, {"ERROR"}});
  for (const auto& f : r.failures) t.add_row({f.workflow_id, f.message});
  out += t.render(width);
  if (r.failed > static_cast<int64_t>(r.failures.size()))
    out += fmt::format("(and {} more)\n", r.failed - static_cast<int64_t>(r.failures.size()));
  return out;
}

}  // namespace keel::cli
