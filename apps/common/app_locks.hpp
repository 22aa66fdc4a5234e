// What the apps do on PostgreSQL to stay correct with several processes on one
// database; on SQLite (one writer at a time) it costs nothing. The locks are
// transaction-scoped: call them inside the transaction they protect.
#pragma once

#include <string>
#include <string_view>

#include "keel/runtime.hpp"
#include "keel/sql.hpp"

namespace keel::apps {

// A transaction-scoped advisory lock named `name` (PostgreSQL only).
inline void advisory_xact_lock(Sql& sql, std::string_view name) {
  if (sql.dialect() != "postgresql") return;
  sql.query("SELECT pg_advisory_xact_lock(hashtext($1))", {std::string(name)});
}

// Ordered ledgers: tables paged with `WHERE seq > cursor ORDER BY seq` (the
// shop's orders, the payment service's charges). A cursor over a sequence is
// only safe when rows become visible in sequence order. SQLite has one writer
// at a time, so they do. PostgreSQL hands out sequence values at INSERT time
// and transactions commit in any order: a reader could see seq 8 before seq 7
// commits, move its cursor past 7 and never see it. Locking the ledger right
// before the INSERT makes its inserts commit one after another, in the order
// of their sequence values (it serialises the ledger's writers until commit).
inline void lock_ledger_for_insert(Sql& sql, std::string_view ledger) {
  advisory_xact_lock(sql, std::string("keel.apps.ledger:") + std::string(ledger));
}

// Schema migrations of an app's own tables: two processes starting at once
// would race on CREATE TABLE IF NOT EXISTS (PostgreSQL raises a unique
// violation on its catalog). Call first in the migration's transaction.
inline void lock_app_migrations(Sql& sql, std::string_view app) {
  advisory_xact_lock(sql, std::string("keel.apps.migrate:") + std::string(app));
}

// Runs an app's migration transaction (which starts with lock_app_migrations).
// The process that waited on the lock may still fail a CREATE ... IF NOT
// EXISTS with a unique violation (its catalog cache missed the other's
// commit); a new transaction sees it, so that failure is retried.
template <class Fn>
void run_app_migration(Runtime& rt, Fn&& migrate) {
  for (int attempt = 1;; ++attempt) {
    try {
      rt.run_sql_write(migrate);
      return;
    } catch (const ConstraintError&) {
      if (attempt == 3) throw;
    }
  }
}

}  // namespace keel::apps
