// Small value types of the public API: statuses, SQL rows, stored JSON.
#include <string>

#include "keel/serialization.hpp"
#include "keel/sql.hpp"
#include "keel/status.hpp"

namespace keel {

std::string to_string(WorkflowStatus s) {
  switch (s) {
    case WorkflowStatus::Enqueued: return "ENQUEUED";
    case WorkflowStatus::Pending: return "PENDING";
    case WorkflowStatus::Success: return "SUCCESS";
    case WorkflowStatus::Error: return "ERROR";
    case WorkflowStatus::Cancelled: return "CANCELLED";
    case WorkflowStatus::MaxRecoveryAttemptsExceeded: return "MAX_RECOVERY_ATTEMPTS_EXCEEDED";
  }
  return "UNKNOWN";
}

WorkflowStatus workflow_status_from_string(const std::string& s) {
  for (auto st : {WorkflowStatus::Enqueued, WorkflowStatus::Pending, WorkflowStatus::Success, WorkflowStatus::Error,
                  WorkflowStatus::Cancelled, WorkflowStatus::MaxRecoveryAttemptsExceeded})
    if (to_string(st) == s) return st;
  throw SerializationError("unknown workflow status '" + s + "'");
}

std::string to_string(OperationKind k) {
  switch (k) {
    case OperationKind::Unknown: return "";
    case OperationKind::Step: return "step";
    case OperationKind::Transaction: return "transaction";
    case OperationKind::Keel: return "keel";
  }
  return "";
}

OperationKind operation_kind_from_string(const std::string& s) {
  for (auto k : {OperationKind::Unknown, OperationKind::Step, OperationKind::Transaction, OperationKind::Keel})
    if (to_string(k) == s) return k;
  throw SerializationError("unknown operation kind '" + s + "'");
}

bool is_terminal(WorkflowStatus s) { return s != WorkflowStatus::Pending && s != WorkflowStatus::Enqueued; }

Json parse_stored_json(const std::string& text, const std::string& what) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw SerializationError("malformed JSON stored as " + what + ": " + e.what());
  }
}

const SqlValue& SqlRow::at(size_t i) const {
  if (i >= values_.size())
    throw UsageError("column " + std::to_string(i) + " out of range (row has " + std::to_string(values_.size()) +
                     ")");
  return values_[i];
}

bool SqlRow::is_null(size_t i) const { return std::holds_alternative<std::nullptr_t>(at(i)); }

int64_t SqlRow::get_int(size_t i) const {
  const auto& v = at(i);
  if (auto p = std::get_if<int64_t>(&v)) return *p;
  if (auto d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  throw UsageError("column " + std::to_string(i) + " is not an integer");
}

double SqlRow::get_double(size_t i) const {
  const auto& v = at(i);
  if (auto d = std::get_if<double>(&v)) return *d;
  if (auto p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  throw UsageError("column " + std::to_string(i) + " is not a number");
}

std::string SqlRow::get_string(size_t i) const {
  const auto& v = at(i);
  if (auto s = std::get_if<std::string>(&v)) return *s;
  if (auto p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  if (auto d = std::get_if<double>(&v)) return std::to_string(*d);
  throw UsageError("column " + std::to_string(i) + " is NULL");
}

}  // namespace keel
