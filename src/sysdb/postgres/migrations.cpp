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

// V2: executor leases (scale-out). One row per live (or not yet taken over)
// executor; holder names the process ("host:pid"); heartbeat_at is renewed
// every heartbeat_interval, in epoch ms of the backend's clock.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE keel.executors (
  executor_id         TEXT PRIMARY KEY,
  application_version TEXT NOT NULL,
  holder              TEXT NOT NULL,
  heartbeat_at        BIGINT NOT NULL,
  started_at          BIGINT NOT NULL
);
)sql";

}  // namespace

const std::vector<std::string_view>& migrations() {
  static const std::vector<std::string_view> all{kV1, kV2};
  return all;
}

}  // namespace keel::sysdb::postgres
