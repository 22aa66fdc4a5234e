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

// V2: executor leases (scale-out). One row per live (or not yet taken over)
// executor; holder names the process ("host:pid"); heartbeat_at is renewed
// every heartbeat_interval, in epoch ms of the backend's clock.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE keel_executors (
  executor_id         TEXT PRIMARY KEY,
  application_version TEXT NOT NULL,
  holder              TEXT NOT NULL,
  heartbeat_at        INTEGER NOT NULL,
  started_at          INTEGER NOT NULL
);
)sql";

}  // namespace

const std::vector<std::string_view>& migrations() {
  static const std::vector<std::string_view> all{kV1, kV2};
  return all;
}

}  // namespace keel::sysdb::sqlite
