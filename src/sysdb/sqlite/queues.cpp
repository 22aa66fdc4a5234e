// SQLite backend: queues (enqueue, dequeue) and the schema check of a Client.
//
// Serialisation: a dequeue is a write unit, and every write transaction on
// the file begins with BEGIN IMMEDIATE, which takes SQLite's single write
// lock before anything is read. Two dequeuers, in this process or another one
// on the same file, therefore run one after the other, and the second counts
// what the first committed (docs/queues.md).
#include <algorithm>
#include <string>

#include "keel/errors.hpp"
#include "common/clock.hpp"
#include "sysdb/queue_sql.hpp"
#include "sysdb/sqlite/migrations.hpp"
#include "sysdb/sqlite/sqlite_system_database.hpp"

namespace keel::sysdb::sqlite {

namespace {

SqlValue opt_int(const std::optional<int64_t>& v) {
  if (v) return *v;
  return nullptr;
}

int64_t count(Connection& c, const std::string& sql, const std::vector<SqlValue>& params) {
  auto st = c.prepare(sql, params);
  return st.step() ? st.column_int(0) : 0;
}

// A statement's row as read_queue_spec reads it.
struct SqliteRow {
  const BoundStatement& st;
  bool null(int i) const { return st.column_null(i); }
  int64_t integer(int i) const { return st.column_int(i); }
  std::string text(int i) const { return st.column_text(i); }
};

// The stored declaration of `name`, or nullopt.
std::optional<QueueSpec> stored_queue(Connection& c, const std::string& name) {
  auto st = c.prepare(std::string("SELECT ") + kQueueColumns + " FROM keel_queues WHERE name = $1", {name});
  if (!st.step()) return std::nullopt;
  return read_queue_spec(SqliteRow{st});
}

}  // namespace

QueueSpec SqliteSystemDatabase::declare_queue(const QueueSpec& spec, bool replace) {
  QueueSpec stored;
  write([&](Connection& c) {
    c.prepare(declare_queue_sql("keel_queues", replace), declare_queue_params(spec, detail::now_ms())).step();
    stored = stored_queue(c, spec.name).value_or(spec);
  });
  return stored;
}

std::map<std::string, QueueSpec> SqliteSystemDatabase::stored_queues(const std::vector<std::string>& names) {
  std::map<std::string, QueueSpec> out;
  if (names.empty()) return out;
  read([&](Connection& c) {
    out.clear();
    std::vector<SqlValue> params(names.begin(), names.end());
    auto st = c.prepare(std::string("SELECT ") + kQueueColumns + " FROM keel_queues WHERE name IN (" +
                            placeholders(1, names.size()) + ")",
                        params);
    while (st.step()) {
      QueueSpec q = read_queue_spec(SqliteRow{st});
      out[q.name] = q;
    }
  });
  return out;
}

InsertWorkflowResult SqliteSystemDatabase::enqueue_workflow(const NewWorkflow& wf, const QueuedFields& q,
                                                            const OperationRecord* parent_op) {
  InsertWorkflowResult result;
  try {
    write([&](Connection& c) {
      result = InsertWorkflowResult{};
      // The stored declaration decides whether a partition key belongs (a
      // Client does not know the queue's declaration).
      if (auto stored = stored_queue(c, q.queue_name)) check_partition_key(q.queue_name, stored->partitioned, q.partition_key);
      if (parent_op && claim(c, wf.parent_id, *parent_op).existing) {
        result.parent_op_existing = true;
        return;  // enqueued by an earlier execution
      }
      c.prepare(
           "INSERT INTO keel_workflow_status (workflow_id, name, status, inputs, executor_id, application_version, "
           "queue_name, priority, deduplication_id, timeout_ms, created_at, updated_at, parent_id, deadline_epoch_ms, "
           "partition_key) VALUES ($1, $2, 'ENQUEUED', $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13) "
           "ON CONFLICT (workflow_id) DO NOTHING",
           {wf.id, wf.name, wf.inputs, wf.executor_id, wf.application_version, q.queue_name,
            static_cast<int64_t>(q.priority),
            q.deduplication_id.empty() ? SqlValue(nullptr) : SqlValue(q.deduplication_id), opt_int(q.timeout_ms),
            wf.now_ms, wf.parent_id.empty() ? SqlValue(nullptr) : SqlValue(wf.parent_id), opt_int(wf.deadline_epoch_ms),
            q.partition_key.empty() ? SqlValue(nullptr) : SqlValue(q.partition_key)})
          .step();
      result.created = c.changes() == 1;
      if (result.created) return;
      auto sel = c.prepare(std::string("SELECT ") + workflow_columns() +
                               " FROM keel_workflow_status WHERE workflow_id = $1",
                           {wf.id});
      if (sel.step()) result.existing = read_workflow_row(sel);
    });
  } catch (const ConstraintError&) {
    // The only other unique index of the table: the deduplication ID.
    throw DeduplicatedError(deduplicated_message(q));
  }
  return result;
}

std::vector<WorkflowInfo> SqliteSystemDatabase::dequeue(const DequeueRequest& r) {
  std::vector<WorkflowInfo> taken;
  if (r.workflow_names.empty()) return taken;
  write([&](Connection& c) {
    taken.clear();
    // The stored limits, which every dequeuer enforces (read under the write
    // lock: an update committed before is seen).
    const QueueSpec q = stored_queue(c, r.queue.name).value_or(r.queue);
    int64_t global = count(c, "SELECT count(*) FROM keel_workflow_status WHERE queue_name = $1 AND status = 'PENDING'",
                           {q.name});
    int64_t here = count(c,
                         "SELECT count(*) FROM keel_workflow_status WHERE queue_name = $1 AND status = 'PENDING' "
                         "AND executor_id = $2",
                         {q.name, r.executor_id});
    // The clock is read after counting (docs/queues.md: start times of one
    // queue increase with the serialisation order).
    int64_t now = detail::now_ms();
    int64_t recent = 0;
    if (q.rate_limit)
      recent = count(c, "SELECT count(*) FROM keel_workflow_status WHERE queue_name = $1 AND started_at > $2",
                     {q.name, now - q.rate_period_ms});
    int64_t room = free_capacity(q, global, here, recent, r.max_batch);
    if (room == 0) return;
    std::vector<SqlValue> params{q.name, r.executor_id, now, room, r.application_version};
    if (q.partitioned) {
      params.emplace_back(partition_limit(q.concurrency));
      params.emplace_back(partition_limit(q.worker_concurrency));
      for (const auto& n : r.workflow_names) params.emplace_back(n);
      auto st = c.prepare(
          "UPDATE keel_workflow_status SET status = 'PENDING', executor_id = $2, started_at = $3, updated_at = $3, "
          "application_version = $5, deadline_epoch_ms = CASE WHEN timeout_ms IS NULL THEN deadline_epoch_ms ELSE $3 + "
          "timeout_ms END WHERE workflow_id IN (" +
              partitioned_pick_sql("keel_workflow_status", q, r.workflow_names.size(), "") + ") RETURNING " +
              workflow_columns(),
          params);
      while (st.step()) taken.push_back(read_workflow_row(st));
      return;
    }
    for (const auto& n : r.workflow_names) params.emplace_back(n);
    auto st = c.prepare(
        "UPDATE keel_workflow_status SET status = 'PENDING', executor_id = $2, started_at = $3, updated_at = $3, "
        "application_version = $5, deadline_epoch_ms = CASE WHEN timeout_ms IS NULL THEN deadline_epoch_ms ELSE $3 + timeout_ms END "
        "WHERE workflow_id IN (SELECT workflow_id FROM keel_workflow_status WHERE queue_name = $1 AND "
        "status = 'ENQUEUED' AND application_version IN ($5, '') AND name IN (" +
            placeholders(6, r.workflow_names.size()) + ") ORDER BY " +
            dequeue_order(q, "") + " LIMIT $4) RETURNING " + workflow_columns(),
        params);
    while (st.step()) taken.push_back(read_workflow_row(st));
  });
  // RETURNING has no order: start them in queue order.
  std::sort(taken.begin(), taken.end(), [](const WorkflowInfo& a, const WorkflowInfo& b) {
    return std::tie(a.created_at_ms, a.id) < std::tie(b.created_at_ms, b.id);
  });
  return taken;
}

std::map<std::string, QueueCounts> SqliteSystemDatabase::queue_counts(const std::vector<std::string>& queues) {
  std::map<std::string, QueueCounts> out = zero_counts(queues);
  if (queues.empty()) return out;
  read([&](Connection& c) {
    std::vector<SqlValue> params(queues.begin(), queues.end());
    auto st = c.prepare(queue_counts_sql("keel_workflow_status", queues.size()), params);
    while (st.step()) add_count(out, st.column_text(0), st.column_text(1), st.column_int(2));
  });
  return out;
}

void SqliteSystemDatabase::require_current_schema() {
  int64_t version = 0;
  read([&](Connection& c) {
    auto t = c.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'keel_schema_version'");
    if (!t.step()) return;
    auto v = c.prepare("SELECT version FROM keel_schema_version");
    if (v.step()) version = v.column_int(0);
  });
  auto known = static_cast<int64_t>(migrations().size());
  if (version != known)
    throw IncompatibleDatabaseError("database '" + path_ + "' has Keel schema version " + std::to_string(version) +
                                    ", this build needs " + std::to_string(known) +
                                    " (launch a Runtime of this version on it first)");
}

}  // namespace keel::sysdb::sqlite
