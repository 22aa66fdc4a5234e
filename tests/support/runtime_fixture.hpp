// Test support: a Runtime on a fresh SQLite file, and a counter of side
// effects that survives replays (steps increment it; tests assert counts).
//
// Backend selection: when the environment variable KEEL_TEST_DATABASE_URL
// holds a postgresql:// URL (an administrative database on a test cluster,
// see scripts/pg-test-cluster.sh), each TempDir stands for a fresh PostgreSQL
// database instead of a file: test_config(dir) creates it on first use
// (keel_t_<pid>_<dir suffix>) and it is dropped when the RuntimeTest ends (or
// at process exit). Unset, tests run on SQLite files as before.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#if defined(KEEL_TESTS_HAVE_LIBPQ)
#include <libpq-fe.h>
#endif

#include "keel/keel.hpp"
#include "support/temp_dir.hpp"

namespace keel::testing {

class EffectCounter {
 public:
  void hit(const std::string& what) {
    std::lock_guard lock(mu_);
    ++counts_[what];
  }
  int count(const std::string& what) {
    std::lock_guard lock(mu_);
    return counts_[what];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> counts_;
};

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

inline std::string database_for(const TempDir& dir) {
  std::string name = "keel_t_" + std::to_string(getpid()) + "_";
  for (char ch : dir.path().filename().string())
    name += std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(ch)) : '_';
  return name;
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

inline RuntimeConfig test_config(const TempDir& dir, const std::string& executor = "test") {
  RuntimeConfig c;
  c.database_url = test_db_url(dir);
  c.executor_id = executor;
  c.poll_interval = std::chrono::milliseconds(50);
  c.sqlite_synchronous = SqliteSync::Normal;
  return c;
}

class RuntimeTest : public ::testing::Test {
 protected:
  ~RuntimeTest() override {
    rt.reset();
    if (testing_on_postgres()) detail::PgTestDatabases::instance().drop(detail::database_for(dir));
  }
  void SetUp() override { rt = std::make_unique<Runtime>(test_config(dir)); }
  // Simulates a clean restart: shut down, open a new Runtime on the same file.
  // The caller registers workflows on the new runtime, then launches it.
  void restart(const std::string& executor = "test") {
    rt.reset();
    rt = std::make_unique<Runtime>(test_config(dir, executor));
  }
  TempDir dir;
  EffectCounter effects;
  std::unique_ptr<Runtime> rt;
};

}  // namespace keel::testing
