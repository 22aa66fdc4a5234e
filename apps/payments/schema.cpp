#include "payments/schema.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include "common/app_locks.hpp"

namespace keel::payments {

namespace {

// Tables (all pay_*):
//  pay_sessions           one row per payment session; idempotency_key UNIQUE
//                         (one session per create key)
//  pay_charges            the ledger; session_id UNIQUE: at most one charge per
//                         session whatever happens; seq orders the ledger
//  pay_events             one row per status change (session_id UNIQUE: a
//                         session changes status once), with the delivery job
//  pay_webhook_deliveries one row per recorded delivery attempt
//  pay_request_keys       idempotency keys seen on submit/cancel/expire, with
//                         the fingerprint of their body
std::string v1(std::string_view dialect) {
  std::string seq = dialect == "postgresql" ? "seq BIGSERIAL PRIMARY KEY" : "seq INTEGER PRIMARY KEY AUTOINCREMENT";
  return R"sql(
CREATE TABLE pay_sessions (
  session_id          TEXT PRIMARY KEY,
  idempotency_key     TEXT NOT NULL UNIQUE,
  request_fingerprint TEXT NOT NULL,
  client_reference_id TEXT NOT NULL,
  webhook_url         TEXT NOT NULL,
  success_url         TEXT,
  cancel_url          TEXT,
  items               TEXT NOT NULL,
  amount_cents        BIGINT NOT NULL CHECK (amount_cents >= 0),
  url                 TEXT NOT NULL,
  status              TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'cancelled', 'expired')),
  created_at_ms       BIGINT NOT NULL,
  updated_at_ms       BIGINT NOT NULL
);
CREATE TABLE pay_charges (
  )sql" + seq + R"sql(,
  charge_id           TEXT NOT NULL UNIQUE,
  session_id          TEXT NOT NULL UNIQUE REFERENCES pay_sessions (session_id),
  client_reference_id TEXT NOT NULL,
  amount_cents        BIGINT NOT NULL,
  created_at_ms       BIGINT NOT NULL
);
CREATE TABLE pay_events (
  event_id        TEXT PRIMARY KEY,
  session_id      TEXT NOT NULL UNIQUE REFERENCES pay_sessions (session_id),
  type            TEXT NOT NULL,
  payload         TEXT NOT NULL,
  job             TEXT NOT NULL,
  delivery_status TEXT NOT NULL DEFAULT 'pending' CHECK (delivery_status IN ('pending', 'delivered', 'failed')),
  created_at_ms   BIGINT NOT NULL,
  delivered_at_ms BIGINT
);
CREATE INDEX pay_events_by_delivery ON pay_events (delivery_status);
CREATE TABLE pay_webhook_deliveries (
  event_id        TEXT NOT NULL REFERENCES pay_events (event_id),
  attempt         INTEGER NOT NULL,
  ok              INTEGER NOT NULL,
  status_code     INTEGER,
  error           TEXT,
  attempted_at_ms BIGINT NOT NULL,
  duration_ms     BIGINT NOT NULL,
  PRIMARY KEY (event_id, attempt)
);
CREATE TABLE pay_request_keys (
  endpoint        TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  fingerprint     TEXT NOT NULL,
  created_at_ms   BIGINT NOT NULL,
  PRIMARY KEY (endpoint, idempotency_key)
);
)sql";
}

using Migration = std::string (*)(std::string_view dialect);
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all{&v1};
  return all;
}

}  // namespace

int schema_version_count() { return static_cast<int>(migrations().size()); }

int migrate_schema(Sql& sql) {
  keel::apps::lock_app_migrations(sql, "payments");
  sql.execute("CREATE TABLE IF NOT EXISTS pay_schema_version (version INTEGER NOT NULL)");
  auto row = sql.query_one("SELECT version FROM pay_schema_version");
  int version = row ? static_cast<int>(row->get_int(0)) : 0;
  int known = schema_version_count();
  if (version > known)
    throw std::runtime_error("the database holds payments schema version " + std::to_string(version) +
                             ", newer than this build understands (" + std::to_string(known) + ")");
  for (int i = version; i < known; ++i) sql.execute_script(migrations()[static_cast<size_t>(i)](sql.dialect()));
  if (!row) {
    sql.execute("INSERT INTO pay_schema_version (version) VALUES ($1)", {int64_t{known}});
  } else if (version < known) {
    sql.execute("UPDATE pay_schema_version SET version = $1", {int64_t{known}});
  }
  return version;
}

}  // namespace keel::payments
