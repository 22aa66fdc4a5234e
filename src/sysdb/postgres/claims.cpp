#include "sysdb/postgres/claims.hpp"

#include <stdexcept>

#include "keel/serialization.hpp"

namespace keel::sysdb::postgres::claims {

namespace {

constexpr std::string_view kColumns =
    "workflow_id, function_id, name, output, error_type, error_message, child_workflow_id, started_at, completed_at, "
    "kind, attempts";

SqlValue text_or_null(const std::optional<std::string>& v) { return v ? SqlValue(*v) : SqlValue(nullptr); }

// ", $n, ..." for the record's columns after workflow_id, in kColumns' order
// (cast when `typed`: in a SELECT list the server cannot infer the types).
// Returns the completed_at placeholder.
std::string bind_record(Statement& s, const OperationRecord& op, bool typed) {
  auto t = [typed](std::string_view type) { return typed ? type : std::string_view(); };
  s << ", " << s.bind(int64_t{op.function_id}, t("integer"));
  s << ", " << s.bind(op.name, t("text"));
  s << ", " << s.bind(text_or_null(op.output), t("text"));
  s << ", " << s.bind(op.error ? SqlValue(op.error->type_name) : SqlValue(nullptr), t("text"));
  s << ", " << s.bind(op.error ? SqlValue(op.error->message) : SqlValue(nullptr), t("text"));
  s << ", " << s.bind(op.child_workflow_id.empty() ? SqlValue(nullptr) : SqlValue(op.child_workflow_id), t("text"));
  s << ", " << s.bind(op.started_at_ms, t("bigint"));
  std::string completed = s.bind(op.completed_at_ms, t("bigint"));
  s << ", " << completed;
  s << ", " << s.bind(stored_kind(op.kind), t("text"));
  s << ", " << s.bind(int64_t{op.attempts}, t("integer"));
  return completed;
}

void lock_row(Statement& s, const std::string& workflow_id) {
  s << "WITH wf AS (SELECT status, executor_id FROM keel.workflow_status WHERE workflow_id = " << workflow_id
    << " FOR NO KEY UPDATE), ";
}

std::string list_json(const std::vector<OperationRecord>& ops) {
  auto opt = [](const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); };
  Json list = Json::array();
  for (const OperationRecord& op : ops)
    list.push_back({{"function_id", op.function_id},
                    {"name", op.name},
                    {"output", opt(op.output)},
                    {"error_type", op.error ? Json(op.error->type_name) : Json(nullptr)},
                    {"error_message", op.error ? Json(op.error->message) : Json(nullptr)},
                    {"child_workflow_id", op.child_workflow_id.empty() ? Json(nullptr) : Json(op.child_workflow_id)},
                    {"started_at", op.started_at_ms},
                    {"completed_at", op.completed_at_ms},
                    {"kind", op.kind == OperationKind::Unknown ? Json(nullptr) : Json(to_string(op.kind))},
                    {"attempts", op.attempts}});
  // An error message need not be valid UTF-8 (e.what() of any exception).
  return list.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The message a recv among ops consumes, or null (a recv's position is
// taken after the earlier records are written, so a list holds one at most).
SqlValue consumed_message(const std::vector<OperationRecord>& ops) {
  SqlValue consumed(nullptr);
  for (const OperationRecord& op : ops) {
    if (op.consumes_message_id == 0) continue;
    if (!std::holds_alternative<std::nullptr_t>(consumed))
      throw std::logic_error("record_operations: two records consume a message");
    consumed = SqlValue(op.consumes_message_id);
  }
  return consumed;
}

}  // namespace

bool needs_list(const std::vector<OperationRecord>& ops) {
  return ops.size() != 1 || ops.front().consumes_message_id > 0;
}

bool consumes_message(const std::vector<OperationRecord>& ops) {
  return !std::holds_alternative<std::nullptr_t>(consumed_message(ops));
}

Refs one(Statement& s, const std::string& id, const OperationRecord& op, const std::string& owner) {
  Refs r;
  r.workflow_id = s.bind(id, "text");
  lock_row(s, r.workflow_id);
  s << "ins AS (INSERT INTO keel.operation_outputs (" << kColumns << ") SELECT " << r.workflow_id;
  r.completed_at = bind_record(s, op, /*typed=*/true);
  s << " FROM wf WHERE wf.status = 'PENDING' AND wf.executor_id = " << s.bind(owner, "text")
    << " ON CONFLICT (workflow_id, function_id) DO NOTHING RETURNING 1) ";
  return r;
}

Refs list(Statement& s, const std::string& id, const std::vector<OperationRecord>& ops, const std::string& owner) {
  Refs r;
  r.workflow_id = s.bind(id, "text");
  std::string message = s.bind(consumed_message(ops), "bigint");
  lock_row(s, r.workflow_id);
  s << "ops AS (SELECT * FROM jsonb_to_recordset(" << s.bind(list_json(ops), "jsonb")
    << ") AS o(function_id integer, name text, output text, error_type text, error_message text, "
       "child_workflow_id text, started_at bigint, completed_at bigint, kind text, attempts integer)), "
    << "ins AS (INSERT INTO keel.operation_outputs (" << kColumns << ") SELECT " << r.workflow_id
    << ", o.function_id, o.name, o.output, o.error_type, o.error_message, o.child_workflow_id, o.started_at, "
       "o.completed_at, o.kind, o.attempts FROM ops AS o, wf WHERE wf.status = 'PENDING' AND wf.executor_id = "
    << s.bind(owner, "text")
    // A message consumed already (read by an earlier recv before its
    // wake-up came): nothing goes in, and no position is found taken.
    << " AND NOT EXISTS (SELECT 1 FROM keel.notifications WHERE message_id = " << message
    << " AND consumed = 1) ON CONFLICT (workflow_id, function_id) DO NOTHING RETURNING 1), "
    << "whole AS (SELECT (SELECT count(*) FROM ins) = (SELECT count(*) FROM ops) AS yes), "
    << "con AS (UPDATE keel.notifications SET consumed = 1 WHERE message_id = " << message
    << " AND (SELECT yes FROM whole)) ";
  return r;
}

Refs any(Statement& s, const std::string& id, const std::vector<OperationRecord>& ops, const std::string& owner) {
  if (needs_list(ops)) return list(s, id, ops, owner);
  Refs r = one(s, id, ops.front(), owner);
  s << ", whole AS (SELECT EXISTS (SELECT 1 FROM ins) AS yes) ";
  return r;
}

void refuse_partial(Statement& s, const Refs& r) {
  s << ", (SELECT keel.refuse_claim(" << r.workflow_id
    << ", (SELECT min(function_id) FROM ops)) WHERE NOT (SELECT yes FROM whole) AND EXISTS (SELECT 1 FROM ins))";
}

Statement step(const std::string& id, const OperationRecord& op, const std::string& owner) {
  Statement s;
  std::string workflow_id = s.bind(id, "text");
  s << "INSERT INTO keel.operation_outputs (" << kColumns << ") SELECT " << workflow_id;
  (void)bind_record(s, op, /*typed=*/true);
  s << " FROM keel.workflow_status WHERE workflow_id = " << workflow_id
    << " AND status = 'PENDING' AND executor_id = " << s.bind(owner, "text")
    << " ON CONFLICT (workflow_id, function_id) DO NOTHING";
  return s;
}

Statement one_or_raise(const std::string& id, const OperationRecord& op, const std::string& owner) {
  Statement s;
  Refs r = one(s, id, op, owner);
  s << "SELECT keel.refuse_claim(" << r.workflow_id << ", " << s.bind(int64_t{op.function_id}, "integer")
    << ") FROM (SELECT 1) AS one WHERE NOT EXISTS (SELECT 1 FROM ins)";
  return s;
}

Statement insert(const std::string& id, const OperationRecord& op) {
  Statement s;
  s << "INSERT INTO keel.operation_outputs (" << kColumns << ") VALUES (" << s.bind(id);
  (void)bind_record(s, op, /*typed=*/false);
  s << ") ON CONFLICT (workflow_id, function_id) DO NOTHING";
  return s;
}

}  // namespace keel::sysdb::postgres::claims
