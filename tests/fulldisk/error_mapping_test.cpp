// Which errors are keel::StorageFullError (both backends' classification,
// sysdb/storage_full.hpp and the connections that use it), and what the apps'
// HTTP layer answers for one. No disk is filled here: SQLite's own page limit
// (PRAGMA max_page_count) gives a real SQLITE_FULL, and a served route that
// throws gives the real HTTP answer.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "common/http_service.hpp"
#include "keel/errors.hpp"
#include "support/temp_dir.hpp"
#include "sysdb/sqlite/connection.hpp"
#include "sysdb/storage_full.hpp"

namespace {

using keel::StorageFullError;
using keel::sysdb::postgres_storage_full;
using keel::sysdb::sqlite_storage_full;
using namespace std::chrono_literals;

TEST(FullDiskErrorMapping, SqliteFullAndIoErrorsCausedByEnospcAreStorageFull) {
  EXPECT_TRUE(sqlite_storage_full(SQLITE_FULL, 0));
  EXPECT_TRUE(sqlite_storage_full(SQLITE_IOERR_WRITE, ENOSPC));
  EXPECT_TRUE(sqlite_storage_full(SQLITE_IOERR_SHMSIZE, ENOSPC));  // the WAL index cannot grow
  EXPECT_TRUE(sqlite_storage_full(SQLITE_IOERR_FSYNC, EDQUOT));     // a quota: the same remedy
  // An I/O error for another cause is not a full disk: freeing space would not help.
  EXPECT_FALSE(sqlite_storage_full(SQLITE_IOERR_WRITE, EIO));
  EXPECT_FALSE(sqlite_storage_full(SQLITE_IOERR, 0));
  EXPECT_FALSE(sqlite_storage_full(SQLITE_BUSY, ENOSPC));  // errno is stale unless the code is an I/O error
  EXPECT_FALSE(sqlite_storage_full(SQLITE_CONSTRAINT_UNIQUE, 0));
  EXPECT_FALSE(sqlite_storage_full(SQLITE_CORRUPT, 0));
}

TEST(FullDiskErrorMapping, OnlyPostgresDiskFullOfClass53IsStorageFull) {
  EXPECT_TRUE(postgres_storage_full("53100"));    // disk_full
  EXPECT_FALSE(postgres_storage_full("53000"));   // insufficient_resources
  EXPECT_FALSE(postgres_storage_full("53200"));   // out_of_memory
  EXPECT_FALSE(postgres_storage_full("53300"));   // too_many_connections
  EXPECT_FALSE(postgres_storage_full("53400"));   // configuration_limit_exceeded
  EXPECT_FALSE(postgres_storage_full("23505"));
  EXPECT_FALSE(postgres_storage_full(""));
}

TEST(FullDiskErrorMapping, ThrowSqliteErrorThrowsStorageFullForSqliteFull) {
  try {
    keel::sysdb::sqlite::throw_sqlite_error(nullptr, SQLITE_FULL, "COMMIT");
  } catch (const StorageFullError& e) {
    EXPECT_NE(std::string(e.what()).find("storage full"), std::string::npos) << e.what();
    return;
  } catch (const std::exception& e) {
    FAIL() << "not a StorageFullError: " << e.what();
  }
}

TEST(FullDiskErrorMapping, ARealSqliteFullFromThePageLimitIsStorageFullAndRollsBack) {
  keel::testing::TempDir dir;
  keel::sysdb::sqlite::Connection c{dir.file("db.sqlite"), true, keel::SqliteSync::Full};
  c.exec("CREATE TABLE t (v BLOB NOT NULL)");
  c.exec("INSERT INTO t (v) VALUES (zeroblob(1000))");
  // The file may not grow past its current pages (+ a few): a real SQLITE_FULL.
  int64_t limit = 0;
  {
    auto pages = c.prepare("PRAGMA page_count");
    ASSERT_TRUE(pages.step());
    limit = pages.column_int(0) + 2;
  }
  c.exec("PRAGMA max_page_count=" + std::to_string(limit));
  keel::sysdb::sqlite::SqliteSql sql(c);
  bool full = false;
  try {
    c.exec("BEGIN IMMEDIATE");
    for (int i = 0; i < 100; ++i) sql.execute("INSERT INTO t (v) VALUES (zeroblob(4000))", {});
  } catch (const StorageFullError& e) {
    full = true;
    EXPECT_NE(std::string(e.what()).find("(sqlite code 13)"), std::string::npos) << e.what();
  }
  ASSERT_TRUE(full) << "the page limit did not fill the database";
  // SQLite rolls the whole transaction back itself on SQLITE_FULL (seen here:
  // no transaction is left to roll back); Keel's write path rolls back
  // either way and ignores "no transaction is active".
  if (!sqlite3_get_autocommit(c.handle())) c.exec("ROLLBACK");
  {
    auto n = c.prepare("SELECT count(*) FROM t");
    ASSERT_TRUE(n.step());
    EXPECT_EQ(n.column_int(0), 1) << "the failed transaction left rows behind";
  }
  // Room again: the same connection writes (no reopen needed).
  c.exec("PRAGMA max_page_count=1000000");
  EXPECT_EQ(sql.execute("INSERT INTO t (v) VALUES (zeroblob(4000))", {}), 1);
}

TEST(FullDiskErrorMapping, StorageFullErrorIsADatabaseErrorAndRethrowsAsItselfWhenRecorded) {
  StorageFullError e("x");
  EXPECT_NE(dynamic_cast<const keel::DatabaseError*>(&e), nullptr);
  EXPECT_THROW(keel::throw_recorded_error(keel::detail::demangle(typeid(StorageFullError).name()), "m"),
               StorageFullError);
}

TEST(FullDiskErrorMapping, DatabaseUnavailableErrorIsADatabaseErrorAndRethrowsAsItselfWhenRecorded) {
  keel::DatabaseUnavailableError e("x");
  EXPECT_NE(dynamic_cast<keel::DatabaseError*>(&e), nullptr);
  EXPECT_THROW(keel::throw_recorded_error(keel::detail::demangle(typeid(keel::DatabaseUnavailableError).name()), "m"),
               keel::DatabaseUnavailableError);
}

// --- the HTTP answer of the apps (apps/common/http_service) ------------------

class FullDiskHttpMapping : public ::testing::Test {
 protected:
  void SetUp() override {
    svc.route("POST", "/full", [](const keel::apps::HttpRequest&) -> keel::apps::HttpResponse {
      throw StorageFullError("storage full (no space left for the database): COMMIT: database or disk is full");
    });
    svc.route("POST", "/broken", [](const keel::apps::HttpRequest&) -> keel::apps::HttpResponse {
      throw keel::DatabaseError("disk I/O error");
    });
    svc.route("POST", "/away", [](const keel::apps::HttpRequest&) -> keel::apps::HttpResponse {
      throw keel::DatabaseUnavailableError("cannot connect to PostgreSQL: connection refused");
    });
    svc.start("127.0.0.1", 0);
  }
  keel::apps::HttpService svc{"mapping-test", {.storage_full_retry_after = 7s}};
  keel::apps::HttpClient client;
};

TEST_F(FullDiskHttpMapping, StorageFullIsA503WithRetryAfterAndAJsonBody) {
  auto r = client.post_json(svc.base_url() + "/full", {}, "{}");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.header("retry-after").value_or(""), "7");
  auto j = r.json();
  EXPECT_EQ(j.at("error"), "storage_full");
  EXPECT_EQ(j.at("retry_after_seconds"), 7);
  EXPECT_NE(j.at("message").get<std::string>().find("disk full"), std::string::npos) << r.body;
  // The driver's text (statements, file names) stays in the log.
  EXPECT_EQ(r.body.find("COMMIT"), std::string::npos) << r.body;
}

TEST_F(FullDiskHttpMapping, OtherDatabaseErrorsStayA500) {
  auto r = client.post_json(svc.base_url() + "/broken", {}, "{}");
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_FALSE(r.header("retry-after").has_value());
  EXPECT_EQ(r.json().at("error"), "internal_error");
}

TEST_F(FullDiskHttpMapping, AnUnreachableDatabaseIsA503WithRetryAfter) {
  auto r = client.post_json(svc.base_url() + "/away", {}, "{}");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.header("retry-after").value_or(""), "2");
  auto j = r.json();
  EXPECT_EQ(j.at("error"), "database_unavailable");
  EXPECT_EQ(j.at("retry_after_seconds"), 2);
  EXPECT_EQ(r.body.find("connection refused"), std::string::npos) << "the driver's text stays in the log: " << r.body;
}

TEST(FullDiskErrorMapping, StorageFullResponseNeverSaysRetryAfterZero) {
  auto r = keel::apps::storage_full_response(0s);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers.at("Retry-After"), "1");
}

}  // namespace
