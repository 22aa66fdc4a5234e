#include "runtime/inspection.hpp"

#include "keel/errors.hpp"

namespace keel::detail {

std::vector<StepInfo> steps_of(sysdb::SystemDatabase& db, const std::string& id) {
  std::vector<StepInfo> steps;
  for (auto& op : db.load_operations(id)) {
    StepInfo s;
    s.function_id = op.function_id;
    s.name = op.name;
    s.kind = op.kind;
    if (op.output) s.output = parse_stored_json(*op.output, "output of step " + std::to_string(op.function_id));
    s.error = op.error;
    s.child_workflow_id = op.child_workflow_id;
    s.started_at_ms = op.started_at_ms;
    s.completed_at_ms = op.completed_at_ms;
    s.attempts = op.attempts;
    steps.push_back(std::move(s));
  }
  return steps;
}

std::vector<EventInfo> all_events(sysdb::SystemDatabase& db, const std::string& id) {
  std::vector<EventInfo> out;
  for (auto& e : db.list_events(id))
    out.push_back({e.key, parse_stored_json(e.value, "event '" + e.key + "' of workflow '" + id + "'"),
                   e.updated_at_ms});
  return out;
}

std::vector<MessageInfo> messages_of(sysdb::SystemDatabase& db, const std::string& id, int64_t after_message_id,
                                     int limit) {
  if (limit < 1 || limit > kMaxMessagesPerPage)
    throw UsageError("list_messages: limit " + std::to_string(limit) + " is not from 1 to " +
                     std::to_string(kMaxMessagesPerPage));
  if (after_message_id < 0) throw UsageError("list_messages: after_message_id must not be negative");
  std::vector<MessageInfo> out;
  for (auto& m : db.list_messages(id, after_message_id, limit))
    out.push_back({m.message_id, m.topic,
                   parse_stored_json(m.message, "message " + std::to_string(m.message_id) + " of workflow '" + id + "'"),
                   m.sender_id, m.consumed, m.created_at_ms});
  return out;
}

}  // namespace keel::detail
