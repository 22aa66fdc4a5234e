// Test helpers for the PostgreSQL-only tests: statements through a libpq
// connection of the test's own (never the runtime's), and waiting for a
// condition instead of sleeping.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <string>
#include <thread>

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
// "keel_listen <executor>") once its LISTEN has completed, or "".
inline std::string listener_pid(const std::string& url, const std::string& executor) {
  return pg_query(url,
                  "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = "
                  "'keel_listen " +
                      executor + "' AND query LIKE 'LISTEN %' AND state = 'idle'",
                  /*may_fail=*/true);
}

}  // namespace keel::testing
