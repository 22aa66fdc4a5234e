// PostgreSQL backend: queues (enqueue, dequeue) and the schema check of a Client.
//
// Serialisation (docs/queues.md): SKIP LOCKED alone lets two dequeuers both
// count "0 running" and each take a different row, exceeding a global limit.
// So every dequeue of a queue first takes a transaction-level advisory lock on
// the queue's name. Under READ COMMITTED each statement reads the latest
// committed state, so the counts taken after the lock see every earlier
// dequeue of the queue (committed before the lock was released). Rows are
// still selected with FOR UPDATE SKIP LOCKED: a row locked by something else
// (a cancel in flight) is passed over instead of waited for.
#include <algorithm>
#include <cstring>
#include <string>

#include "keel/errors.hpp"
#include "common/clock.hpp"
#include "sysdb/postgres/migrations.hpp"
#include "sysdb/postgres/postgres_system_database.hpp"
#include "sysdb/queue_sql.hpp"

namespace keel::sysdb::postgres {

namespace {

// The first key of the two-key advisory lock of a queue (the second is the
// hash of its name). The two-key space does not overlap the one-key space of
// the migration lock.
constexpr int64_t kQueueLockSpace = 0x6b71;  // "kq"

SqlValue opt_int(const std::optional<int64_t>& v) {
  if (v) return *v;
  return nullptr;
}

// A result's row as read_queue_spec reads it.
struct PgRow {
  const Result& r;
  int row;
  bool null(int i) const { return r.null(row, i); }
  int64_t integer(int i) const { return r.integer(row, i); }
  std::string text(int i) const { return r.text(row, i); }
};

constexpr const char* kSelectQueue =
    "SELECT name, concurrency, worker_concurrency, rate_limit, rate_period_ms, priority_enabled::int, "
    "partitioned::int FROM keel.queues";

std::vector<WorkflowInfo> dequeue_in(Connection& c, const DequeueRequest& r) {
  c.exec("SELECT pg_advisory_xact_lock($1::int4, hashtext($2::text))", {kQueueLockSpace, r.queue.name});
  // The stored limits, which every dequeuer enforces. READ COMMITTED: read
  // after the lock, this sees every update committed before it.
  Result stored = c.exec(std::string(kSelectQueue) + " WHERE name = $1", {r.queue.name});
  const QueueSpec q = stored.rows() > 0 ? read_queue_spec(PgRow{stored, 0}) : r.queue;
  Result counts = c.exec(
      "SELECT count(*), count(*) FILTER (WHERE executor_id = $2) FROM keel.workflow_status "
      "WHERE queue_name = $1 AND status = 'PENDING'",
      {q.name, r.executor_id});
  // The clock is read after counting: start times of one queue then increase
  // with the serialisation order.
  int64_t now = detail::now_ms();
  int64_t recent = 0;
  if (q.rate_limit)
    recent = c.exec("SELECT count(*) FROM keel.workflow_status WHERE queue_name = $1 AND started_at > $2",
                    {q.name, now - q.rate_period_ms})
                 .integer(0, 0);
  int64_t room = free_capacity(q, counts.integer(0, 0), counts.integer(0, 1), recent, r.max_batch);
  std::vector<WorkflowInfo> taken;
  if (room == 0) return taken;
  std::vector<SqlValue> params{q.name, r.executor_id, now, room, r.application_version};
  if (q.partitioned) {
    // The window function's rows cannot be locked where they are picked:
    // the picked IDs are locked in a second select (SKIP LOCKED: a row a
    // cancel holds is passed over, and its partition takes nothing more now).
    params.emplace_back(partition_limit(q.concurrency));
    params.emplace_back(partition_limit(q.worker_concurrency));
    for (const auto& n : r.workflow_names) params.emplace_back(n);
    Result rows = c.exec(
        "UPDATE keel.workflow_status SET status = 'PENDING', executor_id = $2, started_at = $3, updated_at = $3, "
        "application_version = $5, deadline_epoch_ms = CASE WHEN timeout_ms IS NULL THEN deadline_epoch_ms ELSE $3 + "
        "timeout_ms END WHERE workflow_id IN (SELECT workflow_id FROM keel.workflow_status WHERE workflow_id IN (" +
            partitioned_pick_sql("keel.workflow_status", q, r.workflow_names.size(), " COLLATE \"C\"") +
            ") AND status = 'ENQUEUED' FOR UPDATE SKIP LOCKED) RETURNING " + workflow_columns(),
        params);
    for (int i = 0; i < rows.rows(); ++i) taken.push_back(read_workflow_row(rows, i));
    return taken;
  }
  for (const auto& n : r.workflow_names) params.emplace_back(n);
  Result rows = c.exec(
      "UPDATE keel.workflow_status SET status = 'PENDING', executor_id = $2, started_at = $3, updated_at = $3, "
      "application_version = $5, deadline_epoch_ms = CASE WHEN timeout_ms IS NULL THEN deadline_epoch_ms ELSE $3 + timeout_ms END "
      "WHERE workflow_id IN (SELECT workflow_id FROM keel.workflow_status WHERE queue_name = $1 AND "
      "status = 'ENQUEUED' AND application_version IN ($5, '') AND name IN (" +
          placeholders(6, r.workflow_names.size()) + ") ORDER BY " +
          dequeue_order(q, " COLLATE \"C\"") + " LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING " + workflow_columns(),
      params);
  for (int i = 0; i < rows.rows(); ++i) taken.push_back(read_workflow_row(rows, i));
  return taken;
}

}  // namespace

QueueSpec PostgresSystemDatabase::declare_queue(const QueueSpec& spec, bool replace) {
  QueueSpec stored;
  write([&](Connection& c) {
    c.exec(declare_queue_sql("keel.queues", replace), declare_queue_params(spec, detail::now_ms()));
    Result r = c.exec(std::string(kSelectQueue) + " WHERE name = $1", {spec.name});
    stored = r.rows() > 0 ? read_queue_spec(PgRow{r, 0}) : spec;
  });
  return stored;
}

std::map<std::string, QueueSpec> PostgresSystemDatabase::stored_queues(const std::vector<std::string>& names) {
  std::map<std::string, QueueSpec> out;
  if (names.empty()) return out;
  std::vector<SqlValue> params(names.begin(), names.end());
  read_one([&](Connection& c) {
    out.clear();
    Result r = c.exec(std::string(kSelectQueue) + " WHERE name IN (" + placeholders(1, names.size()) + ")", params);
    for (int i = 0; i < r.rows(); ++i) {
      QueueSpec q = read_queue_spec(PgRow{r, i});
      out[q.name] = q;
    }
  });
  return out;
}

InsertWorkflowResult PostgresSystemDatabase::enqueue_workflow(const NewWorkflow& wf, const QueuedFields& q,
                                                              const OperationRecord* parent_op) {
  InsertWorkflowResult result;
  try {
    write([&](Connection& c) {
      result = InsertWorkflowResult{};
      // The stored declaration decides whether a partition key belongs (a
      // Client does not know the queue's declaration).
      Result stored = c.exec("SELECT partitioned::int FROM keel.queues WHERE name = $1", {q.queue_name});
      if (stored.rows() > 0) check_partition_key(q.queue_name, stored.integer(0, 0) != 0, q.partition_key);
      if (parent_op && claim(c, wf.parent_id, *parent_op).existing) {
        result.parent_op_existing = true;
        return;  // enqueued by an earlier execution
      }
      Result ins = c.exec(
          "INSERT INTO keel.workflow_status (workflow_id, name, status, inputs, executor_id, application_version, "
          "queue_name, priority, deduplication_id, timeout_ms, created_at, updated_at, parent_id, deadline_epoch_ms, "
          "partition_key) VALUES ($1, $2, 'ENQUEUED', $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13) "
          "ON CONFLICT (workflow_id) DO NOTHING",
          {wf.id, wf.name, wf.inputs, wf.executor_id, wf.application_version, q.queue_name,
           static_cast<int64_t>(q.priority),
           q.deduplication_id.empty() ? SqlValue(nullptr) : SqlValue(q.deduplication_id), opt_int(q.timeout_ms),
           wf.now_ms, wf.parent_id.empty() ? SqlValue(nullptr) : SqlValue(wf.parent_id), opt_int(wf.deadline_epoch_ms),
           q.partition_key.empty() ? SqlValue(nullptr) : SqlValue(q.partition_key)});
      result.created = ins.changed() == 1;
      if (result.created) return;
      Result sel = c.exec(std::string("SELECT ") + workflow_columns() +
                              " FROM keel.workflow_status WHERE workflow_id = $1",
                          {wf.id});
      if (sel.rows() > 0) result.existing = read_workflow_row(sel, 0);
    });
  } catch (const ConstraintError&) {
    // The only other unique index of the table: the deduplication ID.
    throw DeduplicatedError(deduplicated_message(q));
  }
  return result;
}

std::vector<WorkflowInfo> PostgresSystemDatabase::dequeue(const DequeueRequest& r) {
  if (r.workflow_names.empty()) return {};
  std::lock_guard lock(dequeue_mu_);
  if (!dequeue_conn_) dequeue_conn_ = std::make_unique<Connection>(url_, &metrics_.reconnects, application_name());
  Connection& c = *dequeue_conn_;
  c.begin("BEGIN");  // READ COMMITTED: each statement sees the latest commits
  std::vector<WorkflowInfo> taken;
  try {
    taken = dequeue_in(c, r);
    Result done = c.exec("COMMIT");
    const char* tag = PQcmdStatus(done.get());
    if (!tag || std::strcmp(tag, "COMMIT") != 0) throw DatabaseError("dequeue: COMMIT was rolled back");
  } catch (...) {
    if (!c.broken()) {
      try { c.exec("ROLLBACK"); } catch (...) {}
    }
    throw;
  }
  std::sort(taken.begin(), taken.end(), [](const WorkflowInfo& a, const WorkflowInfo& b) {
    return std::tie(a.created_at_ms, a.id) < std::tie(b.created_at_ms, b.id);
  });
  return taken;
}

std::map<std::string, QueueCounts> PostgresSystemDatabase::queue_counts(const std::vector<std::string>& queues) {
  std::map<std::string, QueueCounts> out = zero_counts(queues);
  if (queues.empty()) return out;
  std::vector<SqlValue> params(queues.begin(), queues.end());
  read_one([&](Connection& c) {
    Result r = c.exec(queue_counts_sql("keel.workflow_status", queues.size()), params);
    for (int i = 0; i < r.rows(); ++i) add_count(out, r.text(i, 0), r.text(i, 1), r.integer(i, 2));
  });
  return out;
}

void PostgresSystemDatabase::require_current_schema() {
  int64_t version = 0;
  read([&](Connection& c) {
    Result exists = c.exec("SELECT to_regclass('keel.schema_version') IS NOT NULL");
    if (exists.text(0, 0) != "t") return;
    Result v = c.exec("SELECT version FROM keel.schema_version");
    if (v.rows() > 0) version = v.integer(0, 0);
  });
  auto known = static_cast<int64_t>(migrations().size());
  if (version != known)
    throw IncompatibleDatabaseError("the PostgreSQL database has Keel schema version " + std::to_string(version) +
                                    ", this build needs " + std::to_string(known) +
                                    " (launch a Runtime of this version on it first)");
}

}  // namespace keel::sysdb::postgres
