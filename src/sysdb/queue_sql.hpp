// Pieces of the dequeue shared by both backends (sysdb/*/queues.cpp): how much
// a queue may take now, and the SQL fragments that order and filter it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "keel/errors.hpp"
#include "keel/sql.hpp"
#include "sysdb/system_database.hpp"

namespace keel::sysdb {

// What the dequeuer may start now, given what runs (PENDING in the queue, all
// executors / this one) and what started within the rate period. In a
// partitioned queue the concurrency limits are per partition
// (partitioned_pick_sql applies them): only the rate and the batch bound here.
inline int64_t free_capacity(const QueueSpec& q, int64_t running_global, int64_t running_here,
                             int64_t started_recently, int max_batch) {
  int64_t room = max_batch;
  if (q.partitioned) {
    if (q.rate_limit) room = std::min<int64_t>(room, *q.rate_limit - started_recently);
    return std::max<int64_t>(room, 0);
  }
  if (q.concurrency) room = std::min<int64_t>(room, *q.concurrency - running_global);
  if (q.worker_concurrency) room = std::min<int64_t>(room, *q.worker_concurrency - running_here);
  if (q.rate_limit) room = std::min<int64_t>(room, *q.rate_limit - started_recently);
  return std::max<int64_t>(room, 0);
}

// The dequeue order: lower priority first (when the queue uses priorities),
// then FIFO by creation time, ties broken by workflow ID. id_collation is
// appended to the ID (PostgreSQL: byte order, as SQLite compares).
inline std::string dequeue_order(const QueueSpec& q, const std::string& id_collation) {
  return std::string(q.priority_enabled ? "priority, " : "") + "created_at, workflow_id" + id_collation;
}

// "$first, $first+1, ..." for n parameters.
inline std::string placeholders(size_t first, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i ? ", $" : "$") + std::to_string(first + i);
  return out;
}

// queue_counts on both backends: one grouped read of the queue index
// (queue_name, status, ...) for n queue names ($1..$n).
inline std::string queue_counts_sql(const std::string& table, size_t n) {
  return "SELECT queue_name, status, count(*) FROM " + table + " WHERE queue_name IN (" + placeholders(1, n) +
         ") AND status IN ('ENQUEUED', 'PENDING') GROUP BY queue_name, status";
}

// Every queue of `queues` with zeros, to be filled in by the rows read.
inline std::map<std::string, QueueCounts> zero_counts(const std::vector<std::string>& queues) {
  std::map<std::string, QueueCounts> out;
  for (const auto& q : queues) out[q] = QueueCounts{};
  return out;
}

inline void add_count(std::map<std::string, QueueCounts>& out, const std::string& queue, const std::string& status,
                      int64_t n) {
  if (status == "ENQUEUED") out[queue].enqueued = n;
  else out[queue].pending = n;
}

// The columns of a stored declaration (keel_queues), in QueueSpec's order;
// booleans are read as integers on both backends.
inline constexpr const char* kQueueColumns =
    "name, concurrency, worker_concurrency, rate_limit, rate_period_ms, priority_enabled, partitioned";

// declare_queue's upsert: inserts the declaration ($1..$7 in kQueueColumns'
// order, $8 updated_at; booleans as 0/1), replacing a stored one only when
// `replace`. ($n <> 0) is the column's boolean on both backends (an
// integer on SQLite, a BOOLEAN on PostgreSQL).
inline std::string declare_queue_sql(const std::string& table, bool replace) {
  std::string sql = "INSERT INTO " + table + " (" + kQueueColumns +
                    ", updated_at) VALUES ($1, $2, $3, $4, $5, ($6 <> 0), ($7 <> 0), $8) ON CONFLICT (name) DO ";
  if (!replace) return sql + "NOTHING";
  return sql +
         "UPDATE SET concurrency = excluded.concurrency, worker_concurrency = excluded.worker_concurrency, "
         "rate_limit = excluded.rate_limit, rate_period_ms = excluded.rate_period_ms, "
         "priority_enabled = excluded.priority_enabled, partitioned = excluded.partitioned, "
         "updated_at = excluded.updated_at";
}

// declare_queue's parameters ($1..$8 of declare_queue_sql).
inline std::vector<SqlValue> declare_queue_params(const QueueSpec& q, int64_t now) {
  auto opt = [](const std::optional<int>& v) { return v ? SqlValue(static_cast<int64_t>(*v)) : SqlValue(nullptr); };
  return {q.name, opt(q.concurrency), opt(q.worker_concurrency), opt(q.rate_limit), q.rate_period_ms,
          static_cast<int64_t>(q.priority_enabled), static_cast<int64_t>(q.partitioned), now};
}

// A stored declaration from its columns (kQueueColumns' order), read through
// a row accessor: null(i), integer(i), text(i).
template <class Row>
QueueSpec read_queue_spec(const Row& row) {
  QueueSpec q;
  q.name = row.text(0);
  auto opt = [&](int i) { return row.null(i) ? std::optional<int>() : std::optional<int>(static_cast<int>(row.integer(i))); };
  q.concurrency = opt(1);
  q.worker_concurrency = opt(2);
  q.rate_limit = opt(3);
  q.rate_period_ms = q.rate_limit ? row.integer(4) : 0;
  q.priority_enabled = row.integer(5) != 0;
  q.partitioned = row.integer(6) != 0;
  return q;
}

// Throws UsageError for a partition key missing in a partitioned queue, or
// given to a plain one (Runtime::enqueue against its declaration, both
// backends' enqueue_workflow against the stored one).
inline void check_partition_key(const std::string& queue, bool partitioned, const std::string& key) {
  if (partitioned && key.empty())
    throw UsageError("queue '" + queue + "' is partitioned: enqueue with a non-empty EnqueueOptions::partition_key");
  if (!partitioned && !key.empty())
    throw UsageError("queue '" + queue + "' is not partitioned: EnqueueOptions::partition_key must be empty");
}

// A partitioned queue's dequeue (both backends; $1 queue, $2 executor, $4
// room, $5 application version, $6 the limit per partition, $7 the limit per
// partition and executor, $8.. the workflow names): the IDs of the ENQUEUED
// workflows to take, in queue order. Each partition key (NULL: one more
// partition, rows enqueued before the queue was partitioned) takes at most
// as many as its own running counts leave. After the caller's serialisation,
// so the counts include every earlier dequeue of the queue.
inline std::string partitioned_pick_sql(const std::string& table, const QueueSpec& q, size_t names,
                                        const std::string& id_collation) {
  const std::string order = dequeue_order(q, id_collation);
  return "WITH running AS (SELECT COALESCE(partition_key, '') AS pk, count(*) AS g, "
         "sum(CASE WHEN executor_id = $2 THEN 1 ELSE 0 END) AS h FROM " + table +
         " WHERE queue_name = $1 AND status = 'PENDING' GROUP BY COALESCE(partition_key, '')), "
         "waiting AS (SELECT workflow_id, priority, created_at, COALESCE(partition_key, '') AS pk, "
         "row_number() OVER (PARTITION BY COALESCE(partition_key, '') ORDER BY " + order + ") AS rn FROM " + table +
         " WHERE queue_name = $1 AND status = 'ENQUEUED' AND application_version IN ($5, '') AND name IN (" +
         placeholders(8, names) + ")) "
         "SELECT waiting.workflow_id FROM waiting LEFT JOIN running ON running.pk = waiting.pk "
         "WHERE waiting.rn <= $6 - COALESCE(running.g, 0) AND waiting.rn <= $7 - COALESCE(running.h, 0) "
         "ORDER BY " + order + " LIMIT $4";
}

// $6 and $7 of partitioned_pick_sql: a limit not set does not limit.
inline int64_t partition_limit(const std::optional<int>& v) { return v ? *v : int64_t{1} << 40; }

inline std::string deduplicated_message(const QueuedFields& q) {
  return "deduplication ID '" + q.deduplication_id + "' is already used in queue '" + q.queue_name +
         "' by an enqueued or running workflow";
}

}  // namespace keel::sysdb
