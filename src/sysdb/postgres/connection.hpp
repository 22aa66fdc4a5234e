// RAII wrappers over libpq: a connection that runs parameterized statements
// (PQexecParams, text format), a result, and keel::Sql on top of them. Not
// thread-safe: one thread uses a connection at a time (the owner serialises
// access).
//
// Errors: SQLSTATE class 23 (integrity constraint) throws ConstraintError;
// anything else, including a lost server connection, throws DatabaseError. A
// connection found broken is re-established on the next ensure_open().
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/sql.hpp"

namespace keel::sysdb::postgres {

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
  explicit Connection(std::string conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Reconnects when the connection was lost (between units, never inside one).
  void ensure_open();
  bool broken() const;
  // Opens a transaction with statement (BEGIN ...). A connection found dead
  // here (the server restarted, the network dropped it while idle) is
  // re-established and the BEGIN tried once more: nothing has happened yet.
  void begin(std::string_view statement);
  // Runs one statement with $1.. parameters bound by number.
  Result exec(std::string_view sql, const std::vector<SqlValue>& params = {});
  // Runs a parameterless script (may hold several ;-separated statements).
  void exec_script(std::string_view sql);

 private:
  void connect();
  [[noreturn]] void fail(PGresult* r, std::string_view sql);

  std::string conninfo_;
  struct ConnDeleter {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::unique_ptr<PGconn, ConnDeleter> conn_;
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
