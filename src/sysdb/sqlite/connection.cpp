#include "sysdb/sqlite/connection.hpp"

#include <cstdlib>
#include <string>

#include "keel/errors.hpp"
#include "sysdb/storage_full.hpp"

namespace keel::sysdb::sqlite {

void throw_sqlite_error(sqlite3* db, int rc, std::string_view context) {
  std::string msg = std::string(context) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) +
                    " (sqlite code " + std::to_string(rc) + ")";
  int primary = rc & 0xff;
  // The errno is the last OS call's on this connection: read it now, before
  // anything else runs on it.
  if (sqlite_storage_full(rc, db ? sqlite3_system_errno(db) : 0))
    throw StorageFullError(std::string(kStorageFullPrefix) + msg);
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) throw IncompatibleDatabaseError(msg);
  if (primary == SQLITE_CONSTRAINT) throw ConstraintError(msg);
  throw DatabaseError(msg);
}

namespace {

// Parameters are written $1, $2, ...; SQLite treats "$1" as a named
// parameter, so map each slot's name back to its number.
void bind_all(sqlite3* db, sqlite3_stmt* stmt, std::string_view sql, const std::vector<SqlValue>& params) {
  int slots = sqlite3_bind_parameter_count(stmt);
  for (int slot = 1; slot <= slots; ++slot) {
    const char* name = sqlite3_bind_parameter_name(stmt, slot);
    size_t index = static_cast<size_t>(slot);
    if (name && (name[0] == '$' || name[0] == '?')) index = std::strtoul(name + 1, nullptr, 10);
    if (index == 0 || index > params.size())
      throw UsageError("SQL parameter " + std::string(name ? name : "?") + " has no value (" +
                       std::to_string(params.size()) + " given): " + std::string(sql));
    const SqlValue& v = params[index - 1];
    int rc = std::visit(
        [&](const auto& x) -> int {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) return sqlite3_bind_null(stmt, slot);
          else if constexpr (std::is_same_v<T, int64_t>) return sqlite3_bind_int64(stmt, slot, x);
          else if constexpr (std::is_same_v<T, double>) return sqlite3_bind_double(stmt, slot, x);
          else return sqlite3_bind_text(stmt, slot, x.data(), static_cast<int>(x.size()), SQLITE_TRANSIENT);
        },
        v);
    if (rc != SQLITE_OK) throw_sqlite_error(db, rc, "bind");
  }
}

}  // namespace

BoundStatement::BoundStatement(sqlite3* db, StatementPtr stmt, std::string_view sql, std::string owned_sql,
                               const std::vector<SqlValue>& params)
    : db_(db), owner_(std::move(stmt)), stmt_(owner_.get()), owned_sql_(std::move(owned_sql)),
      sql_(owned_sql_.empty() ? sql : std::string_view(owned_sql_)) {
  try {
    bind_all(db, stmt_, sql_, params);
  } catch (...) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    throw;
  }
}

BoundStatement::~BoundStatement() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool BoundStatement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_sqlite_error(db_, rc, std::string(sql_));
}

std::string BoundStatement::column_text(int i) const {
  const unsigned char* t = sqlite3_column_text(stmt_, i);
  if (!t) return {};
  return std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(stmt_, i)));
}

std::optional<std::string> BoundStatement::column_opt_text(int i) const {
  if (column_null(i)) return std::nullopt;
  return column_text(i);
}

SqlValue BoundStatement::column_value(int i) const {
  switch (sqlite3_column_type(stmt_, i)) {
    case SQLITE_NULL: return nullptr;
    case SQLITE_INTEGER: return static_cast<int64_t>(sqlite3_column_int64(stmt_, i));
    case SQLITE_FLOAT: return sqlite3_column_double(stmt_, i);
    default: return column_text(i);
  }
}

Connection::Connection(const std::string& path, bool create, SqliteSync sync) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) throw_sqlite_error(raw, rc, "cannot open SQLite database '" + path + "'");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 10000);
  // journal_mode is the first statement that reads the file: a foreign or
  // corrupt file fails here, before anything is written.
  exec("PRAGMA journal_mode=WAL");
  exec(sync == SqliteSync::Full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  exec("PRAGMA foreign_keys=ON");
}

StatementPtr Connection::compile(std::string_view sql, bool persistent) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                              persistent ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr);
  StatementPtr stmt(raw, sqlite3_finalize);
  if (rc != SQLITE_OK) throw_sqlite_error(db_.get(), rc, "prepare: " + std::string(sql));
  return stmt;
}

BoundStatement Connection::prepare(std::string_view sql, const std::vector<SqlValue>& params) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return BoundStatement(db_.get(), it->second, it->first, {}, params);
  if (cache_.size() >= kMaxCachedStatements)
    return BoundStatement(db_.get(), compile(sql, false), {}, std::string(sql), params);
  it = cache_.emplace(std::string(sql), compile(sql, true)).first;
  return BoundStatement(db_.get(), it->second, it->first, {}, params);
}

void Connection::exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : "";
    sqlite3_free(err);
    throw_sqlite_error(db_.get(), rc, text + (msg.empty() ? "" : " [" + msg + "]"));
  }
}

int64_t SqliteSql::execute(std::string_view sql, const std::vector<SqlValue>& params) {
  auto st = conn_.prepare(sql, params);
  while (st.step()) {
  }
  return conn_.changes();
}

std::vector<SqlRow> SqliteSql::query(std::string_view sql, const std::vector<SqlValue>& params) {
  auto st = conn_.prepare(sql, params);
  std::vector<SqlRow> rows;
  while (st.step()) {
    std::vector<SqlValue> values;
    values.reserve(static_cast<size_t>(st.column_count()));
    for (int i = 0; i < st.column_count(); ++i) values.push_back(st.column_value(i));
    rows.emplace_back(std::move(values));
  }
  return rows;
}

}  // namespace keel::sysdb::sqlite
