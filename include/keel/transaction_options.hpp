/// @file
/// keel/transaction_options.hpp — how Context::transaction runs its body.
///
/// Contract:
///  * isolation unset (the default): the backend's default level — READ
///    COMMITTED on PostgreSQL, where the body shares its commit with other
///    concurrent checkpoints (group commit).
///  * isolation set: on PostgreSQL the body runs in a database transaction of
///    its own at that level (BEGIN ISOLATION LEVEL ...), committed alone. On
///    SQLite every write transaction already runs serializably (one writer at
///    a time), so every level is met as it is.
///  * Whatever the level, a serialization failure or a deadlock
///    (keel::TransientDatabaseError) rolls the body's writes back and runs the
///    body again, with backoff. It is never recorded as the transaction's
///    outcome: when the conflicts outlast the retries (about 1.5 s), the
///    workflow stops where it is, stays PENDING, and runs the transaction again
///    by replay a moment later. Any other exception is recorded and rethrown.
///
/// Thread-safety: a value type.
#pragma once

#include <optional>

namespace keel {

/// The SQL isolation level a transaction body runs at (keel/transaction_options.hpp).
enum class IsolationLevel {
  ReadCommitted,   ///< READ COMMITTED
  RepeatableRead,  ///< REPEATABLE READ
  Serializable     ///< SERIALIZABLE
};

/// How Context::transaction runs its body (the contract of keel/transaction_options.hpp).
struct TransactionOptions {
  std::optional<IsolationLevel> isolation;  ///< unset: the backend's default level
};

}  // namespace keel
