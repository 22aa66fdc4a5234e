// SQLite backend: operation_outputs (checkpoints), events and messages.
#include <string>

#include "common/clock.hpp"
#include "keel/errors.hpp"
#include "keel/serialization.hpp"
#include "sysdb/sqlite/sqlite_system_database.hpp"

namespace keel::sysdb::sqlite {

namespace {

constexpr const char* kSelectOperation =
    "SELECT function_id, name, output, error_type, error_message, child_workflow_id, started_at, completed_at, "
    "kind, attempts FROM keel_operation_outputs WHERE workflow_id = $1";

std::optional<OperationRecord> find_operation(Connection& c, const std::string& id, int function_id) {
  auto st = c.prepare(std::string(kSelectOperation) + " AND function_id = $2", {id, int64_t{function_id}});
  if (!st.step()) return std::nullopt;
  return read_operation_row(st);
}

// PENDING and still owned by this executor (the takeover fence).
bool workflow_pending(Connection& c, const std::string& id, const std::string& owner) {
  auto st = c.prepare("SELECT status, executor_id FROM keel_workflow_status WHERE workflow_id = $1", {id});
  if (!st.step()) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  return st.column_text(0) == "PENDING" && st.column_text(1) == owner;
}

int64_t now_from(const OperationRecord& op) { return op.completed_at_ms; }

// A record's columns, bound as $1..$11 in this order.
constexpr const char* kInsertRecord =
    "INSERT INTO keel_operation_outputs (workflow_id, function_id, name, output, error_type, error_message, "
    "child_workflow_id, started_at, completed_at, kind, attempts) ";
// Their placeholders, and the first one free after them.
constexpr const char* kRecordPlaceholders = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11";
constexpr const char* kAfterRecord = "$12";
std::vector<SqlValue> record_values(const std::string& id, const OperationRecord& op) {
  return {id,
          int64_t{op.function_id},
          op.name,
          op.output ? SqlValue(*op.output) : SqlValue(nullptr),
          op.error ? SqlValue(op.error->type_name) : SqlValue(nullptr),
          op.error ? SqlValue(op.error->message) : SqlValue(nullptr),
          op.child_workflow_id.empty() ? SqlValue(nullptr) : SqlValue(op.child_workflow_id),
          op.started_at_ms,
          op.completed_at_ms,
          stored_kind(op.kind),
          int64_t{op.attempts}};
}

}  // namespace

OperationRecord read_operation_row(const BoundStatement& st) {
  OperationRecord op;
  op.function_id = static_cast<int>(st.column_int(0));
  op.name = st.column_text(1);
  op.output = st.column_opt_text(2);
  if (!st.column_null(3)) op.error = RecordedErrorInfo{st.column_text(3), st.column_text(4)};
  op.child_workflow_id = st.column_text(5);
  op.started_at_ms = st.column_int(6);
  op.completed_at_ms = st.column_int(7);
  op.kind = operation_kind_from_string(st.column_null(8) ? std::string() : st.column_text(8));
  op.attempts = st.column_null(9) ? 0 : static_cast<int>(st.column_int(9));
  return op;
}

Checkpoint SqliteSystemDatabase::probe(Connection& c, const std::string& id, int function_id) {
  Checkpoint cp;
  cp.workflow_active = workflow_pending(c, id, executor_id_);
  cp.existing = find_operation(c, id, function_id);
  return cp;
}

Checkpoint SqliteSystemDatabase::claim(Connection& c, const std::string& id, const OperationRecord& op) {
  Checkpoint cp;
  if (insert_operation(c, id, op)) return cp;  // the common case: one statement
  // Not inserted: the workflow is not PENDING, or the position is taken.
  cp.workflow_active = workflow_pending(c, id, executor_id_);
  if (cp.workflow_active) cp.existing = find_operation(c, id, op.function_id);
  return cp;
}

// Inserts op only while the workflow is PENDING and the position is free.
bool SqliteSystemDatabase::insert_operation(Connection& c, const std::string& id, const OperationRecord& op) {
  std::vector<SqlValue> values = record_values(id, op);
  values.emplace_back(executor_id_);
  c.prepare(std::string(kInsertRecord) + "SELECT " + kRecordPlaceholders +
                " WHERE EXISTS (SELECT 1 FROM keel_workflow_status WHERE workflow_id = $1 AND status = 'PENDING' "
                "AND executor_id = " + kAfterRecord + ") ON CONFLICT (workflow_id, function_id) DO NOTHING",
            values)
      .step();
  return c.changes() == 1;
}

void insert_record(Connection& c, const std::string& id, const OperationRecord& op) {
  c.prepare(std::string(kInsertRecord) + "VALUES (" + kRecordPlaceholders + ")", record_values(id, op))
      .step();
}

std::vector<OperationRecord> SqliteSystemDatabase::load_operations(const std::string& id) {
  std::vector<OperationRecord> ops;
  read([&](Connection& c) {
    auto st = c.prepare(std::string(kSelectOperation) + " ORDER BY function_id", {id});
    while (st.step()) ops.push_back(read_operation_row(st));
  });
  return ops;
}

namespace {

bool message_consumed(Connection& c, int64_t message_id) {
  auto st = c.prepare("SELECT consumed FROM keel_notifications WHERE message_id = $1", {message_id});
  return st.step() && st.column_int(0) != 0;
}

}  // namespace

// Under the write lock nothing changes between the reads and the inserts:
// all of ops go in, or (a position taken) none.
Checkpoint SqliteSystemDatabase::claim_all(Connection& c, const std::string& id,
                                           const std::vector<OperationRecord>& ops) {
  Checkpoint cp;
  cp.workflow_active = workflow_pending(c, id, executor_id_);
  if (!cp.workflow_active) return cp;
  for (const OperationRecord& op : ops)
    if (auto found = find_operation(c, id, op.function_id)) cp.taken.push_back(std::move(*found));
  if (!cp.taken.empty()) {
    if (cp.taken.front().function_id == ops.front().function_id) cp.existing = cp.taken.front();
    return cp;
  }
  for (const OperationRecord& op : ops)
    if (op.consumes_message_id > 0 && message_consumed(c, op.consumes_message_id)) {
      cp.message_consumed = true;
      return cp;
    }
  for (const OperationRecord& op : ops) {
    insert_operation(c, id, op);
    if (op.consumes_message_id > 0)
      c.prepare("UPDATE keel_notifications SET consumed = 1 WHERE message_id = $1", {op.consumes_message_id}).step();
  }
  return cp;
}

Checkpoint SqliteSystemDatabase::record_operations(const std::string& id, const std::vector<OperationRecord>& ops) {
  Checkpoint cp;
  write([&](Connection& c) {
    // One record that consumes nothing (a step's): one statement.
    if (ops.size() != 1 || ops.front().consumes_message_id != 0) {
      cp = claim_all(c, id, ops);
      return;
    }
    cp = claim(c, id, ops.front());
    if (cp.existing) cp.taken.push_back(*cp.existing);
  });
  return cp;
}

// SQLite probes always: the probe costs no round trip here.
Checkpoint SqliteSystemDatabase::run_transaction(const std::string& id, OperationRecord op,
                                                 const std::function<std::string(Sql&)>& body,
                                                 TransactionMode /*mode: one writer, always serializable; the
                                                                   probe is one indexed read, made always*/) {
  Checkpoint cp;
  write([&](Connection& c) {
    cp = probe(c, id, op.function_id);
    if (!cp.workflow_active || cp.existing) return;
    c.exec("SAVEPOINT keel_user_tx");
    try {
      SqliteSql sql(c);
      op.output = body(sql);
      c.exec("RELEASE keel_user_tx");
    } catch (const StorageFullError&) {
      // Not the body's outcome but the database's condition: recording it
      // would end the transaction for good. The write's rollback undoes it
      // all and the operation is retried (the workflow parks meanwhile).
      throw;
    } catch (const std::exception& e) {
      c.exec("ROLLBACK TO keel_user_tx");
      c.exec("RELEASE keel_user_tx");
      op.output.reset();
      op.error = RecordedErrorInfo{detail::demangle(typeid(e).name()), e.what()};
    }
    insert_operation(c, id, op);
  });
  return cp;
}

Checkpoint SqliteSystemDatabase::continue_as_new(const std::string& id, const OperationRecord& op,
                                                 const std::string& inputs) {
  Checkpoint cp;
  write([&](Connection& c) {
    cp = claim(c, id, op);
    if (!cp.workflow_active || cp.existing) return;
    c.prepare("DELETE FROM keel_operation_outputs WHERE workflow_id = $1 AND function_id < $2",
              {id, int64_t{op.function_id}})
        .step();
    c.prepare(
         "UPDATE keel_workflow_status SET inputs = $2, recovery_attempts = 0, updated_at = $3 WHERE workflow_id = $1",
         {id, inputs, now_from(op)})
        .step();
  });
  return cp;
}

Checkpoint SqliteSystemDatabase::set_event(const std::string& id, const std::string& key, const std::string& value,
                                           const OperationRecord& op) {
  Checkpoint cp;
  write([&](Connection& c) {
    cp = claim(c, id, op);
    if (!cp.workflow_active || cp.existing) return;
    c.prepare(
         "INSERT INTO keel_workflow_events (workflow_id, key, value, updated_at) VALUES ($1, $2, $3, $4) "
         "ON CONFLICT (workflow_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
         {id, key, value, now_from(op)})
        .step();
  });
  return cp;
}

std::optional<std::string> SqliteSystemDatabase::get_event(const std::string& id, const std::string& key) {
  std::optional<std::string> value;
  read([&](Connection& c) {
    auto st = c.prepare("SELECT value FROM keel_workflow_events WHERE workflow_id = $1 AND key = $2", {id, key});
    if (st.step()) value = st.column_text(0);
  });
  return value;
}

// The offset is the stream's next one, read under the write lock: only the
// workflow's own (sequential) operations write its streams.
Checkpoint SqliteSystemDatabase::write_stream(const std::string& id, const std::string& key,
                                              const std::optional<std::string>& value, const OperationRecord& op) {
  Checkpoint cp;
  write([&](Connection& c) {
    cp = claim(c, id, op);
    if (!cp.workflow_active || cp.existing) return;
    c.prepare(
         "INSERT INTO keel_streams (workflow_id, key, stream_offset, value, created_at) "
         "SELECT $1, $2, COALESCE(MAX(stream_offset) + 1, 0), $3, $4 FROM keel_streams "
         "WHERE workflow_id = $1 AND key = $2",
         {id, key, value ? SqlValue(*value) : SqlValue(nullptr), now_from(op)})
        .step();
  });
  return cp;
}

StreamRead SqliteSystemDatabase::read_stream(const std::string& id, const std::string& key, int64_t from,
                                             int limit) {
  StreamRead out;
  read([&](Connection& c) {
    out = StreamRead{};
    bool terminal = false;
    {
      auto st = c.prepare("SELECT status FROM keel_workflow_status WHERE workflow_id = $1", {id});
      if (st.step()) terminal = is_terminal(workflow_status_from_string(st.column_text(0)));
    }
    auto st = c.prepare(
        "SELECT value FROM keel_streams WHERE workflow_id = $1 AND key = $2 AND stream_offset >= $3 "
        "ORDER BY stream_offset LIMIT $4",
        {id, key, from, int64_t{limit} + 1});
    int rows = 0;
    while (st.step()) {
      ++rows;
      if (st.column_null(0)) {
        out.ended = true;  // the close
        return;
      }
      if (static_cast<int>(out.values.size()) == limit) return;  // more follow
      out.values.push_back(st.column_text(0));
    }
    if (terminal) {
      out.ended = true;
      return;
    }
    if (rows == 0) {  // past the end: closed before `from`?
      auto last = c.prepare(
          "SELECT value IS NULL FROM keel_streams WHERE workflow_id = $1 AND key = $2 "
          "ORDER BY stream_offset DESC LIMIT 1",
          {id, key});
      out.ended = last.step() && last.column_int(0) != 0;
    }
  });
  return out;
}

SendResult SqliteSystemDatabase::send_message(const std::string& destination, const std::string& topic,
                                              const std::string& message, const std::string& idempotency_key,
                                              const std::string& sender_id, const OperationRecord* op) {
  SendResult sent;
  write([&](Connection& c) {
    sent = SendResult{};
    {
      auto exists = c.prepare("SELECT 1 FROM keel_workflow_status WHERE workflow_id = $1", {destination});
      if (!exists.step()) throw WorkflowNotFoundError("cannot send to '" + destination + "': no such workflow");
    }
    if (op) {
      sent.checkpoint = claim(c, sender_id, *op);
      if (!sent.checkpoint.workflow_active || sent.checkpoint.existing) return;
    }
    auto ins = c.prepare(
        "INSERT INTO keel_notifications (destination_id, topic, message, idempotency_key, sender_id, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING message_id",
        {destination, topic, message, idempotency_key.empty() ? SqlValue(nullptr) : SqlValue(idempotency_key),
         sender_id.empty() ? SqlValue(nullptr) : SqlValue(sender_id), op ? now_from(*op) : detail::now_ms()});
    if (ins.step()) sent.message_id = ins.column_int(0);
  });
  return sent;
}

std::vector<StoredEvent> SqliteSystemDatabase::list_events(const std::string& id) {
  std::vector<StoredEvent> events;
  read([&](Connection& c) {
    events.clear();
    auto st = c.prepare("SELECT key, value, updated_at FROM keel_workflow_events WHERE workflow_id = $1 ORDER BY key",
                        {id});
    while (st.step()) events.push_back({st.column_text(0), st.column_text(1), st.column_int(2)});
  });
  return events;
}

std::vector<StoredMessage> SqliteSystemDatabase::list_messages(const std::string& destination,
                                                               int64_t after_message_id, int limit) {
  std::vector<StoredMessage> messages;
  read([&](Connection& c) {
    messages.clear();
    auto st = c.prepare(
        "SELECT message_id, topic, message, sender_id, consumed, created_at FROM keel_notifications "
        "WHERE destination_id = $1 AND message_id > $2 ORDER BY message_id LIMIT $3",
        {destination, after_message_id, int64_t{limit}});
    while (st.step())
      messages.push_back({st.column_int(0), st.column_text(1), st.column_text(2),
                          st.column_null(3) ? std::string() : st.column_text(3), st.column_int(4) != 0,
                          st.column_int(5)});
  });
  return messages;
}

std::optional<WaitingMessage> SqliteSystemDatabase::peek_message(const std::string& destination,
                                                                const std::string& topic) {
  std::optional<WaitingMessage> found;
  read([&](Connection& c) {
    auto st = c.prepare(
        "SELECT message_id, message FROM keel_notifications WHERE destination_id = $1 AND topic = $2 "
        "AND consumed = 0 ORDER BY message_id LIMIT 1",
        {destination, topic});
    found.reset();
    if (st.step()) found = WaitingMessage{st.column_int(0), st.column_text(1)};
  });
  return found;
}

}  // namespace keel::sysdb::sqlite
