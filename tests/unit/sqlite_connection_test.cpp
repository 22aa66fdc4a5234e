// The SQLite connection's statement cache: bounded, and statements past the
// bound still run (prepared for their one use).
#include "sysdb/sqlite/connection.hpp"

#include <gtest/gtest.h>

#include <string>

#include "keel/errors.hpp"
#include "support/temp_dir.hpp"

namespace {

using keel::sysdb::sqlite::Connection;
using keel::sysdb::sqlite::SqliteSql;

class SqliteConnection : public ::testing::Test {
 protected:
  void SetUp() override { c.exec("CREATE TABLE t (v INTEGER NOT NULL)"); }
  keel::testing::TempDir dir;
  Connection c{dir.file("db.sqlite"), true, keel::SqliteSync::Full};
  SqliteSql sql{c};
};

int64_t count_rows(Connection& c) {
  auto st = c.prepare("SELECT count(*) FROM t");
  EXPECT_TRUE(st.step());
  return st.column_int(0);
}

TEST_F(SqliteConnection, TheStatementCacheStopsGrowingAndLaterTextsStillRun) {
  const int distinct = static_cast<int>(Connection::kMaxCachedStatements) + 100;
  for (int i = 0; i < distinct; ++i)
    EXPECT_EQ(sql.execute("INSERT INTO t (v) VALUES (" + std::to_string(i) + ")", {}), 1);
  EXPECT_EQ(c.cached_statements(), Connection::kMaxCachedStatements);
  // A text past the bound, run twice with parameters; its rows read back.
  const std::string late = "INSERT INTO t (v) VALUES ($1)";
  sql.execute(late, {int64_t{-1}});
  sql.execute(late, {int64_t{-2}});
  auto rows = sql.query("SELECT v FROM t WHERE v < $1 ORDER BY v", {int64_t{0}});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].get_int(0), -2);
  EXPECT_EQ(rows[1].get_int(0), -1);
  EXPECT_EQ(count_rows(c), distinct + 2);
  EXPECT_EQ(c.cached_statements(), Connection::kMaxCachedStatements);
}

TEST_F(SqliteConnection, ABadTextPastTheBoundIsAClearErrorAndChangesNothing) {
  for (size_t i = 0; i < Connection::kMaxCachedStatements; ++i) sql.query("SELECT " + std::to_string(i), {});
  EXPECT_THROW(sql.execute("INSERT INTO nowhere VALUES (1)", {}), keel::DatabaseError);
  EXPECT_THROW(sql.execute("INSERT INTO t (v) VALUES ($1)", {}), keel::UsageError);  // $1 has no value
  EXPECT_EQ(count_rows(c), 0);
}

}  // namespace
