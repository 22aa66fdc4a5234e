// apps/payments/schema.hpp — the payment service's own tables, which live in
// the same database as Keel's system tables (so that a Keel transaction's
// checkpoint and the service's writes commit together).
//
// Contract: migrate() is idempotent (numbered migrations recorded in
// pay_schema_version), runs in one write transaction, and refuses a database
// whose payments schema is newer than this build (std::runtime_error).
#pragma once

#include "keel/sql.hpp"

namespace keel::payments {

// The number of schema versions this build knows.
int schema_version_count();

// Creates or upgrades the tables; returns the version before migrating.
int migrate_schema(Sql& sql);

}  // namespace keel::payments
