// Construction, migrations, the write path (group commit) and the reader pool.
#include "sysdb/postgres/postgres_system_database.hpp"

#include <string>

#include "keel/errors.hpp"
#include "sysdb/postgres/connection_budget.hpp"
#include "sysdb/postgres/migrations.hpp"

namespace keel::sysdb::postgres {

namespace {

constexpr size_t kMaxReaders = kMaxReaderConnections;  // connection_budget.hpp

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
    : url_(std::move(url)), reader_idle_timeout_(config.postgres_reader_idle_timeout), executor_id_(config.executor_id) {
  writer_ = std::make_unique<Connection>(url_, &metrics_.reconnects, application_name());
  std::vector<Connection*> lanes{writer_.get()};
  for (int i = 1; i < config.postgres_writer_connections; ++i) {
    extra_writers_.push_back(std::make_unique<Connection>(url_, &metrics_.reconnects, application_name()));
    lanes.push_back(extra_writers_.back().get());
  }
  committer_ = std::make_unique<PipelineCommitter>(std::move(lanes), config.fault_hook);
  committer_->set_metrics(&metrics_);
  committer_->set_session_hook([this](Connection& c) { c.set_session("keel.wake", others_listen_ ? "on" : "off"); });
  metrics_.wake_notify.set(1);
  check_schema_version();
}

// The session hook applies it before each batch: a batch already running
// when it changes still wakes the old way (a wait it should have woken
// finds the write at its next poll).
void PostgresSystemDatabase::set_others_listen(bool yes) {
  others_listen_ = yes;
  metrics_.wake_notify.set(yes ? 1 : 0);
}

void PostgresSystemDatabase::check_schema_version() {
  int64_t v = schema_version(*writer_);
  auto known = static_cast<int64_t>(migrations().size());
  if (v > known)
    throw IncompatibleDatabaseError("database '" + redact(url_) + "' has Keel schema version " + std::to_string(v) +
                                    ", newer than this build understands (" + std::to_string(known) + ")");
}

void PostgresSystemDatabase::migrate() {
  // Two processes migrating at once serialise on the advisory lock; yet the
  // one that waited may still fail its CREATE ... IF NOT EXISTS with a unique
  // violation: waiting on an advisory lock does not refresh the backend's
  // catalog cache, so it can miss the schema the other just committed. A new
  // transaction does refresh it, so such a failure is retried.
  for (int attempt = 1;; ++attempt) {
    try {
      migrate_once();
      return;
    } catch (const ConstraintError&) {
      if (attempt == 3) throw;
    }
  }
}

void PostgresSystemDatabase::migrate_once() {
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

void PostgresSystemDatabase::write(const std::function<void(Connection&)>& fn, bool fault_points,
                                   std::string_view begin) {
  committer_->run(fn, fault_points, begin);
}

Result PostgresSystemDatabase::write_statement(std::string_view sql, const std::vector<SqlValue>& params) {
  return committer_->run_statement(sql, params);
}

std::unique_ptr<Connection> PostgresSystemDatabase::take_reader() {
  {
    std::unique_lock lock(readers_mu_);
    readers_cv_.wait(lock, [&] { return !idle_readers_.empty() || open_readers_ < kMaxReaders; });
    if (!idle_readers_.empty()) {
      auto conn = std::move(idle_readers_.back().conn);
      idle_readers_.pop_back();
      return conn;
    }
    ++open_readers_;
    metrics_.reader_connections.set(static_cast<int64_t>(open_readers_));
  }
  try {
    return std::make_unique<Connection>(url_, &metrics_.reconnects, application_name());
  } catch (...) {
    std::lock_guard lock(readers_mu_);
    --open_readers_;
    metrics_.reader_connections.set(static_cast<int64_t>(open_readers_));
    readers_cv_.notify_one();
    throw;
  }
}

void PostgresSystemDatabase::return_reader(std::unique_ptr<Connection> conn) {
  std::vector<std::unique_ptr<Connection>> expired;  // closed after the lock: a goodbye to the server each
  std::lock_guard lock(readers_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (conn->broken()) {
    --open_readers_;  // dropped: the next read opens a new one
  } else {
    idle_readers_.push_back({std::move(conn), now});
  }
  expired = take_expired_readers(now);
  metrics_.reader_connections.set(static_cast<int64_t>(open_readers_));
  readers_cv_.notify_one();
}

std::vector<std::unique_ptr<Connection>> PostgresSystemDatabase::take_expired_readers(
    std::chrono::steady_clock::time_point now) {
  std::vector<std::unique_ptr<Connection>> expired;
  if (reader_idle_timeout_.count() == 0) return expired;
  auto fresh = idle_readers_.begin();
  while (fresh != idle_readers_.end() && now - fresh->since > reader_idle_timeout_) ++fresh;
  for (auto it = idle_readers_.begin(); it != fresh; ++it) expired.push_back(std::move(it->conn));
  idle_readers_.erase(idle_readers_.begin(), fresh);
  open_readers_ -= expired.size();
  return expired;
}

void PostgresSystemDatabase::read(const std::function<void(Connection&)>& fn) {
  std::unique_ptr<Connection> conn = take_reader();
  try {
    // A snapshot per read: the whole fn sees one consistent state.
    conn->begin("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    fn(*conn);
    conn->exec("COMMIT");
  } catch (...) {
    if (!conn->broken()) {
      try { conn->exec("ROLLBACK"); } catch (...) {}
    }
    return_reader(std::move(conn));
    throw;
  }
  return_reader(std::move(conn));
}

// One SELECT is its own snapshot: no BEGIN/COMMIT around it. A read is
// harmless to repeat, so a connection found dead is replaced and fn run again.
void PostgresSystemDatabase::read_one(const std::function<void(Connection&)>& fn) {
  // Back to the pool on every path (the pool is bounded: a lost one would
  // be missed for good).
  struct Lease {
    PostgresSystemDatabase& db;
    std::unique_ptr<Connection> conn;
    ~Lease() { db.return_reader(std::move(conn)); }
  } lease{*this, take_reader()};
  try {
    lease.conn->ensure_open();
    fn(*lease.conn);
  } catch (const DatabaseError&) {
    if (!lease.conn->broken()) throw;
    lease.conn->ensure_open();
    fn(*lease.conn);
  }
}

void PostgresSystemDatabase::run_sql_write(const std::function<void(Sql&)>& fn) {
  write([&](Connection& c) {
    PgSql sql(c);
    fn(sql);
  });
}

void PostgresSystemDatabase::set_wakeup_sink(std::function<void(const std::string& key)> sink) {
  std::lock_guard lock(listener_mu_);
  listener_.reset();  // the old sink is never called once this returns
  set_others_listen(true);  // unknown without a listener
  if (!sink) return;
  // The writers outlive the listener (declared before it, reset here first).
  auto is_own = [this](int pid) {
    if (writer_->backend_pid() == pid) return true;
    for (const auto& w : extra_writers_)
      if (w->backend_pid() == pid) return true;
    return false;
  };
  listener_ = std::make_unique<Listener>(url_, kListenerApplicationName + executor_id_, std::move(sink), is_own,
                                         [this](bool yes) { set_others_listen(yes); });
}

void PostgresSystemDatabase::run_sql_read(const std::function<void(Sql&)>& fn) {
  read([&](Connection& c) {
    PgSql sql(c);
    fn(sql);
  });
}

}  // namespace keel::sysdb::postgres
