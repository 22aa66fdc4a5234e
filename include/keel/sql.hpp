/// @file
/// keel/sql.hpp — the application's SQL, on the system database's connection.
///
/// Contract:
///  * A keel::Sql is handed to a transaction body (Context::transaction) or to
///    Runtime::run_sql_write / run_sql_read. All statements issued through it
///    belong to one database transaction; in a workflow transaction, Keel's own
///    checkpoint row is written in the same transaction, so the body's effects
///    commit exactly once.
///  * Parameters are written $1, $2, ... on every backend and bound by number;
///    values are never spliced into SQL text.
///  * Errors throw keel::DatabaseError with the SQL and the database's message.
///  * Constraint violations throw keel::ConstraintError (errors.hpp); a
///    serialization failure or deadlock (PostgreSQL) throws
///    keel::TransientDatabaseError.
///
/// Thread-safety: a Sql object is valid only inside the callback that received
/// it, and only on that callback's thread. Do not keep it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "keel/errors.hpp"

namespace keel {

/// A parameter or a column's value: NULL, an integer, a double or text.
using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;

/// One row of a result, its columns numbered from 0. Every getter throws
/// UsageError for a column out of range.
class SqlRow {
 public:
  /// A row of these column values (the backends make them).
  explicit SqlRow(std::vector<SqlValue> values) : values_(std::move(values)) {}
  /// The number of columns.
  size_t size() const { return values_.size(); }
  /// Whether column i is NULL.
  bool is_null(size_t i) const;
  /// Column i as an integer (a double is truncated); UsageError for NULL or text.
  int64_t get_int(size_t i) const;
  /// Column i as a double (an integer is converted); UsageError for NULL or text.
  double get_double(size_t i) const;
  /// Column i as text (a number is formatted); UsageError for NULL.
  std::string get_string(size_t i) const;
  /// Column i as stored.
  const SqlValue& at(size_t i) const;

 private:
  std::vector<SqlValue> values_;
};

/// The application's SQL on the system database's connection, inside one
/// database transaction (the contract of keel/sql.hpp).
class Sql {
 public:
  virtual ~Sql() = default;
  /// Runs a statement; returns the number of rows changed.
  virtual int64_t execute(std::string_view sql, const std::vector<SqlValue>& params = {}) = 0;
  /// Runs a statement; returns every row of its result.
  virtual std::vector<SqlRow> query(std::string_view sql, const std::vector<SqlValue>& params = {}) = 0;
  /// Runs several ;-separated statements without parameters (DDL, migrations).
  virtual void execute_script(std::string_view sql) = 0;
  /// "sqlite" or "postgresql": for the rare statement that differs.
  virtual std::string_view dialect() const = 0;

  /// The first row of query()'s result, or nullopt when there is none.
  std::optional<SqlRow> query_one(std::string_view sql, const std::vector<SqlValue>& params = {}) {
    auto rows = query(sql, params);
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
  }
};

}  // namespace keel
