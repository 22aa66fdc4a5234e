// Reads an application's database from outside, for checks a service's API
// does not offer (e.g. every payment session): one read-only query, every
// value as text. Works on sqlite:PATH and postgresql:// URLs (the latter
// needs libpq: KEEL_TESTS_HAVE_LIBPQ). Throws std::runtime_error on failure.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(KEEL_TESTS_HAVE_LIBPQ)
#include <libpq-fe.h>
#endif

namespace keel::testing {

using SqlRows = std::vector<std::vector<std::string>>;

namespace detail {

inline SqlRows sqlite_rows(const std::string& path, const std::string& sql) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  if (rc != SQLITE_OK) throw std::runtime_error("cannot open " + path);
  sqlite3_busy_timeout(db.get(), 5000);
  sqlite3_stmt* st_raw = nullptr;
  if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &st_raw, nullptr) != SQLITE_OK)
    throw std::runtime_error(sql + ": " + sqlite3_errmsg(db.get()));
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> st(st_raw, &sqlite3_finalize);
  SqlRows rows;
  int step = 0;
  while ((step = sqlite3_step(st.get())) == SQLITE_ROW) {
    auto& row = rows.emplace_back();
    for (int i = 0; i < sqlite3_column_count(st.get()); ++i) {
      const unsigned char* text = sqlite3_column_text(st.get(), i);
      row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
  }
  if (step != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db.get()));
  return rows;
}

inline SqlRows postgres_rows(const std::string& url, const std::string& sql) {
#if defined(KEEL_TESTS_HAVE_LIBPQ)
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK)
    throw std::runtime_error("cannot connect to " + url + ": " + PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), sql.c_str()), &PQclear);
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK)
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(res.get()));
  SqlRows rows;
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    auto& row = rows.emplace_back();
    for (int c = 0; c < PQnfields(res.get()); ++c) row.emplace_back(PQgetvalue(res.get(), r, c));
  }
  return rows;
#else
  (void)sql;
  throw std::runtime_error("cannot read " + url + ": this test binary has no libpq");
#endif
}

}  // namespace detail

inline SqlRows query_rows(const std::string& url, const std::string& sql) {
  if (url.rfind("sqlite:", 0) == 0) return detail::sqlite_rows(url.substr(7), sql);
  return detail::postgres_rows(url, sql);
}

}  // namespace keel::testing
