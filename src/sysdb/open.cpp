#include <string>

#include "keel/errors.hpp"
#include "sysdb/postgres/postgres_system_database.hpp"
#include "sysdb/sqlite/sqlite_system_database.hpp"
#include "sysdb/system_database.hpp"

namespace keel::sysdb {

std::unique_ptr<SystemDatabase> open_system_database(const RuntimeConfig& config) {
  const std::string& url = config.database_url;
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.rfind(kSqlite, 0) == 0) {
    std::string path = url.substr(kSqlite.size());
    if (path.rfind("//", 0) == 0) path = path.substr(2);  // sqlite://PATH is accepted too
    if (path.empty()) throw ConfigError("database URL '" + url + "' names no file (expected sqlite:PATH)");
    return std::make_unique<sqlite::SqliteSystemDatabase>(path, config);
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return std::make_unique<postgres::PostgresSystemDatabase>(url, config);
  throw ConfigError("database URL '" + url +
                    "' has an unknown scheme (expected sqlite:PATH or postgresql://USER@HOST:PORT/DB)");
}

}  // namespace keel::sysdb
