#include "json_views.hpp"

namespace keel::admin {

namespace {
Json optional_string(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }
}  // namespace

Json to_json(const RecordedErrorInfo& error) { return Json{{"type", error.type_name}, {"message", error.message}}; }

Json to_json(const WorkflowInfo& info) {
  return Json{
      {"id", info.id},
      {"name", info.name},
      {"status", to_string(info.status)},
      {"inputs", info.inputs},
      {"output", info.output ? *info.output : Json(nullptr)},
      {"error", info.error ? to_json(*info.error) : Json(nullptr)},
      {"executor_id", info.executor_id},
      {"application_version", info.application_version},
      {"parent_id", optional_string(info.parent_id)},
      {"queue_name", optional_string(info.queue_name)},
      {"recovery_attempts", info.recovery_attempts},
      {"deadline_epoch_ms", info.deadline_epoch_ms ? Json(*info.deadline_epoch_ms) : Json(nullptr)},
      {"created_at_ms", info.created_at_ms},
      {"updated_at_ms", info.updated_at_ms},
  };
}

Json to_json(const StepInfo& step) {
  return Json{
      {"function_id", step.function_id},
      {"name", step.name},
      {"kind", step.kind == OperationKind::Unknown ? Json(nullptr) : Json(to_string(step.kind))},
      {"output", step.output ? *step.output : Json(nullptr)},
      {"error", step.error ? to_json(*step.error) : Json(nullptr)},
      {"child_workflow_id", optional_string(step.child_workflow_id)},
      {"started_at_ms", step.started_at_ms},
      {"completed_at_ms", step.completed_at_ms},
      {"attempts", step.attempts > 0 ? Json(step.attempts) : Json(nullptr)},  // null: not counted (old row)
  };
}

Json events_to_json(const std::string& workflow_id, const std::vector<EventInfo>& events) {
  Json list = Json::array();
  for (const auto& e : events)
    list.push_back(Json{{"key", e.key}, {"value", e.value}, {"updated_at_ms", e.updated_at_ms}});
  return Json{{"workflow_id", workflow_id}, {"events", std::move(list)}};
}

Json messages_to_json(const std::string& workflow_id, const std::vector<MessageInfo>& messages) {
  Json list = Json::array();
  for (const auto& m : messages)
    list.push_back(Json{{"message_id", m.message_id},
                        {"topic", m.topic},
                        {"message", m.message},
                        {"sender_id", optional_string(m.sender_id)},
                        {"consumed", m.consumed},
                        {"created_at_ms", m.created_at_ms}});
  Json next = messages.empty() ? Json(nullptr) : Json(messages.back().message_id);
  return Json{{"workflow_id", workflow_id}, {"messages", std::move(list)}, {"next_after", std::move(next)}};
}

Json workflows_to_json(const std::vector<WorkflowInfo>& workflows) {
  Json list = Json::array();
  for (const auto& w : workflows) list.push_back(to_json(w));
  return Json{{"workflows", std::move(list)}};
}

Json bulk_to_json(const BulkResult& result, bool dry_run) {
  Json failures = Json::array();
  for (const auto& f : result.failures) failures.push_back({{"workflow_id", f.workflow_id}, {"message", f.message}});
  return Json{{"dry_run", dry_run},
              {"matched", result.matched},
              {"changed", result.changed},
              {"failed", result.failed},
              {"failures", std::move(failures)}};
}

Json page_to_json(const WorkflowPage& page) {
  Json out = workflows_to_json(page.workflows);
  out["next_cursor"] = page.next_cursor.empty() ? Json(nullptr) : Json(page.next_cursor);
  out["total"] = page.total ? Json(*page.total) : Json(nullptr);
  return out;
}

Json steps_to_json(const std::string& workflow_id, const std::vector<StepInfo>& steps) {
  Json list = Json::array();
  for (const auto& s : steps) list.push_back(to_json(s));
  return Json{{"workflow_id", workflow_id}, {"steps", std::move(list)}};
}

Json executors_to_json(const std::vector<ExecutorView>& executors, int64_t now_ms, int64_t lease_timeout_ms) {
  Json list = Json::array();
  for (const auto& [e, held] : executors) {
    // A heartbeat of 0 is a clean shutdown (ExecutorInfo::heartbeat_at_ms).
    const bool stopped = e.heartbeat_at_ms == 0;
    const int64_t age = now_ms - e.heartbeat_at_ms;
    const char* state = stopped ? "stopped" : (age < lease_timeout_ms ? "live" : "dead");
    list.push_back(Json{{"executor_id", e.executor_id},
                        {"application_version", e.application_version},
                        {"holder", e.holder},
                        {"heartbeat_at_ms", e.heartbeat_at_ms},
                        {"started_at_ms", e.started_at_ms},
                        {"state", state},
                        {"heartbeat_age_ms", stopped ? Json(nullptr) : Json(age)},
                        {"lease_age_ms", e.started_at_ms == 0 ? Json(nullptr) : Json(now_ms - e.started_at_ms)},
                        {"workflows_held", held}});
  }
  return Json{{"now_ms", now_ms}, {"lease_timeout_ms", lease_timeout_ms}, {"executors", std::move(list)}};
}

Json schedules_to_json(const std::vector<ScheduleInfo>& schedules) {
  Json list = Json::array();
  for (const auto& s : schedules)
    list.push_back(Json{{"name", s.name},
                        {"workflow_name", s.workflow_name},
                        {"cron", s.cron},
                        {"time_zone", s.time_zone},
                        {"missed", to_string(s.missed)},
                        {"paused", s.paused},
                        {"last_tick_epoch_ms", s.last_tick_epoch_ms},
                        {"next_tick_epoch_ms", s.next_tick_epoch_ms ? Json(*s.next_tick_epoch_ms) : Json(nullptr)}});
  return Json{{"schedules", std::move(list)}};
}

Json queues_to_json(const std::vector<QueueInfo>& queues) {
  auto optional_int = [](const std::optional<int>& v) { return v ? Json(*v) : Json(nullptr); };
  Json list = Json::array();
  for (const auto& q : queues) {
    const QueueOptions& o = q.options;
    Json rate = o.rate_limit ? Json{{"limit", o.rate_limit->limit}, {"period_ms", o.rate_limit->period.count()}}
                             : Json(nullptr);
    list.push_back(Json{{"name", o.name},
                        {"enqueued", q.enqueued},
                        {"running", q.running},
                        {"concurrency", optional_int(o.concurrency)},
                        {"worker_concurrency", optional_int(o.worker_concurrency)},
                        {"rate_limit", std::move(rate)},
                        {"priority_enabled", o.priority_enabled},
                        {"partitioned", o.partitioned}});
  }
  return Json{{"queues", std::move(list)}};
}

Json error_to_json(const std::string& code, const std::string& message) {
  return Json{{"error", code}, {"message", message}};
}

std::string dump(const Json& j, int indent) { return j.dump(indent, ' ', false, Json::error_handler_t::replace); }

}  // namespace keel::admin
