// RAII wrappers over libpq: a connection that runs parameterized statements
// (text format), a result, and keel::Sql on top of them. Not thread-safe: one
// thread uses a connection at a time (the owner serialises access).
//
// Round trips: every statement is prepared once per connection (a cache keyed
// by SQL text and parameter types, PQsendPrepare + PQsendQueryPrepared; the
// cache is dropped with the connection, so statements are prepared again after
// a reconnect), and parameterless verbs queued with defer() (BEGIN, SAVEPOINT,
// RELEASE) travel in one libpq pipeline with the next statement. A statement
// and everything deferred before it thus cost one round trip.
//
// Errors: SQLSTATE 53100 (disk full) throws StorageFullError;
// class 23 (integrity constraint) throws ConstraintError;
// 40001 (serialization failure) and 40P01 (deadlock) throw
// TransientDatabaseError; anything else, including a lost server connection,
// throws DatabaseError. A connection found broken is re-established on the
// next ensure_open().
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "keel/errors.hpp"
#include "keel/sql.hpp"
#include "metrics/metrics.hpp"

namespace keel::sysdb::postgres {

// The SQLSTATE a deferred check raises when it refuses (keel.refuse_claim,
// migrations.cpp).
inline constexpr std::string_view kRefusedState = "KL001";
// read_only_sql_transaction: a write reached a server in recovery (a standby).
inline constexpr std::string_view kReadOnlyState = "25006";

// A deferred check refused (see Connection::defer_check). A DatabaseError, so
// that paths unaware of it treat it as any failed statement.
class CheckRefused : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  int rows() const { return PQntuples(r_.get()); }
  int columns() const { return PQnfields(r_.get()); }
  bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string text(int row, int col) const;
  std::optional<std::string> opt_text(int row, int col) const;
  int64_t integer(int row, int col) const;
  SqlValue value(int row, int col) const;
  int64_t changed() const;  // rows affected by INSERT/UPDATE/DELETE
  PGresult* get() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, ResultDeleter> r_;
};

class Connection {
 public:
  // reconnects, when given, counts the connects after the first (metrics).
  // application_name names the session in pg_stat_activity unless the URL
  // (or PGAPPNAME) names it: which process holds which connections.
  explicit Connection(std::string conninfo, metrics::Counter* reconnects = nullptr,
                      std::string application_name = "keel");
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Reconnects when the connection was lost (between units, never inside
  // one): also when the server closed it while idle (terminated backend,
  // restart), which shows as readable input on an idle socket.
  void ensure_open();
  bool broken() const;
  // Opens a transaction with statement (BEGIN ...). A connection found dead
  // here (the server restarted, the network dropped it while idle) is
  // re-established and the BEGIN tried once more: nothing has happened yet.
  void begin(std::string_view statement);
  // Queues a parameterless statement, sent in one pipeline with the next
  // exec() (or exec_script()); its error is reported by that call. When a
  // deferred BEGIN fails on a dead connection, nothing has happened yet: the
  // connection is re-established and the pipeline sent once more.
  void defer(std::string_view statement);
  // Queues a statement whose only answer is whether it succeeded: a check
  // that raises kRefusedState when it refuses (a checkpoint's claim), sent
  // like a deferred verb. Its failure throws CheckRefused from the call that
  // sends it, and sets deferred_refused().
  void defer_check(std::string_view sql, std::vector<SqlValue> params);
  // Ends the transaction opened by a deferred BEGIN: drops what was never
  // sent, or sends ROLLBACK.
  void rollback();
  // True once a deferred verb failed (or the connection was lost) since the
  // last ensure_open(): the transaction's savepoints cannot be trusted.
  bool deferred_failed() const { return deferred_failed_; }
  // True once a deferred check refused since the last ensure_open(): the
  // transaction is lost, but nothing is wrong with the connection or with
  // the other statements sent with it.
  bool deferred_refused() const { return deferred_refused_; }
  // Runs one statement with $1.. parameters bound by number.
  Result exec(std::string_view sql, const std::vector<SqlValue>& params = {});
  // Sends the deferred verbs, stmts and then tail (a parameterless statement
  // such as COMMIT; none when empty) in one pipeline: one round trip. Returns
  // the statements' results, then tail's. On the first error throws it and
  // sets failed_at: its index in stmts, stmts.size() for tail, or
  // kFailedDeferred (a deferred verb, or the connection was lost).
  struct Statement {
    std::string_view sql;
    const std::vector<SqlValue>* params;
  };
  static constexpr size_t kFailedDeferred = static_cast<size_t>(-1);
  std::vector<Result> exec_pipeline(const std::vector<Statement>& stmts, std::string_view tail, size_t& failed_at);
  // Runs a parameterless script (may hold several ;-separated statements).
  void exec_script(std::string_view sql);
  // Sets a run-time parameter for the session (set_config), outside any
  // transaction: sent only when this session does not hold `value` already.
  // A new session (a reconnect) starts again from the server's defaults.
  void set_session(const std::string& name, const std::string& value);
  // The server process of the current session (0 before the first connect).
  // Readable from any thread: the LISTEN thread skips this session's NOTIFYs.
  int backend_pid() const { return backend_pid_.load(std::memory_order_relaxed); }
  // How many TransientDatabaseErrors this connection has thrown: a user's
  // transaction that caught one and went on is still lost (run_transaction
  // compares the count before and after the body).
  uint64_t transient_failures() const { return transient_failures_; }

 private:
  struct Bound;
  void connect();
  bool idle_input_pending();
  bool read_only_server() const;
  bool begin_deferred() const;  // the first deferred statement opens a transaction
  Bound bind(std::string_view sql, const std::vector<SqlValue>& params);
  std::vector<Result> run(const std::vector<const Bound*>& stmts, std::string_view tail, size_t& failed_at);
  std::vector<Result> run_pipeline(const std::vector<const Bound*>& stmts, std::string_view tail, size_t& failed_at);
  [[noreturn]] void fail(PGresult* r, std::string_view sql);

  std::string conninfo_;
  std::string application_name_;
  struct ConnDeleter {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::unique_ptr<PGconn, ConnDeleter> conn_;
  std::atomic<int> backend_pid_{0};
  struct Deferred {
    std::string sql;
    std::vector<SqlValue> params;  // none: a verb, sent unprepared
  };
  std::vector<Deferred> deferred_;
  bool deferred_failed_ = false;
  bool deferred_refused_ = false;
  // Placeholder numbers per SQL text, and prepared statement names per SQL
  // text + parameter types (this connection only).
  std::unordered_map<std::string, std::vector<size_t>> placeholders_;
  std::unordered_map<std::string, std::string> prepared_;
  std::unordered_map<std::string, std::string> session_settings_;  // set_session's, this session's
  uint64_t next_statement_ = 0;
  uint64_t transient_failures_ = 0;
  metrics::Counter* reconnects_ = nullptr;
  bool connected_once_ = false;
};

// keel::Sql over a connection in an open transaction.
class PgSql final : public Sql {
 public:
  explicit PgSql(Connection& conn) : conn_(conn) {}
  int64_t execute(std::string_view sql, const std::vector<SqlValue>& params) override;
  std::vector<SqlRow> query(std::string_view sql, const std::vector<SqlValue>& params) override;
  void execute_script(std::string_view sql) override { conn_.exec_script(sql); }
  std::string_view dialect() const override { return "postgresql"; }

 private:
  Connection& conn_;
};

}  // namespace keel::sysdb::postgres
