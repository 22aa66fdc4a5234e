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
  } catch (const Json::exception& e) {
    // Not only parse_error: a number too large for a double ("1e999") is
    // out_of_range (406).
    throw SerializationError("malformed JSON stored as " + what + ": " + e.what());
  }
}

namespace detail {

std::vector<Json::json_pointer> wide_floats(const Json& j) {
  // 2^31: int and int64_t fields (narrower ones are not checked). Keel
  // writes integers as JSON integers, so a float this large in an integer
  // field is a damaged row or a field whose type changed.
  constexpr double kLimit = 2147483648.0;
  std::vector<Json::json_pointer> out;
  // Iterative: stored JSON may nest deeper than the stack allows.
  std::vector<std::pair<const Json*, Json::json_pointer>> todo{{&j, Json::json_pointer()}};
  while (!todo.empty()) {
    auto [v, at] = std::move(todo.back());
    todo.pop_back();
    if (v->is_number_float()) {
      double x = v->get<double>();
      if (!(x > -kLimit && x < kLimit)) out.push_back(at);
    } else if (v->is_object()) {
      for (const auto& [key, child] : v->items()) todo.emplace_back(&child, at / key);
    } else if (v->is_array()) {
      for (size_t i = 0; i < v->size(); ++i) todo.emplace_back(&(*v)[i], at / i);
    }
  }
  return out;
}

Json with_halves(Json j, const std::vector<Json::json_pointer>& at) {
  for (const auto& p : at) j[p] = j[p].get<double>() < 0 ? -0.5 : 0.5;
  return j;
}

void require_floats_at(const Json& encoded, const std::vector<Json::json_pointer>& at, const std::string& type) {
  for (const auto& p : at)
    if (!encoded.contains(p) || !encoded[p].is_number_float())
      throw SerializationError("stored value is not a valid " + type + ": the number at '" + p.to_string() +
                               "' is a floating-point number too large for the integer read there");
}

}  // namespace detail

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
