// Test helpers for the PostgreSQL-only tests: statements through a libpq
// connection of the test's own (never the runtime's), and waiting for a
// condition instead of sleeping.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <initializer_list>
#include <utility>
#include <string>
#include <thread>

#include "keel/runtime.hpp"
#include "runtime/runtime_access.hpp"
#include "sysdb/postgres/listener.hpp"
#include "support/eventually.hpp"

namespace keel::testing {

// Runs sql on the database at url; returns the first value of the first row
// ("" when none). A failure is a test failure unless allowed, then "".
inline std::string pg_query(const std::string& url, const std::string& sql, bool may_fail = false) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(c) != CONNECTION_OK) {
    if (!may_fail) ADD_FAILURE() << "connect: " << PQerrorMessage(c);
    PQfinish(c);
    return out;
  }
  PGresult* r = PQexec(c, sql.c_str());
  auto st = PQresultStatus(r);
  if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && !may_fail)
    ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  return out;
}

// The backend pid of the runtime's LISTEN connection (application_name
// "keel_listen <executor>") once its LISTEN has completed, or "": it is idle
// after its LISTEN, or after a question whether others listen.
inline std::string listener_pid(const std::string& url, const std::string& executor) {
  return pg_query(url,
                  "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = "
                  "'keel_listen " +
                      executor +
                      "' AND (query LIKE 'LISTEN %' OR query = $q$" + keel::sysdb::postgres::peer_check_sql() +
                      "$q$) AND state = 'idle'",
                  /*may_fail=*/true);
}

// keel_database_wake_notify of rt: 1 while its writes NOTIFY, 0 while it
// knows that no other process listens (-1: not found).
inline int wake_notify(keel::Runtime& rt) {
  const std::string t = keel::detail::RuntimeAccess::metrics_text(rt);
  const std::string name = "\nkeel_database_wake_notify ";
  const auto at = t.find(name);
  return at == std::string::npos ? -1 : std::stoi(t.substr(at + name.size()));
}

// Waits until each runtime (with its executor id) listens and has heard of
// the others' listeners: a write of one then wakes the waits of another at
// once. (A listener turns its process's NOTIFYs off only after two answers
// in a row found no other listener, and on again at another's hello.)
inline void await_heard(const std::string& url,
                        std::initializer_list<std::pair<keel::Runtime*, std::string>> runtimes) {
  for (const auto& [rt, executor] : runtimes)
    ASSERT_TRUE(eventually([&] { return !listener_pid(url, executor).empty(); })) << executor << " never listened";
  for (const auto& [rt, executor] : runtimes)
    ASSERT_TRUE(eventually([&] { return wake_notify(*rt) == 1; })) << executor << " never heard of the others";
}

}  // namespace keel::testing
