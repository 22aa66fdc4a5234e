// PostgreSQL backend: operation_outputs (checkpoints), events and messages.
#include <string>

#include "keel/errors.hpp"
#include "keel/serialization.hpp"
#include "sysdb/postgres/postgres_system_database.hpp"

namespace keel::sysdb::postgres {

namespace {

constexpr const char* kSelectOperation =
    "SELECT function_id, name, output, error_type, error_message, child_workflow_id, started_at, completed_at "
    "FROM keel.operation_outputs WHERE workflow_id = $1";

std::optional<OperationRecord> find_operation(Connection& c, const std::string& id, int function_id) {
  Result r = c.exec(std::string(kSelectOperation) + " AND function_id = $2", {id, int64_t{function_id}});
  if (r.rows() == 0) return std::nullopt;
  return read_operation_row(r, 0);
}

// Locks the workflow's row for the rest of the transaction: units of one
// workflow from several processes run one after the other, as on SQLite.
// PENDING and still owned by this executor (the takeover fence).
bool workflow_pending(Connection& c, const std::string& id, const std::string& owner) {
  Result r = c.exec("SELECT status, executor_id FROM keel.workflow_status WHERE workflow_id = $1 FOR NO KEY UPDATE",
                    {id});
  if (r.rows() == 0) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  return r.text(0, 0) == "PENDING" && r.text(0, 1) == owner;
}

int64_t now_from(const OperationRecord& op) { return op.completed_at_ms; }

}  // namespace

OperationRecord read_operation_row(const Result& r, int row) {
  OperationRecord op;
  op.function_id = static_cast<int>(r.integer(row, 0));
  op.name = r.text(row, 1);
  op.output = r.opt_text(row, 2);
  if (!r.null(row, 3)) op.error = RecordedErrorInfo{r.text(row, 3), r.text(row, 4)};
  op.child_workflow_id = r.text(row, 5);
  op.started_at_ms = r.integer(row, 6);
  op.completed_at_ms = r.integer(row, 7);
  return op;
}

Checkpoint PostgresSystemDatabase::probe(Connection& c, const std::string& id, int function_id) {
  Checkpoint cp;
  cp.workflow_active = workflow_pending(c, id, executor_id_);
  cp.existing = find_operation(c, id, function_id);
  return cp;
}

Checkpoint PostgresSystemDatabase::claim(Connection& c, const std::string& id, const OperationRecord& op) {
  Checkpoint cp;
  cp.workflow_active = workflow_pending(c, id, executor_id_);
  if (cp.workflow_active && !insert_operation(c, id, op)) cp.existing = find_operation(c, id, op.function_id);
  return cp;
}

bool PostgresSystemDatabase::insert_operation(Connection& c, const std::string& id, const OperationRecord& op) {
  Result r = c.exec(
      "INSERT INTO keel.operation_outputs (workflow_id, function_id, name, output, error_type, error_message, "
      "child_workflow_id, started_at, completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
      "ON CONFLICT (workflow_id, function_id) DO NOTHING",
      {id, int64_t{op.function_id}, op.name, op.output ? SqlValue(*op.output) : SqlValue(nullptr),
       op.error ? SqlValue(op.error->type_name) : SqlValue(nullptr),
       op.error ? SqlValue(op.error->message) : SqlValue(nullptr),
       op.child_workflow_id.empty() ? SqlValue(nullptr) : SqlValue(op.child_workflow_id), op.started_at_ms,
       op.completed_at_ms});
  return r.changed() == 1;
}

std::vector<OperationRecord> PostgresSystemDatabase::load_operations(const std::string& id) {
  std::vector<OperationRecord> ops;
  read([&](Connection& c) {
    Result r = c.exec(std::string(kSelectOperation) + " ORDER BY function_id", {id});
    for (int i = 0; i < r.rows(); ++i) ops.push_back(read_operation_row(r, i));
  });
  return ops;
}

Checkpoint PostgresSystemDatabase::record_operation(const std::string& id, const OperationRecord& op) {
  Checkpoint cp;
  write([&](Connection& c) { cp = claim(c, id, op); });
  return cp;
}

Checkpoint PostgresSystemDatabase::run_transaction(const std::string& id, OperationRecord op,
                                                   const std::function<std::string(Sql&)>& body) {
  Checkpoint cp;
  write([&](Connection& c) {
    OperationRecord rec = op;  // a retried unit starts from the caller's op
    cp = probe(c, id, rec.function_id);
    if (!cp.workflow_active || cp.existing) return;
    c.exec("SAVEPOINT keel_user_tx");
    try {
      PgSql sql(c);
      rec.output = body(sql);
      c.exec("RELEASE SAVEPOINT keel_user_tx");
    } catch (const std::exception& e) {
      c.exec("ROLLBACK TO SAVEPOINT keel_user_tx");
      c.exec("RELEASE SAVEPOINT keel_user_tx");
      rec.output.reset();
      rec.error = RecordedErrorInfo{detail::demangle(typeid(e).name()), e.what()};
    }
    insert_operation(c, id, rec);
  });
  return cp;
}

Checkpoint PostgresSystemDatabase::set_event(const std::string& id, const std::string& key, const std::string& value,
                                             const OperationRecord& op) {
  Checkpoint cp;
  write([&](Connection& c) {
    cp = claim(c, id, op);
    if (!cp.workflow_active || cp.existing) return;
    c.exec(
        "INSERT INTO keel.workflow_events (workflow_id, key, value, updated_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (workflow_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        {id, key, value, now_from(op)});
  });
  return cp;
}

std::optional<std::string> PostgresSystemDatabase::get_event(const std::string& id, const std::string& key) {
  std::optional<std::string> value;
  read([&](Connection& c) {
    Result r = c.exec("SELECT value FROM keel.workflow_events WHERE workflow_id = $1 AND key = $2", {id, key});
    if (r.rows() > 0) value = r.text(0, 0);
  });
  return value;
}

Checkpoint PostgresSystemDatabase::send_message(const std::string& destination, const std::string& topic,
                                                const std::string& message, const std::string& idempotency_key,
                                                const std::string& sender_id, const OperationRecord* op) {
  Checkpoint cp;
  write([&](Connection& c) {
    cp = Checkpoint{};
    Result exists = c.exec("SELECT 1 FROM keel.workflow_status WHERE workflow_id = $1", {destination});
    if (exists.rows() == 0) throw WorkflowNotFoundError("cannot send to '" + destination + "': no such workflow");
    if (op) {
      cp = claim(c, sender_id, *op);
      if (!cp.workflow_active || cp.existing) return;
    }
    c.exec(
        "INSERT INTO keel.notifications (destination_id, topic, message, idempotency_key, sender_id, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING",
        {destination, topic, message, idempotency_key.empty() ? SqlValue(nullptr) : SqlValue(idempotency_key),
         sender_id.empty() ? SqlValue(nullptr) : SqlValue(sender_id), op ? now_from(*op) : int64_t{0}});
  });
  return cp;
}

bool PostgresSystemDatabase::has_message(const std::string& destination, const std::string& topic) {
  bool found = false;
  read([&](Connection& c) {
    Result r = c.exec(
        "SELECT 1 FROM keel.notifications WHERE destination_id = $1 AND topic = $2 AND consumed = 0 LIMIT 1",
        {destination, topic});
    found = r.rows() > 0;
  });
  return found;
}

ConsumeResult PostgresSystemDatabase::consume_message(const std::string& destination, const std::string& topic,
                                                      OperationRecord op) {
  ConsumeResult r;
  write([&](Connection& c) {
    r = ConsumeResult{};
    OperationRecord rec = op;
    // probe locks the destination's row: consumers of one inbox are serialised.
    r.checkpoint = probe(c, destination, rec.function_id);
    if (!r.checkpoint.workflow_active || r.checkpoint.existing) return;
    Result msg = c.exec(
        "SELECT message_id, message FROM keel.notifications WHERE destination_id = $1 AND topic = $2 "
        "AND consumed = 0 ORDER BY message_id LIMIT 1",
        {destination, topic});
    if (msg.rows() == 0) return;
    int64_t message_id = msg.integer(0, 0);
    r.message = msg.text(0, 1);
    c.exec("UPDATE keel.notifications SET consumed = 1 WHERE message_id = $1", {message_id});
    rec.output = "[" + *r.message + "]";
    insert_operation(c, destination, rec);
  });
  return r;
}

}  // namespace keel::sysdb::postgres
