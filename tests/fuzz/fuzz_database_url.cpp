// Database URLs (RuntimeConfig::database_url, the apps' --db):
// detail::parse_database_url and the config check around it. Documented
// failure: ConfigError. A SQLite path must read back from "sqlite://PATH";
// a PostgreSQL URL is passed on whole (libpq parses the rest).
#include "common/database_url.hpp"
#include "fuzz_support.hpp"
#include "keel/config.hpp"
#include "keel/errors.hpp"

using keel::detail::DatabaseUrl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string url(keel::fuzz::text(data, size));
  DatabaseUrl parsed;
  // The message names the URL (up to a NUL byte, which what() cannot show).
  auto names_it = [&](const keel::ConfigError& e) {
    FUZZ_CHECK(std::string_view(e.what()).find(url.substr(0, url.find('\0'))) != std::string_view::npos);
  };
  if (!keel::fuzz::only<keel::ConfigError>([&] { parsed = keel::detail::parse_database_url(url); }, names_it)) return 0;
  if (parsed.backend == DatabaseUrl::Backend::Sqlite) {
    FUZZ_CHECK(!parsed.target.empty());
    FUZZ_CHECK(keel::detail::parse_database_url("sqlite://" + parsed.target).target == parsed.target);
  } else {
    FUZZ_CHECK(parsed.target == url);
  }
  keel::RuntimeConfig config;
  config.database_url = url;
  keel::fuzz::only<keel::ConfigError>([&] { keel::validate(config); });
  return 0;
}
