// Construction, migrations, the write path (group commit) and the reader pool.
#include "sysdb/postgres/postgres_system_database.hpp"

#include <cstring>
#include <string>

#include "keel/errors.hpp"
#include "sysdb/postgres/migrations.hpp"

namespace keel::sysdb::postgres {

namespace {

constexpr size_t kMaxIdleReaders = 8;

TransactionVerbs verbs_for(Connection& c) {
  return TransactionVerbs{
      .begin =
          [&c] { c.begin("BEGIN"); },
      .commit =
          [&c] {
            Result r = c.exec("COMMIT");
            // COMMIT of a transaction in the aborted state answers ROLLBACK.
            const char* tag = PQcmdStatus(r.get());
            if (!tag || std::strcmp(tag, "COMMIT") != 0)
              throw DatabaseError("COMMIT: the transaction was rolled back by the server");
          },
      .rollback = [&c] { c.exec("ROLLBACK"); },
      .savepoint = [&c] { c.exec("SAVEPOINT keel_unit"); },
      .release_savepoint = [&c] { c.exec("RELEASE SAVEPOINT keel_unit"); },
      .rollback_to_savepoint = [&c] { c.exec("ROLLBACK TO SAVEPOINT keel_unit"); },
  };
}

int64_t schema_version(Connection& c) {
  Result exists = c.exec("SELECT to_regclass('keel.schema_version') IS NOT NULL");
  if (exists.text(0, 0) != "t") return 0;
  Result r = c.exec("SELECT version FROM keel.schema_version");
  return r.rows() > 0 ? r.integer(0, 0) : 0;
}

// The URL without its password, for messages.
std::string redact(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + ":***" + url.substr(at);
}

}  // namespace

PostgresSystemDatabase::PostgresSystemDatabase(std::string url, const RuntimeConfig& config)
    : url_(std::move(url)), executor_id_(config.executor_id) {
  writer_ = std::make_unique<Connection>(url_);
  committer_ = std::make_unique<GroupCommitter>(verbs_for(*writer_), config.fault_hook);
  check_schema_version();
}

void PostgresSystemDatabase::check_schema_version() {
  int64_t v = schema_version(*writer_);
  auto known = static_cast<int64_t>(migrations().size());
  if (v > known)
    throw IncompatibleDatabaseError("database '" + redact(url_) + "' has Keel schema version " + std::to_string(v) +
                                    ", newer than this build understands (" + std::to_string(known) + ")");
}

void PostgresSystemDatabase::migrate() {
  write([&](Connection& c) {
    c.exec("SELECT pg_advisory_xact_lock($1)", {kMigrationLockKey});
    c.exec_script(
        "CREATE SCHEMA IF NOT EXISTS keel; "
        "CREATE TABLE IF NOT EXISTS keel.schema_version (version INTEGER NOT NULL)");
    int64_t v = schema_version(c);
    auto known = static_cast<int64_t>(migrations().size());
    if (v > known) throw IncompatibleDatabaseError("database '" + redact(url_) + "' has a newer Keel schema");
    for (int64_t i = v; i < known; ++i) c.exec_script(migrations()[static_cast<size_t>(i)]);
    if (v == 0) {
      c.exec("INSERT INTO keel.schema_version (version) VALUES ($1)", {known});
    } else if (v < known) {
      c.exec("UPDATE keel.schema_version SET version = $1", {known});
    }
  });
}

void PostgresSystemDatabase::write(const std::function<void(Connection&)>& fn) {
  committer_->run([&] { fn(*writer_); });
}

void PostgresSystemDatabase::read(const std::function<void(Connection&)>& fn) {
  std::unique_ptr<Connection> conn;
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!conn) conn = std::make_unique<Connection>(url_);
  // A snapshot per read: the whole fn sees one consistent state.
  conn->begin("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  try {
    fn(*conn);
    conn->exec("COMMIT");
  } catch (...) {
    if (conn->broken()) throw;  // dropped: the next read opens a new one
    try { conn->exec("ROLLBACK"); } catch (...) {}
    std::lock_guard lock(readers_mu_);
    if (idle_readers_.size() < kMaxIdleReaders && !conn->broken()) idle_readers_.push_back(std::move(conn));
    throw;
  }
  std::lock_guard lock(readers_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(conn));
}

void PostgresSystemDatabase::run_sql_write(const std::function<void(Sql&)>& fn) {
  write([&](Connection& c) {
    PgSql sql(c);
    fn(sql);
  });
}

void PostgresSystemDatabase::run_sql_read(const std::function<void(Sql&)>& fn) {
  read([&](Connection& c) {
    PgSql sql(c);
    fn(sql);
  });
}

}  // namespace keel::sysdb::postgres
