#include "sysdb/sqlite/migrations.hpp"

namespace keel::sysdb::sqlite {

namespace {

// Tables carry a keel_ prefix: on SQLite they share the file with the
// application's tables, so that a transaction's checkpoint and its effects
// commit together. CREATE TABLE (not IF NOT EXISTS): a foreign table of the
// same name fails the migration instead of being silently misused.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE keel_workflow_status (
  workflow_id         TEXT PRIMARY KEY,
  name                TEXT NOT NULL,
  status              TEXT NOT NULL,
  inputs              TEXT NOT NULL,
  output              TEXT,
  error_type          TEXT,
  error_message       TEXT,
  serialization       TEXT NOT NULL DEFAULT 'json',
  executor_id         TEXT NOT NULL,
  application_version TEXT NOT NULL,
  parent_id           TEXT,
  queue_name          TEXT,
  priority            INTEGER NOT NULL DEFAULT 0,
  deduplication_id    TEXT,
  recovery_attempts   INTEGER NOT NULL DEFAULT 0,
  deadline_epoch_ms   INTEGER,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL
);
CREATE INDEX keel_workflow_status_by_status ON keel_workflow_status (status, executor_id);
CREATE INDEX keel_workflow_status_by_created ON keel_workflow_status (created_at);

CREATE TABLE keel_operation_outputs (
  workflow_id       TEXT NOT NULL REFERENCES keel_workflow_status (workflow_id) ON DELETE CASCADE,
  function_id       INTEGER NOT NULL,
  name              TEXT NOT NULL,
  output            TEXT,
  error_type        TEXT,
  error_message     TEXT,
  serialization     TEXT NOT NULL DEFAULT 'json',
  child_workflow_id TEXT,
  started_at        INTEGER NOT NULL,
  completed_at      INTEGER NOT NULL,
  PRIMARY KEY (workflow_id, function_id)
) WITHOUT ROWID;

CREATE TABLE keel_notifications (
  message_id      INTEGER PRIMARY KEY AUTOINCREMENT,
  destination_id  TEXT NOT NULL REFERENCES keel_workflow_status (workflow_id) ON DELETE CASCADE,
  topic           TEXT NOT NULL,
  message         TEXT NOT NULL,
  serialization   TEXT NOT NULL DEFAULT 'json',
  idempotency_key TEXT UNIQUE,
  sender_id       TEXT,
  consumed        INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL
);
CREATE INDEX keel_notifications_waiting ON keel_notifications (destination_id, topic, consumed, message_id);

CREATE TABLE keel_workflow_events (
  workflow_id   TEXT NOT NULL REFERENCES keel_workflow_status (workflow_id) ON DELETE CASCADE,
  key           TEXT NOT NULL,
  value         TEXT NOT NULL,
  serialization TEXT NOT NULL DEFAULT 'json',
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (workflow_id, key)
) WITHOUT ROWID;
)sql";

// Queues (docs/queues.md): started_at is when a dequeuer moved the workflow
// from ENQUEUED to PENDING (the rate limit counts these); timeout_ms is an
// enqueued workflow's timeout, turned into deadline_epoch_ms at dequeue. The
// partial unique index makes a deduplication ID exclusive among a queue's
// ENQUEUED and PENDING workflows.
constexpr std::string_view kV2Queues = R"sql(
ALTER TABLE keel_workflow_status ADD COLUMN started_at INTEGER;
ALTER TABLE keel_workflow_status ADD COLUMN timeout_ms INTEGER;
CREATE INDEX keel_workflow_status_queued ON keel_workflow_status (queue_name, status, priority, created_at)
  WHERE queue_name IS NOT NULL;
CREATE INDEX keel_workflow_status_queue_starts ON keel_workflow_status (queue_name, started_at)
  WHERE started_at IS NOT NULL;
CREATE UNIQUE INDEX keel_workflow_status_dedup ON keel_workflow_status (queue_name, deduplication_id)
  WHERE deduplication_id IS NOT NULL AND status IN ('ENQUEUED', 'PENDING');
)sql";

// V3: executor leases (scale-out). One row per live (or not yet taken over)
// executor; holder names the process ("host:pid"); heartbeat_at is renewed
// every heartbeat_interval, in epoch ms of the backend's clock.
constexpr std::string_view kV3Executors = R"sql(
CREATE TABLE keel_executors (
  executor_id         TEXT PRIMARY KEY,
  application_version TEXT NOT NULL,
  holder              TEXT NOT NULL,
  heartbeat_at        INTEGER NOT NULL,
  started_at          INTEGER NOT NULL
);
)sql";

// V4: each operation's kind (step, transaction, keel), so that a replay
// tells a step from a transaction of the same name. NULL on older rows.
constexpr std::string_view kV4OperationKinds = R"sql(
ALTER TABLE keel_operation_outputs ADD COLUMN kind TEXT;
)sql";

// V5: finding workflows (list_workflows, docs/operations.md): an index per
// filter that must answer a page from millions of rows, each ending in the
// list's order (created_at, workflow_id) so that a page is read in order and
// stops after its rows (the primary key serves the ID prefix). Partial
// where most rows have no value (queue, parent).
constexpr std::string_view kV5ListIndexes = R"sql(
DROP INDEX keel_workflow_status_by_created;
CREATE INDEX keel_workflow_status_by_created ON keel_workflow_status (created_at, workflow_id);
CREATE INDEX keel_workflow_status_by_status_created ON keel_workflow_status (status, created_at, workflow_id);
CREATE INDEX keel_workflow_status_by_name ON keel_workflow_status (name, created_at, workflow_id);
CREATE INDEX keel_workflow_status_by_queue ON keel_workflow_status (queue_name, created_at, workflow_id)
  WHERE queue_name IS NOT NULL;
CREATE INDEX keel_workflow_status_by_parent ON keel_workflow_status (parent_id, created_at, workflow_id)
  WHERE parent_id IS NOT NULL;
)sql";

// V6: how many times each operation's body ran (a step's retries;
// StepInfo::attempts). NULL on older rows: not counted.
constexpr std::string_view kV6OperationAttempts = R"sql(
ALTER TABLE keel_operation_outputs ADD COLUMN attempts INTEGER;
)sql";

// V7: schedules (docs/schedules.md). last_tick_ms: the last tick the
// schedule moved past; its workflows' IDs say which ticks started.
constexpr std::string_view kV7Schedules = R"sql(
CREATE TABLE keel_schedules (
  name          TEXT PRIMARY KEY,
  workflow_name TEXT NOT NULL,
  cron          TEXT NOT NULL,
  time_zone     TEXT NOT NULL,
  policy        TEXT NOT NULL,
  paused        INTEGER NOT NULL DEFAULT 0,
  last_tick_ms  INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
)sql";

// V8: durable streams (docs/streams.md). One row per value, at dense
// offsets 0, 1, 2, ... per (workflow, key); a NULL value is the close, the
// stream's last row. Deleted with the workflow (delete_finished).
constexpr std::string_view kV8Streams = R"sql(
CREATE TABLE keel_streams (
  workflow_id   TEXT NOT NULL REFERENCES keel_workflow_status (workflow_id) ON DELETE CASCADE,
  key           TEXT NOT NULL,
  stream_offset INTEGER NOT NULL,
  value         TEXT,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (workflow_id, key, stream_offset)
) WITHOUT ROWID;
)sql";

// V9: queue declarations (docs/queues.md, "Stored declarations"): one row
// per queue, written by the first launch that declares it, compared by every
// later one, rewritten only on request (QueueOptions::update_stored). The
// dequeuer enforces these limits, whatever its own process declared. A NULL
// limit does not limit; rate_period_ms is 0 without a rate limit.
constexpr std::string_view kV9QueueDeclarations = R"sql(
CREATE TABLE keel_queues (
  name               TEXT PRIMARY KEY,
  concurrency        INTEGER,
  worker_concurrency INTEGER,
  rate_limit         INTEGER,
  rate_period_ms     INTEGER NOT NULL DEFAULT 0,
  priority_enabled   INTEGER NOT NULL DEFAULT 0,
  partitioned        INTEGER NOT NULL DEFAULT 0,
  updated_at         INTEGER NOT NULL
);
)sql";

// V10: partitioned queues (docs/queues.md, "Partitioned queues"): each
// queued workflow's partition key (NULL outside partitioned queues), and an
// index for the dequeue's per-partition counts.
constexpr std::string_view kV10PartitionKeys = R"sql(
ALTER TABLE keel_workflow_status ADD COLUMN partition_key TEXT;
CREATE INDEX keel_workflow_status_partitions ON keel_workflow_status (queue_name, status, partition_key)
  WHERE partition_key IS NOT NULL;
)sql";

// V11: debouncing (docs/debounce.md): one row per open burst, by key, until
// a firer deletes it and inserts its target workflow in the same commit.
// deadline_ms: first_call_ms + max_wait (NULL: no cap).
constexpr std::string_view kV11Debounces = R"sql(
CREATE TABLE keel_debounces (
  debounce_key  TEXT PRIMARY KEY,
  workflow_name TEXT NOT NULL,
  workflow_id   TEXT NOT NULL,
  inputs        TEXT NOT NULL,
  queue_name    TEXT,
  first_call_ms INTEGER NOT NULL,
  fire_at_ms    INTEGER NOT NULL,
  deadline_ms   INTEGER,
  calls         INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX keel_debounces_fire_at ON keel_debounces (fire_at_ms);
CREATE INDEX keel_debounces_workflow_id ON keel_debounces (workflow_id);
)sql";

}  // namespace

const std::vector<std::string_view>& migrations() {
  static const std::vector<std::string_view> all{kV1, kV2Queues, kV3Executors, kV4OperationKinds, kV5ListIndexes,
                                                 kV6OperationAttempts, kV7Schedules, kV8Streams, kV9QueueDeclarations,
                                                 kV10PartitionKeys, kV11Debounces};
  return all;
}

}  // namespace keel::sysdb::sqlite
