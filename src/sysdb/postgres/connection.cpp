#include "sysdb/postgres/connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>

#include "keel/errors.hpp"
#include "sysdb/storage_full.hpp"

namespace keel::sysdb::postgres {

namespace {

// Type OIDs (pg_type.dat).
constexpr Oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25, kOid = 26, kFloat4 = 700, kFloat8 = 701,
              kNumeric = 1700;

// A serialization failure or a deadlock: the server rolled the transaction
// (or the savepoint) back, and running it again may succeed.
bool is_transient_state(std::string_view state) { return state == "40001" || state == "40P01"; }
// The server cannot serve now: a connection exception (class 08), or it is
// shutting down, crashed or starting (57P01, 57P02, 57P03).
bool is_unavailable_state(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

// Statements cached per connection; beyond this (an application issuing
// ever new SQL texts) statements run unnamed, parsed on each call.
constexpr size_t kMaxCachedStatements = 512;

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

Connection::Connection(std::string conninfo, metrics::Counter* reconnects, std::string application_name)
    : conninfo_(std::move(conninfo)), application_name_(std::move(application_name)), reconnects_(reconnects) {
  connect();
}

Connection::~Connection() = default;

void Connection::connect() {
  deferred_.clear();
  deferred_failed_ = false;
  deferred_refused_ = false;
  prepared_.clear();  // prepared statements die with the server session
  session_settings_.clear();  // and so do its settings
  if (std::exchange(connected_once_, true) && reconnects_) reconnects_->inc();
  // expand_dbname: the URL's settings are read as if given here, and
  // fallback_application_name yields to an application_name among them.
  const char* keys[] = {"fallback_application_name", "dbname", nullptr};
  const char* values[] = {application_name_.c_str(), conninfo_.c_str(), nullptr};
  conn_.reset(PQconnectdbParams(keys, values, /*expand_dbname=*/1));  // owned even when the connection failed
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string msg = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw DatabaseUnavailableError("cannot connect to PostgreSQL: " + msg);
  }
  PQsetNoticeProcessor(conn_.get(), ignore_notice, nullptr);
  backend_pid_.store(PQbackendPID(conn_.get()), std::memory_order_relaxed);
}

// What the server reports at connect and on change (PostgreSQL 14 and later):
// a standby, or a server whose sessions are read-only by default. A write
// refused in a READ ONLY transaction of our own is not this.
bool Connection::read_only_server() const {
  auto on = [&](const char* name) {
    const char* v = conn_ ? PQparameterStatus(conn_.get(), name) : nullptr;
    return v && std::string_view(v) == "on";
  };
  return on("in_hot_standby") || on("default_transaction_read_only");
}

bool Connection::broken() const { return !conn_ || PQstatus(conn_.get()) != CONNECTION_OK; }

// Our connections never LISTEN: input arriving on an idle connection is the
// server saying goodbye (terminated backend, shutdown, idle timeout).
bool Connection::idle_input_pending() {
  pollfd p{PQsocket(conn_.get()), POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

void Connection::ensure_open() {
  deferred_.clear();
  deferred_failed_ = false;
  deferred_refused_ = false;
  if (broken()) {
    connect();
    return;
  }
  auto status = PQtransactionStatus(conn_.get());
  if (status == PQTRANS_IDLE && idle_input_pending()) {
    connect();
    return;
  }
  // A unit that died half-way must not leave its transaction open.
  if (status != PQTRANS_IDLE) {
    PGresult* r = PQexec(conn_.get(), "ROLLBACK");
    PQclear(r);
    if (broken()) connect();
  }
}

void Connection::set_session(const std::string& name, const std::string& value) {
  ensure_open();
  if (auto it = session_settings_.find(name); it != session_settings_.end() && it->second == value) return;
  exec("SELECT pg_catalog.set_config($1, $2, false)", {name, value});
  session_settings_[name] = value;
}

void Connection::defer(std::string_view statement) { deferred_.push_back({std::string(statement), {}}); }

void Connection::defer_check(std::string_view sql, std::vector<SqlValue> params) {
  deferred_.push_back({std::string(sql), std::move(params)});
}

bool Connection::begin_deferred() const {
  return !deferred_.empty() && deferred_.front().sql.rfind("BEGIN", 0) == 0;
}

void Connection::rollback() {
  if (begin_deferred()) {
    deferred_.clear();  // the transaction never reached the server
    return;
  }
  deferred_.clear();
  exec("ROLLBACK");
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
  if (postgres_storage_full(state)) throw StorageFullError(std::string(kStorageFullPrefix) + full);
  if (state == kReadOnlyState && read_only_server()) {
    // A standby (before its promotion, or a demoted old primary) answered a
    // write: this session can never write. Drop it, so that the next use
    // connects again and, with target_session_attrs=read-write in the URL,
    // finds the primary; the caller retries as after a lost connection.
    conn_.reset();
    throw DatabaseUnavailableError(full + " [not the primary: reconnecting]");
  }
  if (state.rfind("23", 0) == 0) throw ConstraintError(full);
  if (state == kRefusedState) throw CheckRefused(full);
  if (broken() || is_unavailable_state(state)) throw DatabaseUnavailableError(full);
  if (is_transient_state(state)) {
    ++transient_failures_;
    throw TransientDatabaseError(full);
  }
  throw DatabaseError(full);
}

struct Connection::Bound {
  std::string_view sql;
  std::string key;  // SQL text + parameter types: one prepared statement each
  std::vector<Oid> types;
  std::vector<std::string> storage;
  std::vector<const char*> values;
};

Connection::Bound Connection::bind(std::string_view sql, const std::vector<SqlValue>& params) {
  Bound b;
  b.sql = sql;
  b.key = sql;
  auto parsed = placeholders_.find(b.key);
  if (parsed == placeholders_.end()) {
    if (placeholders_.size() >= kMaxCachedStatements) placeholders_.clear();
    std::set<size_t> found = placeholders(sql);
    parsed = placeholders_.emplace(b.key, std::vector<size_t>(found.begin(), found.end())).first;
  }
  const std::vector<size_t>& used = parsed->second;
  size_t count = used.empty() ? 0 : used.back();
  for (size_t k : used) {
    if (k == 0 || k > params.size())
      throw UsageError("SQL parameter $" + std::to_string(k) + " has no value (" + std::to_string(params.size()) +
                       " given): " + std::string(sql));
  }
  b.types.assign(count, 0);
  b.storage.resize(count);
  b.values.assign(count, nullptr);
  for (size_t i = 0; i < count; ++i) {
    const SqlValue& v = params[i];
    bool referenced = std::binary_search(used.begin(), used.end(), i + 1);
    if (std::holds_alternative<std::nullptr_t>(v)) {
      b.types[i] = referenced ? 0 : kText;
      continue;
    }
    if (auto p = std::get_if<int64_t>(&v)) {
      b.types[i] = kInt8;
      b.storage[i] = std::to_string(*p);
    } else if (auto d = std::get_if<double>(&v)) {
      b.types[i] = kFloat8;
      b.storage[i] = format_double(*d);
    } else {
      // Text is left untyped so that the server infers it from the context,
      // as a literal would be.
      b.types[i] = referenced ? 0 : kText;
      b.storage[i] = std::get<std::string>(v);
    }
    b.values[i] = b.storage[i].c_str();
  }
  b.key += '\0';
  for (Oid t : b.types) b.key += std::to_string(t) + ',';
  return b;
}

Result Connection::exec(std::string_view sql, const std::vector<SqlValue>& params) {
  if (!conn_) throw DatabaseUnavailableError("PostgreSQL connection is closed");
  Bound b = bind(sql, params);
  if (deferred_.empty()) {
    auto it = prepared_.find(b.key);
    if (it != prepared_.end()) {  // the common case: one message, one round trip
      PGresult* r = PQexecPrepared(conn_.get(), it->second.c_str(), static_cast<int>(b.values.size()),
                                   b.values.data(), nullptr, nullptr, 0);
      auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(r, sql);
      return Result(r);
    }
  }
  size_t failed_at = 0;
  auto results = run({&b}, "", failed_at);
  return std::move(results.front());
}

std::vector<Result> Connection::exec_pipeline(const std::vector<Statement>& stmts, std::string_view tail,
                                              size_t& failed_at) {
  if (!conn_) throw DatabaseUnavailableError("PostgreSQL connection is closed");
  std::vector<Bound> bound;
  bound.reserve(stmts.size());
  for (const auto& s : stmts) bound.push_back(bind(s.sql, *s.params));
  std::vector<const Bound*> ptrs;
  for (const auto& b : bound) ptrs.push_back(&b);
  return run(ptrs, tail, failed_at);
}

std::vector<Result> Connection::run(const std::vector<const Bound*>& stmts, std::string_view tail,
                                    size_t& failed_at) {
  const bool opens = begin_deferred();
  std::vector<Deferred> deferred;
  if (opens) deferred = deferred_;  // kept only for the one retry below
  try {
    return run_pipeline(stmts, tail, failed_at);
  } catch (const DatabaseError&) {
    // Only a deferred BEGIN that met a dead connection is retried: then
    // nothing has happened yet.
    if (!(failed_at == kFailedDeferred && opens && broken())) throw;
  }
  connect();
  deferred_ = std::move(deferred);
  return run_pipeline(stmts, tail, failed_at);
}

// Sends the deferred verbs, the statements (each prepared first when this
// connection has not seen it) and tail, all in one pipeline; returns the
// statements' results and then tail's, or throws the first error with its
// position in failed_at.
std::vector<Result> Connection::run_pipeline(const std::vector<const Bound*>& stmts, std::string_view tail,
                                             size_t& failed_at) {
  PGconn* c = conn_.get();
  std::vector<Deferred> deferred = std::move(deferred_);
  deferred_.clear();
  std::string tail_text(tail);
  struct Sent {
    std::string_view sql;
    size_t stmt;    // index into stmts, kFailedDeferred for a deferred statement
    bool keep;      // its result is returned
    bool prepare;   // a Prepare message (its result says whether the name is usable)
    std::string name;
    const std::string* key;
  };
  std::vector<Sent> sent;
  std::unordered_map<std::string, std::string> fresh;  // prepared in this pipeline
  bool ok = PQenterPipelineMode(c) == 1;
  // A bound statement goes prepared (preparing it first when this connection
  // has not seen it), or unnamed once the cache is full.
  auto send_bound = [&](const Bound& b, size_t stmt, bool keep) {
    int n = static_cast<int>(b.values.size());
    std::string name;
    if (auto it = prepared_.find(b.key); it != prepared_.end()) {
      name = it->second;
    } else if (auto f = fresh.find(b.key); f != fresh.end()) {
      name = f->second;
    } else if (prepared_.size() + fresh.size() < kMaxCachedStatements) {
      name = "keel_" + std::to_string(++next_statement_);
      std::string text(b.sql);
      ok = ok && PQsendPrepare(c, name.c_str(), text.c_str(), n, b.types.data()) == 1;
      sent.push_back({b.sql, stmt, false, true, name, &b.key});
      fresh.emplace(b.key, name);
    }
    if (name.empty()) {
      std::string text(b.sql);
      ok = ok && PQsendQueryParams(c, text.c_str(), n, b.types.data(), b.values.data(), nullptr, nullptr, 0) == 1;
    } else {
      ok = ok && PQsendQueryPrepared(c, name.c_str(), n, b.values.data(), nullptr, nullptr, 0) == 1;
    }
    sent.push_back({b.sql, stmt, keep, false, {}, nullptr});
  };
  std::vector<Bound> checks;
  checks.reserve(deferred.size());  // send_bound keeps pointers into it
  for (const auto& d : deferred) {
    if (!d.params.empty()) {
      checks.push_back(bind(d.sql, d.params));
      send_bound(checks.back(), kFailedDeferred, false);
      continue;
    }
    ok = ok && PQsendQueryParams(c, d.sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    sent.push_back({d.sql, kFailedDeferred, false, false, {}, nullptr});
  }
  for (size_t i = 0; i < stmts.size(); ++i) send_bound(*stmts[i], i, true);
  if (!tail_text.empty()) {
    ok = ok && PQsendQueryParams(c, tail_text.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    sent.push_back({tail, stmts.size(), true, false, {}, nullptr});
  }
  ok = ok && PQpipelineSync(c) == 1;
  std::vector<Result> results;
  PGresult* error = nullptr;
  size_t error_at = 0;
  for (size_t i = 0; ok && i < sent.size(); ++i) {
    PGresult* r = PQgetResult(c);
    if (!r) {
      ok = false;
      break;
    }
    auto st = PQresultStatus(r);
    bool good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!good && !error && st != PGRES_PIPELINE_ABORTED) {
      error = r;
      error_at = i;
    } else if (good && sent[i].keep) {
      results.emplace_back(r);
    } else {
      if (good && sent[i].prepare) prepared_.emplace(*sent[i].key, sent[i].name);
      PQclear(r);
    }
    while (PGresult* extra = PQgetResult(c)) PQclear(extra);  // the NULL that ends each command's results
  }
  if (ok) PQclear(PQgetResult(c));  // PGRES_PIPELINE_SYNC
  PQexitPipelineMode(c);
  if (!ok && !error) {
    failed_at = kFailedDeferred;
    deferred_failed_ = true;
    fail(nullptr, sent.empty() ? std::string_view("pipeline") : sent.front().sql);
  }
  if (error) {
    failed_at = sent[error_at].stmt;
    if (failed_at == kFailedDeferred) {
      deferred_failed_ = true;
      const char* state = PQresultErrorField(error, PG_DIAG_SQLSTATE);
      deferred_refused_ = state && kRefusedState == state;
    }
    fail(error, sent[error_at].sql);
  }
  return results;
}

void Connection::exec_script(std::string_view sql) {
  if (!conn_) throw DatabaseUnavailableError("PostgreSQL connection is closed");
  if (!deferred_.empty()) {  // the deferred BEGIN first
    size_t failed_at = 0;
    run({}, "", failed_at);
  }
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
