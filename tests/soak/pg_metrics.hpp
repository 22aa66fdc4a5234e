// The database side of the soak (tests/soak): what each database holds and
// how many connections it has, read from outside with one short connection
// per query (support/sql_probe.hpp). These figures are continuous across
// the kills of the services, unlike a process's own. Header-only.
#pragma once

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

}  // namespace keel::soak
