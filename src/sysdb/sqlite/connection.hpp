// RAII wrappers over the SQLite C API: a connection with a cache of prepared
// statements, and keel::Sql on top of it. Not thread-safe: one thread uses a
// connection at a time (the owner serialises access).
//
// The cache holds the first kMaxCachedStatements distinct SQL texts (Keel's
// own statements are a few dozen; user transactions may build texts without
// bound): any text past that is prepared for its one use and finalized after.
#pragma once

#include <sqlite3.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "keel/config.hpp"
#include "keel/sql.hpp"

namespace keel::sysdb::sqlite {

[[noreturn]] void throw_sqlite_error(sqlite3* db, int rc, std::string_view context);

// Shared by the cache and the statement in use: a statement that is not
// cached is finalized when its use ends.
using StatementPtr = std::shared_ptr<sqlite3_stmt>;

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

// A prepared statement in use: bound on construction, reset on destruction.
class BoundStatement {
 public:
  // sql outlives the statement (the cache's key) unless owned_sql holds it.
  BoundStatement(sqlite3* db, StatementPtr stmt, std::string_view sql, std::string owned_sql,
                 const std::vector<SqlValue>& params);
  ~BoundStatement();
  BoundStatement(const BoundStatement&) = delete;
  BoundStatement& operator=(const BoundStatement&) = delete;

  bool step();  // true when a row is available
  int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string column_text(int i) const;
  bool column_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::optional<std::string> column_opt_text(int i) const;
  SqlValue column_value(int i) const;
  int column_count() const { return sqlite3_column_count(stmt_); }

 private:
  sqlite3* db_;
  StatementPtr owner_;
  sqlite3_stmt* stmt_;
  std::string owned_sql_;
  std::string_view sql_;
};

class Connection {
 public:
  // Opens path read-write (creating it when create is true).
  Connection(const std::string& path, bool create, SqliteSync sync);

  BoundStatement prepare(std::string_view sql, const std::vector<SqlValue>& params = {});
  void exec(std::string_view sql);  // no parameters, may hold several statements
  int64_t changes() const { return sqlite3_changes64(db_.get()); }
  sqlite3* handle() const { return db_.get(); }

 private:
  StatementPtr compile(std::string_view sql, bool persistent);

  std::unique_ptr<sqlite3, DbDeleter> db_;
  std::map<std::string, StatementPtr, std::less<>> cache_;

 public:
  static constexpr size_t kMaxCachedStatements = 512;
  size_t cached_statements() const { return cache_.size(); }
};

// keel::Sql over a connection in an open transaction.
class SqliteSql final : public Sql {
 public:
  explicit SqliteSql(Connection& conn) : conn_(conn) {}
  int64_t execute(std::string_view sql, const std::vector<SqlValue>& params) override;
  std::vector<SqlRow> query(std::string_view sql, const std::vector<SqlValue>& params) override;
  void execute_script(std::string_view sql) override { conn_.exec(sql); }
  std::string_view dialect() const override { return "sqlite"; }

 private:
  Connection& conn_;
};

}  // namespace keel::sysdb::sqlite
