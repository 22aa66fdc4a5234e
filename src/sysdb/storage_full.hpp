// Which database errors mean "the filesystem is full" (keel::StorageFullError).
// Pure functions of the codes, so that both backends' classification is unit
// tested without filling a disk (tests/unit/storage_full_test.cpp).
//
// SQLite reports ENOSPC on a write as SQLITE_FULL itself, but other paths
// (growing the WAL index, truncating, syncing) report an SQLITE_IOERR_*
// extended code whose cause is only in the OS errno (sqlite3_system_errno):
// ENOSPC there is the same condition. EDQUOT (a quota) is too: freeing space
// ends it alike. PostgreSQL maps ENOSPC on every file write to SQLSTATE 53100
// (disk_full); the rest of class 53 (53000 insufficient_resources, 53200
// out_of_memory, 53300 too_many_connections, 53400 configuration_limit_exceeded)
// is not about space and stays a plain DatabaseError.
#pragma once

#include <sqlite3.h>

#include <cerrno>
#include <string_view>

namespace keel::sysdb {

// extended_rc: the (extended) result code; system_errno: sqlite3_system_errno.
inline bool sqlite_storage_full(int extended_rc, int system_errno) {
  const int primary = extended_rc & 0xff;
  if (primary == SQLITE_FULL) return true;
  return primary == SQLITE_IOERR && (system_errno == ENOSPC || system_errno == EDQUOT);
}

inline bool postgres_storage_full(std::string_view sqlstate) { return sqlstate == "53100"; }

// The words every StorageFullError's message starts with, so that a log line
// or an HTTP body names the condition and not only the driver's text.
inline constexpr std::string_view kStorageFullPrefix = "storage full (no space left for the database): ";

}  // namespace keel::sysdb
