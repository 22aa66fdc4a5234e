// The database side of the soak (tests/soak): what each database holds and
// how many connections it has, read from outside with one short connection
// per query (support/sql_probe.hpp). These figures are continuous across
// the kills of the services, unlike a process's own. Header-only.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "support/sql_probe.hpp"

namespace keel::soak {

struct DatabaseSample {
  double db_bytes = 0;     // pg_database_size: Keel's tables and the app's own
  double keel_bytes = 0;   // the tables of schema keel, with indexes and TOAST: what retention bounds
  double workflows = 0;    // rows of keel.workflow_status
  double connections = 0;  // backends on this database in pg_stat_activity, the sampler's excluded
};

// nullopt when the server does not answer (then the sample has empty cells).
inline std::optional<DatabaseSample> sample_database(const std::string& url) {
  try {
    auto rows = keel::testing::query_rows(
        url,
        "SELECT pg_database_size(current_database()),"
        " (SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        "   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'keel' AND c.relkind = 'r'),"
        " (SELECT COUNT(*) FROM keel.workflow_status),"
        " (SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid())");
    if (rows.size() != 1 || rows[0].size() != 4) return std::nullopt;
    return DatabaseSample{std::stod(rows[0][0]), std::stod(rows[0][1]), std::stod(rows[0][2]),
                          std::stod(rows[0][3])};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The backends on the database per application_name (Keel names each of a
// process's sessions "keel <executor id>", its LISTEN one "keel_listen
// <executor id>": docs/postgres.md); nullopt when the server does not answer.
inline std::optional<std::map<std::string, double>> connections_by_application(const std::string& url) {
  try {
    std::map<std::string, double> out;
    for (const auto& row : keel::testing::query_rows(
             url, "SELECT application_name, COUNT(*) FROM pg_stat_activity"
                  " WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY application_name"))
      if (row.size() == 2) out[row[0]] = std::stod(row[1]);
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// A process's connections among them: its sessions and its LISTEN one.
inline double connections_of(const std::map<std::string, double>& by_application, const std::string& executor_id) {
  double n = 0;
  for (const char* prefix : {"keel ", "keel_listen "}) {
    auto it = by_application.find(prefix + executor_id);
    if (it != by_application.end()) n += it->second;
  }
  return n;
}

}  // namespace keel::soak
