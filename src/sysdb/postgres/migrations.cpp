#include "sysdb/postgres/migrations.hpp"

namespace keel::sysdb::postgres {

namespace {

// The same tables and columns as the SQLite backend (docs/schema.md), in their
// own schema: timestamps are BIGINT epoch milliseconds, JSON is TEXT.
// CREATE TABLE (not IF NOT EXISTS): a foreign table of the same name fails the
// migration instead of being silently misused.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE keel.workflow_status (
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
  deadline_epoch_ms   BIGINT,
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL
);
CREATE INDEX workflow_status_by_status ON keel.workflow_status (status, executor_id);
CREATE INDEX workflow_status_by_created ON keel.workflow_status (created_at);

CREATE TABLE keel.operation_outputs (
  workflow_id       TEXT NOT NULL REFERENCES keel.workflow_status (workflow_id) ON DELETE CASCADE,
  function_id       INTEGER NOT NULL,
  name              TEXT NOT NULL,
  output            TEXT,
  error_type        TEXT,
  error_message     TEXT,
  serialization     TEXT NOT NULL DEFAULT 'json',
  child_workflow_id TEXT,
  started_at        BIGINT NOT NULL,
  completed_at      BIGINT NOT NULL,
  PRIMARY KEY (workflow_id, function_id)
);

CREATE TABLE keel.notifications (
  message_id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  destination_id  TEXT NOT NULL REFERENCES keel.workflow_status (workflow_id) ON DELETE CASCADE,
  topic           TEXT NOT NULL,
  message         TEXT NOT NULL,
  serialization   TEXT NOT NULL DEFAULT 'json',
  idempotency_key TEXT UNIQUE,
  sender_id       TEXT,
  consumed        INTEGER NOT NULL DEFAULT 0,
  created_at      BIGINT NOT NULL
);
CREATE INDEX notifications_waiting ON keel.notifications (destination_id, topic, consumed, message_id);

CREATE TABLE keel.workflow_events (
  workflow_id   TEXT NOT NULL REFERENCES keel.workflow_status (workflow_id) ON DELETE CASCADE,
  key           TEXT NOT NULL,
  value         TEXT NOT NULL,
  serialization TEXT NOT NULL DEFAULT 'json',
  updated_at    BIGINT NOT NULL,
  PRIMARY KEY (workflow_id, key)
);
)sql";

// Queues (docs/queues.md): started_at is when a dequeuer moved the workflow
// from ENQUEUED to PENDING (the rate limit counts these); timeout_ms is an
// enqueued workflow's timeout, turned into deadline_epoch_ms at dequeue. The
// partial unique index makes a deduplication ID exclusive among a queue's
// ENQUEUED and PENDING workflows.
constexpr std::string_view kV2Queues = R"sql(
ALTER TABLE keel.workflow_status ADD COLUMN started_at BIGINT;
ALTER TABLE keel.workflow_status ADD COLUMN timeout_ms BIGINT;
CREATE INDEX workflow_status_queued ON keel.workflow_status (queue_name, status, priority, created_at)
  WHERE queue_name IS NOT NULL;
CREATE INDEX workflow_status_queue_starts ON keel.workflow_status (queue_name, started_at)
  WHERE started_at IS NOT NULL;
CREATE UNIQUE INDEX workflow_status_dedup ON keel.workflow_status (queue_name, deduplication_id)
  WHERE deduplication_id IS NOT NULL AND status IN ('ENQUEUED', 'PENDING');
)sql";

// Wake-ups (docs/postgres.md, "Wake-ups"): NOTIFY on channel keel_wake in
// the transaction of every write that can make a waiter runnable, so it is
// delivered on COMMIT and never for a rolled-back write. The payload is the
// runtime's wake-up key, exactly as WakeKey::encode builds it
// (src/common/wake_key.hpp; the test Wakeups.TriggersProduceExactlyWhatWakeKeyEncodes
// holds them together). A payload must be shorter than
// 8000 bytes: a longer key sends '*' (wake every waiter) instead. Triggers keep
// the write path's SQL unchanged; ON CONFLICT DO NOTHING inserts fire nothing.
constexpr std::string_view kV3Wake = R"sql(
CREATE FUNCTION keel.wake(key TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF pg_catalog.octet_length(key) < 8000 THEN
    PERFORM pg_catalog.pg_notify('keel_wake', key);
  ELSE
    PERFORM pg_catalog.pg_notify('keel_wake', '*');
  END IF;
END $$;

CREATE FUNCTION keel.wake_on_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM keel.wake('msg:' || NEW.destination_id || pg_catalog.chr(31) || NEW.topic);
  RETURN NULL;
END $$;
CREATE TRIGGER wake_on_message AFTER INSERT ON keel.notifications
  FOR EACH ROW EXECUTE FUNCTION keel.wake_on_message();

CREATE FUNCTION keel.wake_on_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM keel.wake('evt:' || NEW.workflow_id || pg_catalog.chr(31) || NEW.key);
  RETURN NULL;
END $$;
CREATE TRIGGER wake_on_event AFTER INSERT OR UPDATE ON keel.workflow_events
  FOR EACH ROW EXECUTE FUNCTION keel.wake_on_event();

CREATE FUNCTION keel.wake_on_finish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM keel.wake('done:' || NEW.workflow_id);
  RETURN NULL;
END $$;
CREATE TRIGGER wake_on_finish AFTER UPDATE OF status ON keel.workflow_status
  FOR EACH ROW
  WHEN (NEW.status IS DISTINCT FROM OLD.status
        AND NEW.status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'))
  EXECUTE FUNCTION keel.wake_on_finish();
)sql";

// V4: executor leases (scale-out). One row per live (or not yet taken over)
// executor; holder names the process ("host:pid"); heartbeat_at is renewed
// every heartbeat_interval, in epoch ms of the backend's clock.
constexpr std::string_view kV4Executors = R"sql(
CREATE TABLE keel.executors (
  executor_id         TEXT PRIMARY KEY,
  application_version TEXT NOT NULL,
  holder              TEXT NOT NULL,
  heartbeat_at        BIGINT NOT NULL,
  started_at          BIGINT NOT NULL
);
)sql";

// A checkpoint's claim sent without waiting for its answer (a user
// transaction's, in the pipeline of what follows it) calls this when it
// inserted nothing: the position is taken, or the workflow is not PENDING
// here. The SQLSTATE is Keel's own (kRefusedState), so the writer tells it
// from any other failure and runs the batch's units again one by one.
constexpr std::string_view kV5RefuseClaim = R"sql(
CREATE FUNCTION keel.refuse_claim(workflow_id TEXT, function_id INTEGER) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'keel: checkpoint % of workflow % refused (position taken, or the workflow is not running here)',
    function_id, workflow_id USING ERRCODE = 'KL001';
END $$;
)sql";

// A step's checkpoint no longer locks its workflow's row (docs/postgres.md,
// "The step's claim"), so the foreign key of operation_outputs, whose check
// locks that row (FOR KEY SHARE, a WAL record) on every insert, goes: every
// insert of Keel's reads or locks the workflow's row in the same statement or
// transaction, and finds it there. A trigger keeps ON DELETE CASCADE's effect
// for an operator who deletes workflows (Keel itself deletes none).
constexpr std::string_view kV6StepsWithoutForeignKey = R"sql(
ALTER TABLE keel.operation_outputs DROP CONSTRAINT operation_outputs_workflow_id_fkey;
CREATE FUNCTION keel.delete_operations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM keel.operation_outputs WHERE workflow_id = OLD.workflow_id;
  RETURN NULL;
END $$;
CREATE TRIGGER delete_operations AFTER DELETE ON keel.workflow_status
  FOR EACH ROW EXECUTE FUNCTION keel.delete_operations();
)sql";

// Each operation's kind (step, transaction, keel), so that a replay tells a
// step from a transaction of the same name. NULL on older rows.
constexpr std::string_view kV7OperationKinds = R"sql(
ALTER TABLE keel.operation_outputs ADD COLUMN kind TEXT;
)sql";

// Finding workflows (list_workflows, docs/operations.md): an index per
// filter that must answer a page from millions of rows, each ending in the
// list's order (created_at, then workflow_id in byte order) so that a page
// is read in order and stops after its rows. The prefix filter ranges over
// workflow_id in byte order: the primary key's collation may be another.
// Partial where most rows have no value (queue, parent).
constexpr std::string_view kV8ListIndexes = R"sql(
DROP INDEX keel.workflow_status_by_created;
CREATE INDEX workflow_status_by_created ON keel.workflow_status (created_at, workflow_id COLLATE "C");
CREATE INDEX workflow_status_by_status_created ON keel.workflow_status (status, created_at, workflow_id COLLATE "C");
CREATE INDEX workflow_status_by_name ON keel.workflow_status (name, created_at, workflow_id COLLATE "C");
CREATE INDEX workflow_status_by_id ON keel.workflow_status (workflow_id COLLATE "C");
CREATE INDEX workflow_status_by_queue ON keel.workflow_status (queue_name, created_at, workflow_id COLLATE "C")
  WHERE queue_name IS NOT NULL;
CREATE INDEX workflow_status_by_parent ON keel.workflow_status (parent_id, created_at, workflow_id COLLATE "C")
  WHERE parent_id IS NOT NULL;
)sql";

// How many times each operation's body ran (a step's retries; StepInfo::
// attempts). NULL on older rows: not counted. No default, so the ALTER only
// changes the catalog (no table rewrite on a large table).
constexpr std::string_view kV9OperationAttempts = R"sql(
ALTER TABLE keel.operation_outputs ADD COLUMN attempts INTEGER;
)sql";

// Schedules (docs/schedules.md). last_tick_ms: the last tick the schedule
// moved past; its workflows' IDs say which ticks started.
constexpr std::string_view kV10Schedules = R"sql(
CREATE TABLE keel.schedules (
  name          TEXT PRIMARY KEY,
  workflow_name TEXT NOT NULL,
  cron          TEXT NOT NULL,
  time_zone     TEXT NOT NULL,
  policy        TEXT NOT NULL,
  paused        BOOLEAN NOT NULL DEFAULT false,
  last_tick_ms  BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);
)sql";

// Durable streams (docs/streams.md). One row per value, at dense offsets 0,
// 1, 2, ... per (workflow, key); a NULL value is the close, the stream's
// last row. Deleted with the workflow (the foreign key). Each insert wakes
// the stream's readers (stm:<workflow id>\x1f<key>, WakeKey::stream).
constexpr std::string_view kV11Streams = R"sql(
CREATE TABLE keel.streams (
  workflow_id   TEXT NOT NULL REFERENCES keel.workflow_status (workflow_id) ON DELETE CASCADE,
  key           TEXT NOT NULL,
  stream_offset BIGINT NOT NULL,
  value         TEXT,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (workflow_id, key, stream_offset)
);
CREATE FUNCTION keel.wake_on_stream() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM keel.wake('stm:' || NEW.workflow_id || pg_catalog.chr(31) || NEW.key);
  RETURN NULL;
END $$;
CREATE TRIGGER wake_on_stream AFTER INSERT ON keel.streams
  FOR EACH ROW EXECUTE FUNCTION keel.wake_on_stream();
)sql";

// Queue declarations (docs/queues.md, "Stored declarations"): one row per
// queue, written by the first launch that declares it, compared by every
// later one, rewritten only on request (QueueOptions::update_stored). The
// dequeuer enforces these limits, whatever its own process declared. A NULL
// limit does not limit; rate_period_ms is 0 without a rate limit.
constexpr std::string_view kV12QueueDeclarations = R"sql(
CREATE TABLE keel.queues (
  name               TEXT PRIMARY KEY,
  concurrency        INTEGER,
  worker_concurrency INTEGER,
  rate_limit         INTEGER,
  rate_period_ms     BIGINT NOT NULL DEFAULT 0,
  priority_enabled   BOOLEAN NOT NULL DEFAULT false,
  partitioned        BOOLEAN NOT NULL DEFAULT false,
  updated_at         BIGINT NOT NULL
);
)sql";

// Partitioned queues (docs/queues.md, "Partitioned queues"): each queued
// workflow's partition key (NULL outside partitioned queues), and an index
// for the dequeue's per-partition counts.
constexpr std::string_view kV13PartitionKeys = R"sql(
ALTER TABLE keel.workflow_status ADD COLUMN partition_key TEXT;
CREATE INDEX workflow_status_partitions ON keel.workflow_status (queue_name, status, partition_key)
  WHERE partition_key IS NOT NULL;
)sql";

// Debouncing (docs/debounce.md): one row per open burst, by key, until a
// firer deletes it and inserts its target workflow in the same commit.
// deadline_ms: first_call_ms + max_wait (NULL: no cap).
constexpr std::string_view kV14Debounces = R"sql(
CREATE TABLE keel.debounces (
  debounce_key  TEXT PRIMARY KEY,
  workflow_name TEXT NOT NULL,
  workflow_id   TEXT NOT NULL,
  inputs        TEXT NOT NULL,
  queue_name    TEXT,
  first_call_ms BIGINT NOT NULL,
  fire_at_ms    BIGINT NOT NULL,
  deadline_ms   BIGINT,
  calls         BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);
CREATE INDEX debounces_fire_at ON keel.debounces (fire_at_ms);
CREATE INDEX debounces_workflow_id ON keel.debounces (workflow_id);
)sql";

// Wake-ups only when heard (docs/postgres.md, "Wake-ups"): a session that
// set keel.wake to 'off' fires no wake trigger. A runtime's writers do so
// while no other process LISTENs (its own waiters are woken in-process), and
// a NOTIFY nobody else hears is pure cost: a trigger, the server's global
// notify lock and queue at COMMIT, and a LISTEN backend woken for nothing.
// Any other session (unset: NULL) wakes as before. The condition is in the
// triggers' WHEN, so a silenced write does not even call PL/pgSQL.
constexpr std::string_view kV15WakeWhenHeard = R"sql(
DROP TRIGGER wake_on_message ON keel.notifications;
CREATE TRIGGER wake_on_message AFTER INSERT ON keel.notifications
  FOR EACH ROW WHEN (pg_catalog.current_setting('keel.wake', true) IS DISTINCT FROM 'off')
  EXECUTE FUNCTION keel.wake_on_message();
DROP TRIGGER wake_on_event ON keel.workflow_events;
CREATE TRIGGER wake_on_event AFTER INSERT OR UPDATE ON keel.workflow_events
  FOR EACH ROW WHEN (pg_catalog.current_setting('keel.wake', true) IS DISTINCT FROM 'off')
  EXECUTE FUNCTION keel.wake_on_event();
DROP TRIGGER wake_on_finish ON keel.workflow_status;
CREATE TRIGGER wake_on_finish AFTER UPDATE OF status ON keel.workflow_status
  FOR EACH ROW
  WHEN (NEW.status IS DISTINCT FROM OLD.status
        AND NEW.status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')
        AND pg_catalog.current_setting('keel.wake', true) IS DISTINCT FROM 'off')
  EXECUTE FUNCTION keel.wake_on_finish();
DROP TRIGGER wake_on_stream ON keel.streams;
CREATE TRIGGER wake_on_stream AFTER INSERT ON keel.streams
  FOR EACH ROW WHEN (pg_catalog.current_setting('keel.wake', true) IS DISTINCT FROM 'off')
  EXECUTE FUNCTION keel.wake_on_stream();
)sql";

}  // namespace

const std::vector<std::string_view>& migrations() {
  static const std::vector<std::string_view> all{kV1, kV2Queues, kV3Wake, kV4Executors, kV5RefuseClaim,
                                                 kV6StepsWithoutForeignKey, kV7OperationKinds, kV8ListIndexes,
                                                 kV9OperationAttempts, kV10Schedules, kV11Streams, kV12QueueDeclarations,
                                                 kV13PartitionKeys, kV14Debounces, kV15WakeWhenHeard};
  return all;
}

}  // namespace keel::sysdb::postgres
