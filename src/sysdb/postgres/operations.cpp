// PostgreSQL backend: operation_outputs (checkpoints), events and messages.
#include <stdexcept>
#include <string>
#include <variant>

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

// A step's claim (one record that consumes no message: the common case): the
// insert happens only while the workflow is PENDING here, as its statement
// reads the row. It takes no row lock, so it costs the floor's insert and an
// index read (docs/postgres.md, "The step's claim"). Unlike kClaimCte it may
// go in just after a takeover or cancel commits, when its snapshot predates
// it: the body it records did run, and the new owner finds the record.
constexpr const char* kClaimStep =
    "INSERT INTO keel.operation_outputs (workflow_id, function_id, name, output, error_type, error_message, "
    "child_workflow_id, started_at, completed_at) SELECT $1::text, $2::integer, $3::text, $4::text, $5::text, "
    "$6::text, $7::text, $8::bigint, $9::bigint FROM keel.workflow_status WHERE workflow_id = $1::text "
    "AND status = 'PENDING' AND executor_id = $10::text ON CONFLICT (workflow_id, function_id) DO NOTHING";

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

namespace {

// The claim of several records in one statement, all or nothing: as
// kClaimCte, with the records as one JSON array ($2), the owner $3 and the
// message a recv among them consumes ($4, or null; a recv's position is
// taken after the earlier records are written, so a list holds one at most).
// `whole` is true when every record went in; the message is marked consumed
// only then, and kRefusePartial raises (KL001, undoing the statement's
// inserts) when only some went in: another execution took the other
// positions. The message is found by its key: a join with the JSON rows
// would be planned for a hundred of them, and scan the table.
constexpr const char* kClaimManyCte =
    "WITH wf AS (SELECT status, executor_id FROM keel.workflow_status WHERE workflow_id = $1::text "
    "FOR NO KEY UPDATE), "
    "ops AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS o(function_id integer, name text, output text, "
    "error_type text, error_message text, child_workflow_id text, started_at bigint, completed_at bigint)), "
    "ins AS (INSERT INTO keel.operation_outputs (workflow_id, function_id, name, output, error_type, error_message, "
    "child_workflow_id, started_at, completed_at) SELECT $1::text, o.function_id, o.name, o.output, o.error_type, "
    "o.error_message, o.child_workflow_id, o.started_at, o.completed_at FROM ops AS o, wf "
    "WHERE wf.status = 'PENDING' AND wf.executor_id = $3::text "
    "ON CONFLICT (workflow_id, function_id) DO NOTHING RETURNING 1), "
    "whole AS (SELECT (SELECT count(*) FROM ins) = (SELECT count(*) FROM ops) AS yes), "
    "con AS (UPDATE keel.notifications SET consumed = 1 WHERE message_id = $4::bigint AND (SELECT yes FROM whole)) ";
constexpr const char* kRefusePartial =
    ", (SELECT keel.refuse_claim($1::text, (SELECT min(function_id) FROM ops)) "
    "WHERE NOT (SELECT yes FROM whole) AND EXISTS (SELECT 1 FROM ins))";

// One record that consumes no message (a step's: the common case) takes
// kClaimCte, which parses no JSON; any other list kClaimManyCte.
bool claims_many(const std::vector<OperationRecord>& ops) {
  return ops.size() != 1 || ops.front().consumes_message_id > 0;
}

// The claim's CTEs, ending with `whole` in both forms.
std::string claim_head(bool many) {
  if (many) return kClaimManyCte;
  return std::string(kClaimCte) + ", whole AS (SELECT EXISTS (SELECT 1 FROM ins) AS yes) ";
}

// The first parameter number free after the claim's.
int first_free_param(bool many) { return many ? 5 : 11; }

std::string ops_json(const std::vector<OperationRecord>& ops) {
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
                    {"completed_at", op.completed_at_ms}});
  // An error message need not be valid UTF-8 (e.what() of any exception).
  return list.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::vector<SqlValue> claim_many_params(const std::string& id, const std::vector<OperationRecord>& ops,
                                        const std::string& owner, bool many) {
  if (!many) return claim_params(id, ops.front(), owner);
  SqlValue consumed(nullptr);
  for (const OperationRecord& op : ops) {
    if (op.consumes_message_id == 0) continue;
    if (!std::holds_alternative<std::nullptr_t>(consumed))
      throw std::logic_error("record_operations: two records consume a message");
    consumed = SqlValue(op.consumes_message_id);
  }
  return {id, ops_json(ops), owner, consumed};
}

}  // namespace

// What is recorded at the ops' positions, when a claim found any taken.
Checkpoint PostgresSystemDatabase::taken_positions(const std::string& id, const std::vector<OperationRecord>& ops) {
  Checkpoint cp;
  for (const OperationRecord& op : ops)
    if (auto found = lookup_operation(id, op.function_id)) cp.taken.push_back(std::move(*found));
  if (!cp.taken.empty() && cp.taken.front().function_id == ops.front().function_id) cp.existing = cp.taken.front();
  return cp;
}

// Why kClaimStep inserted nothing: the workflow is not PENDING here, or the
// position is taken (read after the claim: that row no longer changes).
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
  const bool many = claims_many(ops);
  if (!many) {
    if (write_statement(kClaimStep, claim_params(id, ops.front(), executor_id_)).changed() == 1) return {};
    return step_refused(id, ops);
  }
  static const std::string many_sql = claim_head(true) + kClaimResult + kRefusePartial;
  std::optional<Result> answer;
  try {
    answer.emplace(write_statement(many_sql, claim_many_params(id, ops, executor_id_, many)));
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

namespace {
// finish_workflow's statement with records: the claim, then an UPDATE of
// the status that runs only when every record went in. Both touch the row
// wf locked; the UPDATE reads `whole`, so it runs after the claim.
std::string finish_sql(bool many) {
  int n = first_free_param(many);
  auto p = [n](int k) { return "$" + std::to_string(n + k); };
  return claim_head(many) + ", fin AS (UPDATE keel.workflow_status SET status = " + p(0) + "::text, output = " +
         p(1) + "::text, error_type = " + p(2) + "::text, error_message = " + p(3) + "::text, updated_at = " + p(4) +
         "::bigint WHERE workflow_id = $1::text AND (SELECT yes FROM whole) RETURNING 1) " + kClaimResult +
         ", (SELECT count(*) FROM fin)" + (many ? kRefusePartial : "");
}
}  // namespace

FinishResult PostgresSystemDatabase::finish_with_operations(const std::string& id,
                                                            const std::vector<OperationRecord>& ops,
                                                            const std::vector<SqlValue>& finish_params) {
  const bool many = claims_many(ops);
  static const std::string one_sql = finish_sql(false), many_sql = finish_sql(true);
  std::vector<SqlValue> params = claim_many_params(id, ops, executor_id_, many);
  params.insert(params.end(), finish_params.begin(), finish_params.end());
  std::optional<Result> answer;
  try {
    answer.emplace(write_statement(many ? many_sql : one_sql, params));
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
// kClaimCte that raises (keel.refuse_claim, SQLSTATE kRefusedState) when it
// inserted nothing, so that it can travel unanswered in a pipeline.
const std::string& claim_or_raise_sql() {
  static const std::string sql = std::string(kClaimCte) +
                                 "SELECT keel.refuse_claim($1::text, $2::integer) FROM (SELECT 1) AS one "
                                 "WHERE NOT EXISTS (SELECT 1 FROM ins)";
  return sql;
}
}  // namespace

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
          c.defer_check(claim_or_raise_sql(), claim_params(id, rec, executor_id_));
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

SendResult PostgresSystemDatabase::send_message(const std::string& destination, const std::string& topic,
                                                const std::string& message, const std::string& idempotency_key,
                                                const std::string& sender_id, const OperationRecord* op) {
  SendResult sent;
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
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING message_id) "
        "SELECT (SELECT count(*) FROM d), (SELECT message_id FROM ins)",
        message_params);
    if (r.integer(0, 0) == 0) throw WorkflowNotFoundError("cannot send to '" + destination + "': no such workflow");
    if (!r.null(0, 1)) sent.message_id = r.integer(0, 1);
    return sent;
  }
  write([&](Connection& c) {
    sent = SendResult{};
    Result exists = c.exec("SELECT 1 FROM keel.workflow_status WHERE workflow_id = $1", {destination});
    if (exists.rows() == 0) throw WorkflowNotFoundError("cannot send to '" + destination + "': no such workflow");
    sent.checkpoint = claim(c, sender_id, *op);
    if (!sent.checkpoint.workflow_active || sent.checkpoint.existing) return;
    Result ins = c.exec(
        "INSERT INTO keel.notifications (destination_id, topic, message, idempotency_key, sender_id, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING message_id",
        message_params);
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
