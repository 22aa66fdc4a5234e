// PostgreSQL backend: operation_outputs (checkpoints), events and messages.
#include <stdexcept>
#include <string>
#include <variant>

#include "common/clock.hpp"
#include "keel/errors.hpp"
#include "keel/serialization.hpp"
#include "sysdb/postgres/claims.hpp"
#include "sysdb/postgres/postgres_system_database.hpp"
#include "sysdb/postgres/statement.hpp"

namespace keel::sysdb::postgres {

namespace {

// The columns read_operation_row expects, of the operations of one workflow.
Statement select_operations(const std::string& id) {
  Statement s;
  s << "SELECT function_id, name, output, error_type, error_message, child_workflow_id, started_at, completed_at, "
       "kind, attempts FROM keel.operation_outputs WHERE workflow_id = "
    << s.bind(id);
  return s;
}

std::optional<OperationRecord> find_operation(Connection& c, const std::string& id, int function_id) {
  Statement s = select_operations(id);
  s << " AND function_id = " << s.bind(int64_t{function_id});
  Result r = c.exec(s.sql(), s.params());
  if (r.rows() == 0) return std::nullopt;
  return read_operation_row(r, 0);
}

// Reads the answer of claims::kAnswer: active while PENDING and still owned
// by `owner` (a takeover moved it away otherwise). A position taken by
// another execution is read back by `lookup` (that row no longer changes:
// any snapshot will do).
template <class Lookup>
Checkpoint claim_result(const Result& r, const std::string& id, const std::string& owner, Lookup&& lookup) {
  if (r.null(0, 0)) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  Checkpoint cp;
  cp.workflow_active = r.text(0, 0) == "PENDING" && r.text(0, 2) == owner;
  if (cp.workflow_active && r.integer(0, 1) == 0) cp.existing = lookup();
  return cp;
}

}  // namespace

OperationRecord read_operation_row(const Result& r, int row, int first_column) {
  const int c = first_column;
  OperationRecord op;
  op.function_id = static_cast<int>(r.integer(row, c));
  op.name = r.text(row, c + 1);
  op.output = r.opt_text(row, c + 2);
  if (!r.null(row, c + 3)) op.error = RecordedErrorInfo{r.text(row, c + 3), r.text(row, c + 4)};
  op.child_workflow_id = r.text(row, c + 5);
  op.started_at_ms = r.integer(row, c + 6);
  op.completed_at_ms = r.integer(row, c + 7);
  op.kind = operation_kind_from_string(r.null(row, c + 8) ? std::string() : r.text(row, c + 8));
  op.attempts = r.null(row, c + 9) ? 0 : static_cast<int>(r.integer(row, c + 9));
  return op;
}

// The row lock and the read of the position in one pipeline (one round trip):
// each statement takes its snapshot when it runs, so the read comes after the
// lock is held, as if sent one by one.
Checkpoint PostgresSystemDatabase::probe(Connection& c, const std::string& id, int function_id) {
  Statement lock;
  lock << "SELECT status, executor_id FROM keel.workflow_status WHERE workflow_id = " << lock.bind(id)
       << " FOR NO KEY UPDATE";
  Statement find = select_operations(id);
  find << " AND function_id = " << find.bind(int64_t{function_id});
  size_t failed_at = 0;
  std::vector<Result> results =
      c.exec_pipeline({{lock.sql(), &lock.params()}, {find.sql(), &find.params()}}, "", failed_at);
  if (results[0].rows() == 0) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  Checkpoint cp;
  cp.workflow_active = results[0].text(0, 0) == "PENDING" && results[0].text(0, 1) == executor_id_;
  if (results[1].rows() > 0) cp.existing = read_operation_row(results[1], 0);
  return cp;
}

Checkpoint PostgresSystemDatabase::claim(Connection& c, const std::string& id, const OperationRecord& op) {
  Statement s;
  (void)claims::one(s, id, op, executor_id_);
  s << claims::kAnswer;
  Result r = c.exec(s.sql(), s.params());
  return claim_result(r, id, executor_id_, [&] { return find_operation(c, id, op.function_id); });
}

bool PostgresSystemDatabase::insert_operation(Connection& c, const std::string& id, const OperationRecord& op) {
  Statement s = claims::insert(id, op);
  return c.exec(s.sql(), s.params()).changed() == 1;
}

std::vector<OperationRecord> PostgresSystemDatabase::load_operations(const std::string& id) {
  std::vector<OperationRecord> ops;
  Statement s = select_operations(id);
  s << " ORDER BY function_id";
  read_one([&](Connection& c) {
    ops.clear();
    Result r = c.exec(s.sql(), s.params());
    for (int i = 0; i < r.rows(); ++i) ops.push_back(read_operation_row(r, i));
  });
  return ops;
}

std::optional<OperationRecord> PostgresSystemDatabase::lookup_operation(const std::string& id, int function_id) {
  std::optional<OperationRecord> op;
  read_one([&](Connection& c) { op = find_operation(c, id, function_id); });
  return op;
}

// What is recorded at the ops' positions, when a claim found any taken.
Checkpoint PostgresSystemDatabase::taken_positions(const std::string& id, const std::vector<OperationRecord>& ops) {
  Checkpoint cp;
  for (const OperationRecord& op : ops)
    if (auto found = lookup_operation(id, op.function_id)) cp.taken.push_back(std::move(*found));
  if (!cp.taken.empty() && cp.taken.front().function_id == ops.front().function_id) cp.existing = cp.taken.front();
  // Nothing went in, yet every position is free: the claim found its message consumed.
  if (cp.taken.empty()) cp.message_consumed = claims::consumes_message(ops);
  return cp;
}

// Why claims::step inserted nothing: the workflow is not PENDING here, or
// the position is taken (read after the claim: that row no longer changes).
Checkpoint PostgresSystemDatabase::step_refused(const std::string& id, const std::vector<OperationRecord>& ops) {
  auto info = get_workflow(id);
  if (!info) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  Checkpoint cp;
  cp.workflow_active = info->status == WorkflowStatus::Pending && info->executor_id == executor_id_;
  if (!cp.workflow_active) return cp;
  cp = taken_positions(id, ops);
  // Not PENDING when the claim read it, PENDING here again now (resumed):
  // the caller's retry claims again.
  if (cp.taken.empty())
    throw DatabaseError("the checkpoint of operation " + std::to_string(ops.front().function_id) + " of workflow '" +
                        id + "' was refused, but the workflow is running here again: retrying");
  return cp;
}

Checkpoint PostgresSystemDatabase::record_operations(const std::string& id, const std::vector<OperationRecord>& ops) {
  if (!claims::needs_list(ops)) {
    if (write_statement(claims::step(id, ops.front(), executor_id_)).changed() == 1) return {};
    return step_refused(id, ops);
  }
  Statement s;
  claims::Refs refs = claims::list(s, id, ops, executor_id_);
  s << claims::kAnswer;
  claims::refuse_partial(s, refs);
  std::optional<Result> answer;
  try {
    answer.emplace(write_statement(s));
  } catch (const CheckRefused&) {
    return taken_positions(id, ops);  // some positions were free: the workflow was active
  }
  const Result& r = *answer;
  if (r.null(0, 0)) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  Checkpoint cp;
  cp.workflow_active = r.text(0, 0) == "PENDING" && r.text(0, 2) == executor_id_;
  if (cp.workflow_active && r.integer(0, 1) == 0) cp = taken_positions(id, ops);
  return cp;
}

// finish_workflow with records: the claim, then an UPDATE of the status that
// runs only when every record went in. Both touch the row wf locked; the
// UPDATE reads `whole`, so it runs after the claim.
FinishResult PostgresSystemDatabase::finish_with_operations(const std::string& id,
                                                            const std::vector<OperationRecord>& ops,
                                                            const FinalStatus& end) {
  Statement s;
  claims::Refs refs = claims::any(s, id, ops, executor_id_);
  s << ", fin AS (UPDATE keel.workflow_status SET ";
  bind_final_status(s, end);
  s << " WHERE workflow_id = " << refs.workflow_id << " AND (SELECT yes FROM whole) RETURNING 1) "
    << claims::kAnswer << ", (SELECT count(*) FROM fin)";
  if (claims::needs_list(ops)) claims::refuse_partial(s, refs);
  std::optional<Result> answer;
  try {
    answer.emplace(write_statement(s));
  } catch (const CheckRefused&) {
    return FinishResult::PositionTaken;  // some positions were taken
  }
  const Result& r = *answer;
  if (r.null(0, 0)) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  if (r.text(0, 0) != "PENDING" || r.text(0, 2) != executor_id_) return FinishResult::NotPending;
  if (r.integer(0, 1) == 0) return FinishResult::PositionTaken;
  return r.integer(0, 3) == 1 ? FinishResult::Finished : FinishResult::NotPending;
}

namespace {

// The BEGIN of a transaction at `level`, or empty: the batch's READ COMMITTED.
std::string_view begin_statement(std::optional<IsolationLevel> level) {
  if (!level) return {};
  switch (*level) {
    case IsolationLevel::ReadCommitted: return "BEGIN ISOLATION LEVEL READ COMMITTED";
    case IsolationLevel::RepeatableRead: return "BEGIN ISOLATION LEVEL REPEATABLE READ";
    case IsolationLevel::Serializable: return "BEGIN ISOLATION LEVEL SERIALIZABLE";
  }
  return {};
}

}  // namespace

// Without probe_first the body runs first and the checkpoint's claim (one
// statement: the row lock, the fence, the insert) follows in the same
// transaction, unanswered: it travels with whatever the writer sends next (the
// next unit of the batch, or COMMIT), so a transaction costs the writer one
// round trip, its body's. A refused claim raises, which loses the transaction
// (the writer then runs each unit of the batch alone); this one then probes,
// in a transaction of its own, and reports what it found. The savepoint verbs
// travel the same way (Connection::defer).
// A serialization failure or deadlock in the body — also one the body caught
// and went on from, which leaves the transaction unusable — is thrown, not
// recorded: the unit rolls back and the caller runs the transaction again.
Checkpoint PostgresSystemDatabase::run_transaction(const std::string& id, OperationRecord op,
                                                   const std::function<std::string(Sql&)>& body,
                                                   TransactionMode mode) {
  Checkpoint cp;
  try {
    write(
        [&](Connection& c) {
          OperationRecord rec = op;  // a retried unit starts from the caller's op
          cp = Checkpoint{};
          if (mode.probe_first) {
            cp = probe(c, id, rec.function_id);
            if (!cp.workflow_active || cp.existing) return;
          }
          run_body(c, body, rec);
          if (mode.probe_first) {
            (void)insert_operation(c, id, rec);
            return;
          }
          cp.workflow_active = true;  // unless the claim raises
          Statement claim = claims::one_or_raise(id, rec, executor_id_);
          c.defer_check(claim.sql(), claim.params());
        },
        /*fault_points=*/true, begin_statement(mode.isolation));
  } catch (const CheckRefused&) {
    if (mode.probe_first) throw;  // cannot happen: the probing path claims nothing unanswered
    mode.probe_first = true;
    return run_transaction(id, std::move(op), body, mode);
  }
  return cp;
}

// The body in a savepoint of its own: its result, or its error recorded in
// rec; a conflict (TransientDatabaseError) is thrown instead.
void PostgresSystemDatabase::run_body(Connection& c, const std::function<std::string(Sql&)>& body,
                                      OperationRecord& rec) {
  const uint64_t conflicts = c.transient_failures();
  c.defer("SAVEPOINT keel_user_tx");
  try {
    PgSql sql(c);
    rec.output = body(sql);
  } catch (const StorageFullError&) {
    throw;  // the database's condition, not the body's outcome: the unit's rollback undoes it all
  } catch (const std::exception& e) {
    if (c.transient_failures() != conflicts) throw;  // the unit's rollback undoes it all
    c.exec("ROLLBACK TO SAVEPOINT keel_user_tx");
    c.defer("RELEASE SAVEPOINT keel_user_tx");
    rec.output.reset();
    rec.error = RecordedErrorInfo{detail::demangle(typeid(e).name()), e.what()};
    return;
  }
  if (c.transient_failures() != conflicts)
    throw TransientDatabaseError("transaction '" + rec.name +
                                 "': its body went on after a serialization failure or deadlock; running it again");
  c.defer("RELEASE SAVEPOINT keel_user_tx");
}

// The claim locks the workflow's row: the deletion and the new inputs
// commit with the marker, or nothing does.
Checkpoint PostgresSystemDatabase::continue_as_new(const std::string& id, const OperationRecord& op,
                                                   const std::string& inputs) {
  Statement s;
  claims::Refs refs = claims::one(s, id, op, executor_id_);
  s << ", del AS (DELETE FROM keel.operation_outputs WHERE workflow_id = " << refs.workflow_id
    << " AND function_id < " << s.bind(int64_t{op.function_id}, "integer")
    << " AND EXISTS (SELECT 1 FROM ins)), upd AS (UPDATE keel.workflow_status SET inputs = "
    << s.bind(inputs, "text") << ", recovery_attempts = 0, updated_at = " << refs.completed_at
    << " WHERE workflow_id = " << refs.workflow_id << " AND EXISTS (SELECT 1 FROM ins)) " << claims::kAnswer;
  Result r = write_statement(s);
  return claim_result(r, id, executor_id_, [&] { return lookup_operation(id, op.function_id); });
}

Checkpoint PostgresSystemDatabase::set_event(const std::string& id, const std::string& key, const std::string& value,
                                             const OperationRecord& op) {
  Statement s;
  claims::Refs refs = claims::one(s, id, op, executor_id_);
  s << ", ev AS (INSERT INTO keel.workflow_events (workflow_id, key, value, updated_at) SELECT " << refs.workflow_id
    << ", " << s.bind(key, "text") << ", " << s.bind(value, "text") << ", " << refs.completed_at
    << " FROM ins ON CONFLICT (workflow_id, key) DO UPDATE SET value = excluded.value, "
       "updated_at = excluded.updated_at) "
    << claims::kAnswer;
  Result r = write_statement(s);
  return claim_result(r, id, executor_id_, [&] { return lookup_operation(id, op.function_id); });
}

// The offset is the stream's next one: the claim locks the workflow's row,
// and only the workflow's own (sequential) operations write its streams.
Checkpoint PostgresSystemDatabase::write_stream(const std::string& id, const std::string& key,
                                                const std::optional<std::string>& value, const OperationRecord& op) {
  Statement s;
  claims::Refs refs = claims::one(s, id, op, executor_id_);
  std::string k = s.bind(key, "text");
  s << ", st AS (INSERT INTO keel.streams (workflow_id, key, stream_offset, value, created_at) SELECT "
    << refs.workflow_id << ", " << k
    << ", (SELECT COALESCE(MAX(stream_offset) + 1, 0) FROM keel.streams WHERE workflow_id = " << refs.workflow_id
    << " AND key = " << k << "), " << s.bind(value ? SqlValue(*value) : SqlValue(nullptr), "text") << ", "
    << refs.completed_at << " FROM ins) " << claims::kAnswer;
  Result r = write_statement(s);
  return claim_result(r, id, executor_id_, [&] { return lookup_operation(id, op.function_id); });
}

StreamRead PostgresSystemDatabase::read_stream(const std::string& id, const std::string& key, int64_t from,
                                               int limit) {
  StreamRead out;
  read([&](Connection& c) {  // one snapshot: the status, then the rows
    out = StreamRead{};
    Result status = c.exec("SELECT status FROM keel.workflow_status WHERE workflow_id = $1", {id});
    bool terminal = status.rows() > 0 && is_terminal(workflow_status_from_string(status.text(0, 0)));
    Result r = c.exec(
        "SELECT value FROM keel.streams WHERE workflow_id = $1 AND key = $2 AND stream_offset >= $3 "
        "ORDER BY stream_offset LIMIT $4",
        {id, key, from, int64_t{limit} + 1});
    for (int i = 0; i < r.rows(); ++i) {
      if (r.null(i, 0)) {
        out.ended = true;  // the close
        return;
      }
      if (static_cast<int>(out.values.size()) == limit) return;  // more follow
      out.values.push_back(r.text(i, 0));
    }
    if (terminal) {
      out.ended = true;
      return;
    }
    if (r.rows() == 0) {  // past the end: closed before `from`?
      Result last = c.exec(
          "SELECT (value IS NULL)::int FROM keel.streams WHERE workflow_id = $1 AND key = $2 "
          "ORDER BY stream_offset DESC LIMIT 1",
          {id, key});
      out.ended = last.rows() > 0 && last.integer(0, 0) != 0;
    }
  });
  return out;
}

std::optional<std::string> PostgresSystemDatabase::get_event(const std::string& id, const std::string& key) {
  std::optional<std::string> value;
  read_one([&](Connection& c) {
    Result r = c.exec("SELECT value FROM keel.workflow_events WHERE workflow_id = $1 AND key = $2", {id, key});
    if (r.rows() > 0) value = r.text(0, 0);
  });
  return value;
}

std::vector<StoredEvent> PostgresSystemDatabase::list_events(const std::string& id) {
  std::vector<StoredEvent> events;
  read_one([&](Connection& c) {
    events.clear();
    Result r = c.exec("SELECT key, value, updated_at FROM keel.workflow_events WHERE workflow_id = $1 ORDER BY key",
                      {id});
    for (int i = 0; i < r.rows(); ++i) events.push_back({r.text(i, 0), r.text(i, 1), r.integer(i, 2)});
  });
  return events;
}

std::vector<StoredMessage> PostgresSystemDatabase::list_messages(const std::string& destination,
                                                                 int64_t after_message_id, int limit) {
  std::vector<StoredMessage> messages;
  read_one([&](Connection& c) {
    messages.clear();
    Result r = c.exec(
        "SELECT message_id, topic, message, sender_id, consumed, created_at FROM keel.notifications "
        "WHERE destination_id = $1 AND message_id > $2 ORDER BY message_id LIMIT $3",
        {destination, after_message_id, int64_t{limit}});
    for (int i = 0; i < r.rows(); ++i)
      messages.push_back({r.integer(i, 0), r.text(i, 1), r.text(i, 2), r.null(i, 3) ? std::string() : r.text(i, 3),
                          r.integer(i, 4) != 0, r.integer(i, 5)});
  });
  return messages;
}

namespace {

// The message's values, in the order of kMessageColumns.
constexpr std::string_view kMessageColumns = "destination_id, topic, message, idempotency_key, sender_id, created_at";
std::string bind_message(Statement& s, const std::string& destination_ref, const std::string& topic,
                         const std::string& message, const std::string& idempotency_key, const std::string& sender_id,
                         int64_t now_ms) {
  std::string values = destination_ref;
  values += ", " + s.bind(topic, "text");
  values += ", " + s.bind(message, "text");
  values += ", " + s.bind(idempotency_key.empty() ? SqlValue(nullptr) : SqlValue(idempotency_key), "text");
  values += ", " + s.bind(sender_id.empty() ? SqlValue(nullptr) : SqlValue(sender_id), "text");
  values += ", " + s.bind(now_ms, "bigint");
  return values;
}

}  // namespace

SendResult PostgresSystemDatabase::send_message(const std::string& destination, const std::string& topic,
                                                const std::string& message, const std::string& idempotency_key,
                                                const std::string& sender_id, const OperationRecord* op) {
  SendResult sent;
  const int64_t now = op ? op->completed_at_ms : detail::now_ms();  // from outside a workflow: now
  if (!op) {
    // From outside a workflow: the destination check and the insert in one statement.
    Statement s;
    std::string dest = s.bind(destination, "text");
    std::string values = bind_message(s, dest, topic, message, idempotency_key, sender_id, now);
    s << "WITH d AS (SELECT 1 FROM keel.workflow_status WHERE workflow_id = " << dest << "), "
      << "ins AS (INSERT INTO keel.notifications (" << kMessageColumns << ") SELECT " << values
      << " FROM d ON CONFLICT (idempotency_key) DO NOTHING RETURNING message_id) "
         "SELECT (SELECT count(*) FROM d), (SELECT message_id FROM ins)";
    Result r = write_statement(s);
    if (r.integer(0, 0) == 0) throw WorkflowNotFoundError("cannot send to '" + destination + "': no such workflow");
    if (!r.null(0, 1)) sent.message_id = r.integer(0, 1);
    return sent;
  }
  Statement exists;
  exists << "SELECT 1 FROM keel.workflow_status WHERE workflow_id = " << exists.bind(destination);
  Statement insert;
  std::string values =
      bind_message(insert, insert.bind(destination, "text"), topic, message, idempotency_key, sender_id, now);
  insert << "INSERT INTO keel.notifications (" << kMessageColumns << ") VALUES (" << values
         << ") ON CONFLICT (idempotency_key) DO NOTHING RETURNING message_id";
  write([&](Connection& c) {
    sent = SendResult{};
    if (c.exec(exists.sql(), exists.params()).rows() == 0)
      throw WorkflowNotFoundError("cannot send to '" + destination + "': no such workflow");
    sent.checkpoint = claim(c, sender_id, *op);
    if (!sent.checkpoint.workflow_active || sent.checkpoint.existing) return;
    Result ins = c.exec(insert.sql(), insert.params());
    if (ins.rows() > 0) sent.message_id = ins.integer(0, 0);
  });
  return sent;
}

std::optional<WaitingMessage> PostgresSystemDatabase::peek_message(const std::string& destination,
                                                                  const std::string& topic) {
  std::optional<WaitingMessage> found;
  read_one([&](Connection& c) {
    Result r = c.exec(
        "SELECT message_id, message FROM keel.notifications WHERE destination_id = $1 AND topic = $2 "
        "AND consumed = 0 ORDER BY message_id LIMIT 1",
        {destination, topic});
    found.reset();
    if (r.rows() > 0) found = WaitingMessage{r.integer(0, 0), r.text(0, 1)};
  });
  return found;
}

}  // namespace keel::sysdb::postgres
