// Construction, migrations, the write path (group commit) and the reader pool.
#include "sysdb/sqlite/sqlite_system_database.hpp"

#include <string>

#include "sysdb/sqlite/migrations.hpp"

namespace keel::sysdb::sqlite {

namespace {

TransactionVerbs verbs_for(Connection& c) {
  return TransactionVerbs{
      .begin = [&c] { c.prepare("BEGIN IMMEDIATE").step(); },
      .commit = [&c] { c.prepare("COMMIT").step(); },
      .rollback = [&c] { c.prepare("ROLLBACK").step(); },
      .savepoint = [&c] { c.prepare("SAVEPOINT keel_unit").step(); },
      .release_savepoint = [&c] { c.prepare("RELEASE keel_unit").step(); },
      .rollback_to_savepoint = [&c] { c.prepare("ROLLBACK TO keel_unit").step(); },
  };
}

bool table_exists(Connection& c, const char* name) {
  auto st = c.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", {std::string(name)});
  return st.step();
}

int64_t schema_version(Connection& c) {
  if (!table_exists(c, "keel_schema_version")) return 0;
  auto st = c.prepare("SELECT version FROM keel_schema_version");
  return st.step() ? st.column_int(0) : 0;
}

}  // namespace

SqliteSystemDatabase::SqliteSystemDatabase(std::string path, const RuntimeConfig& config)
    : path_(std::move(path)), sync_(config.sqlite_synchronous), executor_id_(config.executor_id) {
  writer_ = std::make_unique<Connection>(path_, /*create=*/true, sync_);
  committer_ = std::make_unique<GroupCommitter>(verbs_for(*writer_), config.fault_hook);
  committer_->set_metrics(&metrics_);
  check_schema_version();
}

void SqliteSystemDatabase::check_schema_version() {
  int64_t v = schema_version(*writer_);
  auto known = static_cast<int64_t>(migrations().size());
  if (v > known)
    throw IncompatibleDatabaseError("database '" + path_ + "' has Keel schema version " + std::to_string(v) +
                                    ", newer than this build understands (" + std::to_string(known) + ")");
}

void SqliteSystemDatabase::migrate() {
  write([&](Connection& c) {
    c.exec("CREATE TABLE IF NOT EXISTS keel_schema_version (version INTEGER NOT NULL)");
    int64_t v = schema_version(c);
    auto known = static_cast<int64_t>(migrations().size());
    if (v > known) throw IncompatibleDatabaseError("database '" + path_ + "' has a newer Keel schema");
    for (int64_t i = v; i < known; ++i) c.exec(migrations()[static_cast<size_t>(i)]);
    if (v == 0) {
      c.prepare("INSERT INTO keel_schema_version (version) VALUES ($1)", {known}).step();
    } else if (v < known) {
      c.prepare("UPDATE keel_schema_version SET version = $1", {known}).step();
    }
  });
}

void SqliteSystemDatabase::write(const std::function<void(Connection&)>& fn, bool fault_points) {
  committer_->run([&] { fn(*writer_); }, fault_points);
}

void SqliteSystemDatabase::read(const std::function<void(Connection&)>& fn) {
  std::unique_ptr<Connection> conn;
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!conn) {
    conn = std::make_unique<Connection>(path_, /*create=*/false, sync_);
    conn->exec("PRAGMA query_only=1");
  }
  // A snapshot per read: the whole fn sees one consistent state.
  conn->exec("BEGIN");
  try {
    fn(*conn);
    conn->exec("COMMIT");
  } catch (...) {
    try { conn->exec("ROLLBACK"); } catch (...) {}
    throw;
  }
  std::lock_guard lock(readers_mu_);
  idle_readers_.push_back(std::move(conn));
}

void SqliteSystemDatabase::run_sql_write(const std::function<void(Sql&)>& fn) {
  write([&](Connection& c) {
    SqliteSql sql(c);
    fn(sql);
  });
}

void SqliteSystemDatabase::run_sql_read(const std::function<void(Sql&)>& fn) {
  read([&](Connection& c) {
    SqliteSql sql(c);
    fn(sql);
  });
}

}  // namespace keel::sysdb::sqlite
