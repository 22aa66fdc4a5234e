#include "runtime/operations.hpp"

namespace keel::detail {

namespace {
std::string where(const Execution& ex, const sysdb::OperationRecord& op) {
  return "output of operation " + std::to_string(op.function_id) + " ('" + op.name + "') of workflow '" + ex.id() +
         "'";
}
}  // namespace

Json replay_output(const Execution& ex, const sysdb::OperationRecord& op) {
  if (op.error) throw_recorded_error(op.error->type_name, op.error->message);
  if (!op.output) return nullptr;
  return parse_stored_json(*op.output, where(ex, op));
}

std::optional<Json> replay_optional(const Execution& ex, const sysdb::OperationRecord& op) {
  Json wrapped = replay_output(ex, op);
  if (!wrapped.is_array() || wrapped.size() > 1)
    throw SerializationError("malformed " + where(ex, op) + ": expected [] or [value]");
  if (wrapped.empty()) return std::nullopt;
  return wrapped[0];
}

std::string set_event_output(const std::string& key, const Json& value) { return Json::array({key, value}).dump(); }

std::optional<std::pair<std::string, std::string>> event_set_by(const sysdb::OperationRecord& op) {
  if (op.name != kSetEvent || !op.output) return std::nullopt;
  Json kv = Json::parse(*op.output, nullptr, /*allow_exceptions=*/false);
  if (!kv.is_array() || kv.size() != 2 || !kv[0].is_string()) return std::nullopt;
  return std::make_pair(kv[0].get<std::string>(), kv[1].dump());
}

RecordedErrorInfo describe_exception(const std::exception& e) {
  if (auto* rec = dynamic_cast<const RecordedError*>(&e)) return {rec->type_name(), rec->what()};
  return {demangle(typeid(e).name()), e.what()};
}

std::string start_child_operation_name(const std::string& workflow_name) {
  return "keel.start_child:" + workflow_name;
}
std::string enqueue_operation_name(const std::string& workflow_name) { return "keel.enqueue:" + workflow_name; }
std::string child_workflow_id(const std::string& parent_id, int function_id) {
  return parent_id + "-" + std::to_string(function_id);
}

}  // namespace keel::detail
