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

// A claim in one statement: lock the workflow's row (FOR NO KEY UPDATE waits
// for a unit of that workflow in flight elsewhere and then sees its latest
// status), insert the operation only while PENDING and owned by this
// executor ($10: the takeover fence), and answer the status, whether the row
// went in, and the owner. ON CONFLICT decides races on the position
// against every committed or in-flight insert, whatever the snapshot. The
// statements that must follow only a successful claim (set_event's upsert)
// hang off `ins`, so they run exactly when the operation was recorded.
constexpr const char* kClaimCte =
    "WITH wf AS (SELECT status, executor_id FROM keel.workflow_status WHERE workflow_id = $1::text "
    "FOR NO KEY UPDATE), "
    "ins AS (INSERT INTO keel.operation_outputs (workflow_id, function_id, name, output, error_type, error_message, "
    "child_workflow_id, started_at, completed_at) SELECT $1::text, $2::integer, $3::text, $4::text, $5::text, "
    "$6::text, $7::text, $8::bigint, $9::bigint FROM wf WHERE wf.status = 'PENDING' AND wf.executor_id = $10::text "
    "ON CONFLICT (workflow_id, function_id) DO NOTHING RETURNING 1) ";
constexpr const char* kClaimResult =
    "SELECT (SELECT status FROM wf), (SELECT count(*) FROM ins), (SELECT executor_id FROM wf)";

constexpr const char* kInsertOperation =
    "INSERT INTO keel.operation_outputs (workflow_id, function_id, name, output, error_type, error_message, "
    "child_workflow_id, started_at, completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (workflow_id, function_id) DO NOTHING";

std::vector<SqlValue> operation_params(const std::string& id, const OperationRecord& op) {
  return {id,
          int64_t{op.function_id},
          op.name,
          op.output ? SqlValue(*op.output) : SqlValue(nullptr),
          op.error ? SqlValue(op.error->type_name) : SqlValue(nullptr),
          op.error ? SqlValue(op.error->message) : SqlValue(nullptr),
          op.child_workflow_id.empty() ? SqlValue(nullptr) : SqlValue(op.child_workflow_id),
          op.started_at_ms,
          op.completed_at_ms};
}

// kClaimCte's parameters: the operation's, then the owner ($10).
std::vector<SqlValue> claim_params(const std::string& id, const OperationRecord& op, const std::string& owner) {
  std::vector<SqlValue> params = operation_params(id, op);
  params.emplace_back(owner);
  return params;
}

// Reads the answer of kClaimResult: active while PENDING and still owned by
// `owner` (a takeover moved it away otherwise). A position taken by another execution is
// read back by `lookup` (that row no longer changes: any snapshot will do).
template <class Lookup>
Checkpoint claim_result(const Result& r, const std::string& id, const std::string& owner, Lookup&& lookup) {
  if (r.null(0, 0)) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  Checkpoint cp;
  cp.workflow_active = r.text(0, 0) == "PENDING" && r.text(0, 2) == owner;
  if (cp.workflow_active && r.integer(0, 1) == 0) cp.existing = lookup();
  return cp;
}

int64_t now_from(const OperationRecord& op) { return op.completed_at_ms; }

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
  return op;
}

// The row lock and the read of the position in one pipeline (one round trip):
// each statement takes its snapshot when it runs, so the read comes after the
// lock is held, as if sent one by one.
Checkpoint PostgresSystemDatabase::probe(Connection& c, const std::string& id, int function_id) {
  static const std::string lock_sql =
      "SELECT status, executor_id FROM keel.workflow_status WHERE workflow_id = $1 FOR NO KEY UPDATE";
  static const std::string find_sql = std::string(kSelectOperation) + " AND function_id = $2";
  std::vector<SqlValue> lock_params{id};
  std::vector<SqlValue> find_params{id, int64_t{function_id}};
  size_t failed_at = 0;
  std::vector<Result> results = c.exec_pipeline({{lock_sql, &lock_params}, {find_sql, &find_params}}, "", failed_at);
  if (results[0].rows() == 0) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  Checkpoint cp;
  cp.workflow_active = results[0].text(0, 0) == "PENDING" && results[0].text(0, 1) == executor_id_;
  if (results[1].rows() > 0) cp.existing = read_operation_row(results[1], 0);
  return cp;
}

Checkpoint PostgresSystemDatabase::claim(Connection& c, const std::string& id, const OperationRecord& op) {
  Result r = c.exec(std::string(kClaimCte) + kClaimResult, claim_params(id, op, executor_id_));
  return claim_result(r, id, executor_id_, [&] { return find_operation(c, id, op.function_id); });
}

// The workflow's end and the record of its last step in one statement: the
// claim (kClaimCte) and an UPDATE that runs only when the operation went in.
// Both touch the row wf locked; the UPDATE finds it through ins, so it runs
// after the claim.
FinishResult PostgresSystemDatabase::finish_with_operation(const std::string& id, const OperationRecord& op,
                                                           const std::vector<SqlValue>& finish_params) {
  static const std::string sql = std::string(kClaimCte) +
                                ", fin AS (UPDATE keel.workflow_status SET status = $11::text, output = $12::text, "
                                "error_type = $13::text, error_message = $14::text, updated_at = $15::bigint "
                                "WHERE workflow_id = $1::text AND EXISTS (SELECT 1 FROM ins) RETURNING 1) "
                                "SELECT (SELECT status FROM wf), (SELECT count(*) FROM ins), "
                                "(SELECT executor_id FROM wf), (SELECT count(*) FROM fin)";
  std::vector<SqlValue> params = claim_params(id, op, executor_id_);
  params.insert(params.end(), finish_params.begin(), finish_params.end());
  Result r = write_statement(sql, params);
  if (r.null(0, 0)) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  if (r.text(0, 0) != "PENDING" || r.text(0, 2) != executor_id_) return FinishResult::NotPending;
  if (r.integer(0, 1) == 0) return FinishResult::PositionTaken;
  return r.integer(0, 3) == 1 ? FinishResult::Finished : FinishResult::NotPending;
}

bool PostgresSystemDatabase::insert_operation(Connection& c, const std::string& id, const OperationRecord& op) {
  Result r = c.exec(kInsertOperation, operation_params(id, op));
  return r.changed() == 1;
}

std::vector<OperationRecord> PostgresSystemDatabase::load_operations(const std::string& id) {
  std::vector<OperationRecord> ops;
  read_one([&](Connection& c) {
    ops.clear();
    Result r = c.exec(std::string(kSelectOperation) + " ORDER BY function_id", {id});
    for (int i = 0; i < r.rows(); ++i) ops.push_back(read_operation_row(r, i));
  });
  return ops;
}

std::optional<OperationRecord> PostgresSystemDatabase::lookup_operation(const std::string& id, int function_id) {
  std::optional<OperationRecord> op;
  read_one([&](Connection& c) { op = find_operation(c, id, function_id); });
  return op;
}

Checkpoint PostgresSystemDatabase::record_operation(const std::string& id, const OperationRecord& op) {
  static const std::string sql = std::string(kClaimCte) + kClaimResult;
  Result r = write_statement(sql, claim_params(id, op, executor_id_));
  return claim_result(r, id, executor_id_, [&] { return lookup_operation(id, op.function_id); });
}

namespace {
// kClaimCte that raises (keel.refuse_claim, SQLSTATE kRefusedState) when it
// inserted nothing, so that it can travel unanswered in a pipeline.
const std::string& claim_or_raise_sql() {
  static const std::string sql = std::string(kClaimCte) +
                                 "SELECT keel.refuse_claim($1::text, $2::integer) FROM (SELECT 1) AS one "
                                 "WHERE NOT EXISTS (SELECT 1 FROM ins)";
  return sql;
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
Checkpoint PostgresSystemDatabase::run_transaction(const std::string& id, OperationRecord op,
                                                   const std::function<std::string(Sql&)>& body,
                                                   bool probe_first) {
  Checkpoint cp;
  try {
    write([&](Connection& c) {
      OperationRecord rec = op;  // a retried unit starts from the caller's op
      cp = Checkpoint{};
      if (probe_first) {
        cp = probe(c, id, rec.function_id);
        if (!cp.workflow_active || cp.existing) return;
      }
      c.defer("SAVEPOINT keel_user_tx");
      try {
        PgSql sql(c);
        rec.output = body(sql);
        c.defer("RELEASE SAVEPOINT keel_user_tx");
      } catch (const std::exception& e) {
        c.exec("ROLLBACK TO SAVEPOINT keel_user_tx");
        c.defer("RELEASE SAVEPOINT keel_user_tx");
        rec.output.reset();
        rec.error = RecordedErrorInfo{detail::demangle(typeid(e).name()), e.what()};
      }
      if (probe_first) {
        insert_operation(c, id, rec);
        return;
      }
      cp.workflow_active = true;  // unless the claim raises
      c.defer_check(claim_or_raise_sql(), claim_params(id, rec, executor_id_));
    });
  } catch (const CheckRefused&) {
    if (probe_first) throw;  // cannot happen: the probing path claims nothing unanswered
    return run_transaction(id, std::move(op), body, true);
  }
  return cp;
}

Checkpoint PostgresSystemDatabase::set_event(const std::string& id, const std::string& key, const std::string& value,
                                             const OperationRecord& op) {
  static const std::string sql = std::string(kClaimCte) +
                                ", ev AS (INSERT INTO keel.workflow_events (workflow_id, key, value, updated_at) "
                                "SELECT $1::text, $11::text, $12::text, $9::bigint FROM ins "
                                "ON CONFLICT (workflow_id, key) DO UPDATE SET value = excluded.value, "
                                "updated_at = excluded.updated_at) " +
                                kClaimResult;
  std::vector<SqlValue> params = claim_params(id, op, executor_id_);
  params.emplace_back(key);
  params.emplace_back(value);
  Result r = write_statement(sql, params);
  return claim_result(r, id, executor_id_, [&] { return lookup_operation(id, op.function_id); });
}

std::optional<std::string> PostgresSystemDatabase::get_event(const std::string& id, const std::string& key) {
  std::optional<std::string> value;
  read_one([&](Connection& c) {
    Result r = c.exec("SELECT value FROM keel.workflow_events WHERE workflow_id = $1 AND key = $2", {id, key});
    if (r.rows() > 0) value = r.text(0, 0);
  });
  return value;
}

Checkpoint PostgresSystemDatabase::send_message(const std::string& destination, const std::string& topic,
                                                const std::string& message, const std::string& idempotency_key,
                                                const std::string& sender_id, const OperationRecord* op) {
  Checkpoint cp;
  std::vector<SqlValue> message_params{destination, topic, message,
                                       idempotency_key.empty() ? SqlValue(nullptr) : SqlValue(idempotency_key),
                                       sender_id.empty() ? SqlValue(nullptr) : SqlValue(sender_id),
                                       op ? now_from(*op) : int64_t{0}};
  if (!op) {
    // From outside a workflow: the destination check and the insert in one statement.
    Result r = write_statement(
        "WITH d AS (SELECT 1 FROM keel.workflow_status WHERE workflow_id = $1::text), "
        "ins AS (INSERT INTO keel.notifications (destination_id, topic, message, idempotency_key, sender_id, "
        "created_at) SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint FROM d "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1) SELECT count(*) FROM d",
        message_params);
    if (r.integer(0, 0) == 0) throw WorkflowNotFoundError("cannot send to '" + destination + "': no such workflow");
    return cp;
  }
  write([&](Connection& c) {
    cp = Checkpoint{};
    Result exists = c.exec("SELECT 1 FROM keel.workflow_status WHERE workflow_id = $1", {destination});
    if (exists.rows() == 0) throw WorkflowNotFoundError("cannot send to '" + destination + "': no such workflow");
    cp = claim(c, sender_id, *op);
    if (!cp.workflow_active || cp.existing) return;
    c.exec(
        "INSERT INTO keel.notifications (destination_id, topic, message, idempotency_key, sender_id, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING",
        message_params);
  });
  return cp;
}

bool PostgresSystemDatabase::has_message(const std::string& destination, const std::string& topic) {
  bool found = false;
  read_one([&](Connection& c) {
    Result r = c.exec(
        "SELECT 1 FROM keel.notifications WHERE destination_id = $1 AND topic = $2 AND consumed = 0 LIMIT 1",
        {destination, topic});
    found = r.rows() > 0;
  });
  return found;
}

namespace {
// consume_message's statement, with or without `before` (parameters $8..$15,
// inserted as dl when there is a message to consume; nothing is consumed
// unless it went in).
std::string consume_sql(bool with_before) {
  std::string sql =
      "WITH wf AS (SELECT status, executor_id FROM keel.workflow_status WHERE workflow_id = $1::text "
      "FOR NO KEY UPDATE), "
      "prior AS (" + std::string(kSelectOperation) + "::text AND function_id = $2::integer), ";
  sql += "msg AS (SELECT message_id, message FROM keel.notifications WHERE destination_id = $1::text "
         "AND topic = $4::text AND consumed = 0 "
         "AND EXISTS (SELECT 1 FROM wf WHERE status = 'PENDING' AND executor_id = $7::text) "
         "AND NOT EXISTS (SELECT 1 FROM prior) ORDER BY message_id LIMIT 1 FOR UPDATE), ";
  if (with_before)
    sql += "dl AS (INSERT INTO keel.operation_outputs (workflow_id, function_id, name, output, error_type, "
           "error_message, child_workflow_id, started_at, completed_at) SELECT $1::text, $8::integer, $9::text, "
           "$10::text, $11::text, $12::text, $13::text, $14::bigint, $15::bigint FROM msg "
           "ON CONFLICT (workflow_id, function_id) DO NOTHING RETURNING 1), ";
  sql += "ins AS (INSERT INTO keel.operation_outputs (workflow_id, function_id, name, output, started_at, "
         "completed_at) SELECT $1::text, $2::integer, $3::text, '[' || message || ']', $5::bigint, $6::bigint "
         "FROM msg ";
  if (with_before) sql += "WHERE EXISTS (SELECT 1 FROM dl) ";
  sql += "ON CONFLICT (workflow_id, function_id) DO NOTHING RETURNING 1), "
         "upd AS (UPDATE keel.notifications SET consumed = 1 WHERE message_id = (SELECT message_id FROM msg) "
         "AND EXISTS (SELECT 1 FROM ins)) "
         "SELECT (SELECT status FROM wf), (SELECT executor_id FROM wf), (SELECT count(*) FROM ins), "
         "(SELECT message FROM msg), ";
  sql += with_before ? "(SELECT count(*) FROM dl), " : "1, ";
  sql += "p.* FROM (SELECT 1) AS one LEFT JOIN prior AS p ON true";
  return sql;
}
}  // namespace

// One statement: lock the destination's row (consumers of one inbox are
// serialised, and the takeover fence is checked as in kClaimCte), read what
// is recorded at the position, lock the oldest unconsumed message, record
// `before` (if given; nothing more if its position is taken), record the
// message at the position and mark it consumed, the latter only if the
// record went in. All but the row lock read the
// statement's snapshot, taken before a wait for that lock: a message consumed
// meanwhile is skipped (FOR UPDATE re-checks `consumed` on its latest
// version), and a position recorded meanwhile by another execution makes the
// INSERT do nothing (ON CONFLICT sees it), in which case it is read again.
ConsumeResult PostgresSystemDatabase::consume_message(const std::string& destination, const std::string& topic,
                                                      OperationRecord op, const OperationRecord* before) {
  static const std::string plain = consume_sql(false), with_before = consume_sql(true);
  std::vector<SqlValue> params{destination,      int64_t{op.function_id}, op.name,      topic,
                               op.started_at_ms, op.completed_at_ms,      executor_id_};
  if (before) {
    std::vector<SqlValue> b = operation_params(destination, *before);
    params.insert(params.end(), b.begin() + 1, b.end());  // $8..$15: all but the workflow ID
  }
  Result r = write_statement(before ? with_before : plain, params);
  if (r.null(0, 0)) throw WorkflowNotFoundError("no workflow with ID '" + destination + "'");
  ConsumeResult res;
  res.checkpoint.workflow_active = r.text(0, 0) == "PENDING" && r.text(0, 1) == executor_id_;
  if (!res.checkpoint.workflow_active) return res;
  constexpr int kBefore = 4, kPrior = 5;  // dl's count, then prior's columns
  if (!r.null(0, kPrior)) {
    res.checkpoint.existing = read_operation_row(r, 0, kPrior);
  } else if (!r.null(0, 3) && r.integer(0, kBefore) == 0) {
    res.before_taken = true;
  } else if (!r.null(0, 3) && r.integer(0, 2) == 1) {
    res.message = r.text(0, 3);
  } else if (!r.null(0, 3)) {
    // Another execution recorded this position after the snapshot.
    res.checkpoint.existing = lookup_operation(destination, op.function_id);
  }
  return res;
}

}  // namespace keel::sysdb::postgres
