// Test databases on either backend: a SQLite file in the test's TempDir, or,
// when KEEL_TEST_DATABASE_URL holds a postgresql:// URL (an administrative
// database on a throwaway cluster, scripts/pg-test-cluster.sh), a PostgreSQL
// database of its own, created on first use and dropped when the test is done
// (or at process exit). Header-only; needs libpq (KEEL_TESTS_HAVE_LIBPQ) for
// the PostgreSQL side.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#if defined(KEEL_TESTS_HAVE_LIBPQ)
#include <libpq-fe.h>
#endif

#include "support/temp_dir.hpp"

namespace keel::testing {

// The PostgreSQL URL the tests run against, or "" for SQLite.
inline std::string test_database_url() {
  const char* v = std::getenv("KEEL_TEST_DATABASE_URL");
  std::string url = v ? v : "";
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return url;
  return "";
}

inline bool testing_on_postgres() { return !test_database_url().empty(); }

namespace detail {

// The URL with its database name replaced.
inline std::string with_database(const std::string& url, const std::string& db) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme + 3);
  auto query = url.find('?', scheme + 3);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  std::string head = url.substr(0, std::min(slash, query));
  return head + "/" + db + tail;
}

// keel_t_<pid>_<dir suffix>[_<name>]: unique per process and TempDir.
inline std::string database_for(const TempDir& dir, const std::string& name = "") {
  std::string db = "keel_t_" + std::to_string(getpid()) + "_";
  for (char ch : dir.path().filename().string() + (name.empty() ? "" : "_" + name))
    db += std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(ch)) : '_';
  return db;
}

// Databases created by this process; the rest are dropped at exit.
class PgTestDatabases {
 public:
  static PgTestDatabases& instance() {
    static PgTestDatabases registry;
    return registry;
  }
  ~PgTestDatabases() {
    std::lock_guard lock(mu_);
    for (const auto& db : created_) admin("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)", false);
  }
  void ensure(const std::string& db) {
    std::lock_guard lock(mu_);
    if (created_.count(db)) return;
    admin("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)", true);
    admin("CREATE DATABASE " + db, true);
    created_.insert(db);
  }
  void drop(const std::string& db) {
    std::lock_guard lock(mu_);
    if (!created_.erase(db)) return;
    admin("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)", false);
  }

 private:
  static void admin(const std::string& statement, bool must_succeed) {
#if defined(KEEL_TESTS_HAVE_LIBPQ)
    std::string url = test_database_url();
    PGconn* conn = PQconnectdb(url.c_str());
    std::string error;
    if (PQstatus(conn) != CONNECTION_OK) {
      error = PQerrorMessage(conn);
    } else {
      PGresult* r = PQexec(conn, statement.c_str());
      if (PQresultStatus(r) != PGRES_COMMAND_OK) error = PQresultErrorMessage(r);
      PQclear(r);
    }
    PQfinish(conn);
    if (!error.empty() && must_succeed) throw std::runtime_error(statement + ": " + error);
#else
    (void)statement;
    if (must_succeed) throw std::runtime_error("KEEL_TEST_DATABASE_URL is set but this test binary has no libpq");
#endif
  }
  std::mutex mu_;
  std::set<std::string> created_;
};

}  // namespace detail

// The database URL of the test's TempDir: a SQLite file in it, or on
// PostgreSQL a database of its own (created on first use).
inline std::string test_db_url(const TempDir& dir) {
  std::string pg = test_database_url();
  if (pg.empty()) return dir.db_url();
  std::string db = detail::database_for(dir);
  detail::PgTestDatabases::instance().ensure(db);
  return detail::with_database(pg, db);
}

// A second (third, ...) database for the same test, e.g. one per service in
// the end-to-end tests: sqlite:<dir>/<name>.db, or a PostgreSQL database of
// its own.
inline std::string named_test_db_url(const TempDir& dir, const std::string& name) {
  std::string pg = test_database_url();
  if (pg.empty()) return dir.db_url(name + ".db");
  std::string db = detail::database_for(dir, name);
  detail::PgTestDatabases::instance().ensure(db);
  return detail::with_database(pg, db);
}

}  // namespace keel::testing
