#include "runtime/operations.hpp"

#include <thread>

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

RecordedErrorInfo describe_exception(const std::exception& e) {
  if (auto* rec = dynamic_cast<const RecordedError*>(&e)) return {rec->type_name(), rec->what()};
  return {demangle(typeid(e).name()), e.what()};
}

void backoff_or_interrupt(Execution& ex, int attempt, const std::exception& e) {
  constexpr int kMaxAttempts = 6;
  if (attempt >= kMaxAttempts || ex.engine().stopping())
    throw ExecutionInterrupted{std::string("system database unavailable: ") + e.what(), !ex.engine().stopping()};
  std::this_thread::sleep_for(std::chrono::milliseconds(25 << attempt));
}

}  // namespace keel::detail
