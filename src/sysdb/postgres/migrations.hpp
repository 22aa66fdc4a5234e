// The numbered schema migrations of the PostgreSQL system database (schema
// "keel"). Each runs once, in order, in the same transaction as the version
// bump, under a transaction-scoped advisory lock so that concurrent migrators
// (several processes launching at once) apply each migration once.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace keel::sysdb::postgres {

// migrations()[i] brings the schema from version i to version i + 1.
const std::vector<std::string_view>& migrations();

// The advisory lock key taken by migrate().
constexpr int64_t kMigrationLockKey = 0x6b65656c;  // "keel"

}  // namespace keel::sysdb::postgres
