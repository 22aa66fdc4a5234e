#include "sysdb/postgres/connection.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <set>
#include <string>

#include "keel/errors.hpp"

namespace keel::sysdb::postgres {

namespace {

// Type OIDs (pg_type.dat).
constexpr Oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25, kOid = 26, kFloat4 = 700, kFloat8 = 701,
              kNumeric = 1700;

void ignore_notice(void*, const char*) {}

// The numbers of the $N placeholders in sql, skipping quoted text and
// comments. keel::Sql binds by number, as SQLite does.
std::set<size_t> placeholders(std::string_view sql) {
  std::set<size_t> found;
  size_t i = 0;
  const size_t n = sql.size();
  while (i < n) {
    char ch = sql[i];
    if (ch == '\'' || ch == '"') {
      for (++i; i < n && sql[i] != ch; ++i) {
      }
      ++i;
    } else if (ch == '-' && i + 1 < n && sql[i + 1] == '-') {
      while (i < n && sql[i] != '\n') ++i;
    } else if (ch == '/' && i + 1 < n && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? n : end + 2;
    } else if (ch == '$' && i + 1 < n && sql[i + 1] >= '0' && sql[i + 1] <= '9' &&
               (i == 0 || !(std::isalnum(static_cast<unsigned char>(sql[i - 1])) || sql[i - 1] == '_'))) {
      size_t j = i + 1;
      size_t num = 0;
      while (j < n && sql[j] >= '0' && sql[j] <= '9') num = num * 10 + static_cast<size_t>(sql[j++] - '0');
      found.insert(num);
      i = j;
    } else {
      ++i;
    }
  }
  return found;
}

std::string format_double(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, end);
}

}  // namespace

std::string Result::text(int row, int col) const {
  return std::string(PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col)));
}

std::optional<std::string> Result::opt_text(int row, int col) const {
  if (null(row, col)) return std::nullopt;
  return text(row, col);
}

int64_t Result::integer(int row, int col) const { return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10); }

SqlValue Result::value(int row, int col) const {
  if (null(row, col)) return nullptr;
  std::string t = text(row, col);
  switch (PQftype(r_.get(), col)) {
    case kBool: return int64_t{t == "t" ? 1 : 0};
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid: return static_cast<int64_t>(std::strtoll(t.c_str(), nullptr, 10));
    case kFloat4:
    case kFloat8: return std::strtod(t.c_str(), nullptr);
    case kNumeric:
      if (t.find_first_of(".eEN") == std::string::npos && t.size() < 19)
        return static_cast<int64_t>(std::strtoll(t.c_str(), nullptr, 10));
      return std::strtod(t.c_str(), nullptr);
    default: return t;
  }
}

int64_t Result::changed() const {
  const char* n = PQcmdTuples(r_.get());
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

Connection::Connection(std::string conninfo) : conninfo_(std::move(conninfo)) { connect(); }

Connection::~Connection() = default;

void Connection::connect() {
  conn_.reset(PQconnectdb(conninfo_.c_str()));  // owned even when the connection failed
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string msg = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw DatabaseError("cannot connect to PostgreSQL: " + msg);
  }
  PQsetNoticeProcessor(conn_.get(), ignore_notice, nullptr);
}

bool Connection::broken() const { return !conn_ || PQstatus(conn_.get()) != CONNECTION_OK; }

void Connection::ensure_open() {
  if (broken()) {
    connect();
    return;
  }
  // A unit that died half-way must not leave its transaction open.
  if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
    PGresult* r = PQexec(conn_.get(), "ROLLBACK");
    PQclear(r);
    if (broken()) connect();
  }
}

void Connection::begin(std::string_view statement) {
  ensure_open();
  try {
    exec(statement);
  } catch (const DatabaseError&) {
    if (!broken()) throw;
    connect();
    exec(statement);
  }
}

void Connection::fail(PGresult* r, std::string_view sql) {
  std::string msg;
  std::string state;
  if (r) {
    msg = PQresultErrorMessage(r);
    if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) state = s;
    PQclear(r);
  }
  if (msg.empty()) msg = PQerrorMessage(conn_.get());
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  std::string full = std::string(sql) + ": " + msg + (state.empty() ? "" : " (SQLSTATE " + state + ")");
  if (broken()) full += " [connection lost]";
  if (state.rfind("23", 0) == 0) throw ConstraintError(full);
  throw DatabaseError(full);
}

Result Connection::exec(std::string_view sql, const std::vector<SqlValue>& params) {
  if (!conn_) throw DatabaseError("PostgreSQL connection is closed");
  std::set<size_t> used = placeholders(sql);
  size_t count = used.empty() ? 0 : *used.rbegin();
  for (size_t k : used) {
    if (k == 0 || k > params.size())
      throw UsageError("SQL parameter $" + std::to_string(k) + " has no value (" + std::to_string(params.size()) +
                       " given): " + std::string(sql));
  }
  std::vector<Oid> types(count, 0);
  std::vector<std::string> storage(count);
  std::vector<const char*> values(count, nullptr);
  for (size_t i = 0; i < count; ++i) {
    const SqlValue& v = params[i];
    bool referenced = used.count(i + 1) != 0;
    if (std::holds_alternative<std::nullptr_t>(v)) {
      types[i] = referenced ? 0 : kText;
      continue;
    }
    if (auto p = std::get_if<int64_t>(&v)) {
      types[i] = kInt8;
      storage[i] = std::to_string(*p);
    } else if (auto d = std::get_if<double>(&v)) {
      types[i] = kFloat8;
      storage[i] = format_double(*d);
    } else {
      // Text is left untyped so that the server infers it from the context,
      // as a literal would be.
      types[i] = referenced ? 0 : kText;
      storage[i] = std::get<std::string>(v);
    }
    values[i] = storage[i].c_str();
  }
  std::string text(sql);
  PGresult* r = PQexecParams(conn_.get(), text.c_str(), static_cast<int>(count), types.data(), values.data(), nullptr,
                             nullptr, 0);
  auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(r, sql);
  return Result(r);
}

void Connection::exec_script(std::string_view sql) {
  if (!conn_) throw DatabaseError("PostgreSQL connection is closed");
  std::string text(sql);
  PGresult* r = PQexec(conn_.get(), text.c_str());
  auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) fail(r, sql);
  PQclear(r);
}

int64_t PgSql::execute(std::string_view sql, const std::vector<SqlValue>& params) {
  return conn_.exec(sql, params).changed();
}

std::vector<SqlRow> PgSql::query(std::string_view sql, const std::vector<SqlValue>& params) {
  Result r = conn_.exec(sql, params);
  std::vector<SqlRow> rows;
  rows.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    std::vector<SqlValue> values;
    values.reserve(static_cast<size_t>(r.columns()));
    for (int c = 0; c < r.columns(); ++c) values.push_back(r.value(i, c));
    rows.emplace_back(std::move(values));
  }
  return rows;
}

}  // namespace keel::sysdb::postgres
