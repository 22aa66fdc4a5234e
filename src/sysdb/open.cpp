#include <string>

#include "common/database_url.hpp"
#include "sysdb/postgres/postgres_system_database.hpp"
#include "sysdb/sqlite/sqlite_system_database.hpp"
#include "sysdb/system_database.hpp"

namespace keel::sysdb {

std::unique_ptr<SystemDatabase> open_system_database(const RuntimeConfig& config) {
  validate(config);  // the backends rely on it (e.g. postgres_writer_connections >= 1)
  detail::DatabaseUrl url = detail::parse_database_url(config.database_url);
  if (url.backend == detail::DatabaseUrl::Backend::Sqlite)
    return std::make_unique<sqlite::SqliteSystemDatabase>(url.target, config);
  return std::make_unique<postgres::PostgresSystemDatabase>(url.target, config);
}

}  // namespace keel::sysdb
