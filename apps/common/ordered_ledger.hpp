// Ordered ledgers: tables paged with `WHERE seq > cursor ORDER BY seq`
// (the shop's orders, the payment service's charges).
//
// Why: a cursor over a sequence is only safe when rows become visible in
// sequence order. SQLite has one writer at a time, so they do. PostgreSQL
// hands out sequence values at INSERT time and transactions commit in any
// order: a reader could see seq 8 before seq 7 commits, move its cursor past
// 7 and never see it. Taking a transaction-scoped advisory lock (one per
// ledger) before the INSERT makes inserts into that ledger commit one after
// another, in the order of their sequence values.
//
// Call inside the transaction that inserts the row, right before the INSERT.
// Costs nothing on SQLite; on PostgreSQL it serialises the ledger's writers
// (across processes) until their commit.
#pragma once

#include <string>
#include <string_view>

#include "keel/sql.hpp"

namespace keel::apps {

inline void lock_ledger_for_insert(Sql& sql, std::string_view ledger) {
  if (sql.dialect() != "postgresql") return;
  sql.query("SELECT pg_advisory_xact_lock(hashtext($1))", {std::string("keel.apps.ledger:") + std::string(ledger)});
}

}  // namespace keel::apps
