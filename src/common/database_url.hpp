// The system database's URL, as RuntimeConfig::database_url and
// ClientConfig::database_url spell it: "sqlite:PATH" (also "sqlite://PATH")
// or "postgresql://..." / "postgres://..." (a libpq URL). Parsed in one place,
// for validate() and for opening the backend.
// Thread-safety: a plain value type.
#pragma once

#include <string>

namespace keel::detail {

struct DatabaseUrl {
  enum class Backend { Sqlite, Postgres };
  Backend backend = Backend::Sqlite;
  std::string target;  // SQLite: the file's path; PostgreSQL: the whole URL
};

// Throws ConfigError naming the URL when its scheme is unknown, it names no
// file or it holds a NUL byte.
DatabaseUrl parse_database_url(const std::string& url);

}  // namespace keel::detail
