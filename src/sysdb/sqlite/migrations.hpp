// The numbered schema migrations of the SQLite system database. Each runs
// once, in order, in the same transaction as the version bump.
#pragma once

#include <string_view>
#include <vector>

namespace keel::sysdb::sqlite {

// migrations()[i] brings the schema from version i to version i + 1.
const std::vector<std::string_view>& migrations();

}  // namespace keel::sysdb::sqlite
