/// @file
/// keel/errors.hpp — the exception vocabulary of Keel.
///
/// Contract:
///  * Every error Keel raises derives from keel::Error (itself a
///    std::runtime_error), so `catch (const keel::Error&)` catches them all.
///  * Each class names one problem; the message says which workflow, step,
///    file or value is concerned.
///  * Errors thrown by user code inside a step or transaction are recorded in
///    the system database as (type name, message) and rethrown identically on
///    first execution and on replay: as the original C++ type when that type
///    was registered with keel::register_error_type<T>(), otherwise as
///    keel::RecordedError. This keeps `catch` branches in workflows
///    deterministic across crashes.
///
/// Thread-safety: register_error_type is safe to call from any thread, but is
/// meant to be called at start-up, before workflows run.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace keel {

/// The base of every error Keel raises (keel/errors.hpp).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Database could not be opened, read or written (I/O error, locked too long,
/// server unreachable). The operation did not take effect, or its effect is
/// unknown and will be resolved by reading back.
class DatabaseError : public Error {
 public:
  using Error::Error;
};

/// A statement broke an integrity constraint (unique, foreign key, check, not
/// null): SQLite's SQLITE_CONSTRAINT, PostgreSQL's SQLSTATE class 23.
class ConstraintError : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

/// The database rolled the transaction back because it conflicted with a
/// concurrent one: PostgreSQL's serialization failure (SQLSTATE 40001) or
/// deadlock (40P01). Nothing of the transaction took effect and running it
/// again may succeed. Inside Context::transaction Keel does that itself
/// (bounded, with backoff) and never records it as the transaction's error.
class TransientDatabaseError : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

/// A write failed because the filesystem holding the database is full:
/// SQLite's SQLITE_FULL (or an I/O error whose cause is ENOSPC or EDQUOT),
/// PostgreSQL's SQLSTATE 53100 (disk_full).
///
/// Contract: nothing of the failed write took effect (its transaction was
/// rolled back); what was committed before is intact. The condition lasts
/// until space is freed: retry later, with a pause, not in a tight loop.
/// Inside a workflow Keel does that itself (the workflow stays PENDING and
/// runs again by replay every second or so until the write succeeds), and a
/// StorageFullError raised in a transaction's body is never recorded as the
/// transaction's outcome. Callers outside a workflow (start, send, ...) see
/// it and may repeat the call (IDs and idempotency keys make that safe).
class StorageFullError : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

/// The database server cannot be reached or cannot take writes now: the
/// connection was refused or lost, the server is shutting down or starting,
/// or it is a standby (PostgreSQL: connect failures, SQLSTATE classes 08 and
/// 57P01-57P03, a read-only server answering a write).
///
/// Contract: the call did not take effect, or its effect is unknown (a lost
/// connection during a commit) and is resolved by reading back; repeating it
/// with the same workflow ID or idempotency key is safe. The condition is the
/// server's, not the call's: retry after a pause. Keel reconnects by itself
/// at the next call. Workflows meeting it stay PENDING and run again later.
class DatabaseUnavailableError : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

/// The file is not a database, is corrupt, or holds a Keel schema newer than
/// this build understands. Nothing was written to it.
class IncompatibleDatabaseError : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

/// A configuration value (database URL, option) is invalid.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A cron expression does not parse, or can never fire (e.g.\ "0 0 30 2 *");
/// the message names the field and the text (keel/schedule.hpp).
class CronSyntaxError : public Error {
 public:
  using Error::Error;
};

/// A time zone name that is neither "UTC" nor a readable zone of the
/// system's tz database (/usr/share/zoneinfo, or $TZDIR) (keel/schedule.hpp).
class UnknownTimeZoneError : public Error {
 public:
  using Error::Error;
};

/// A schedule name that is not declared (Runtime::schedule) in this process
/// nor stored in the system database (pause, resume, trigger).
class UnknownScheduleError : public Error {
 public:
  using Error::Error;
};

/// A workflow ID already exists under a different workflow name.
class WorkflowConflictError : public Error {
 public:
  using Error::Error;
};

/// A workflow name is not registered in this process.
class UnknownWorkflowError : public Error {
 public:
  using Error::Error;
};

/// No workflow exists with the given ID.
class WorkflowNotFoundError : public Error {
 public:
  using Error::Error;
};

/// On replay, the code called a different operation than the one recorded at
/// the same position: the workflow's code changed while it was in flight.
class NonDeterminismError : public Error {
 public:
  using Error::Error;
};

/// The workflow was cancelled (explicitly or because its timeout passed).
class WorkflowCancelledError : public Error {
 public:
  using Error::Error;
};

/// The workflow was recovered more times than allowed and was moved to the
/// MAX_RECOVERY_ATTEMPTS_EXCEEDED (dead-letter) status.
class DeadLetterError : public Error {
 public:
  using Error::Error;
};

/// An enqueue's deduplication ID is already held by an ENQUEUED or PENDING
/// workflow of the same queue. Nothing was written.
class DeduplicatedError : public Error {
 public:
  using Error::Error;
};

/// A queue name is not registered in this process (Runtime::enqueue).
class UnknownQueueError : public Error {
 public:
  using Error::Error;
};

/// A wait outside a workflow (Handle::result_for) ran out of time.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

/// A step failed on every one of its allowed attempts.
class MaxRetriesExceededError : public Error {
 public:
  using Error::Error;
};

/// A value could not be serialized, or a stored value could not be parsed.
class SerializationError : public Error {
 public:
  using Error::Error;
};

/// The runtime is not launched yet, or is shutting down.
class RuntimeStateError : public Error {
 public:
  using Error::Error;
};

/// A misuse of the API (e.g.\ a step called outside a workflow, an empty name).
class UsageError : public Error {
 public:
  using Error::Error;
};

/// An error recorded in the system database whose C++ type is not registered in
/// this process. type_name() is the demangled name of the original type.
class RecordedError : public Error {
 public:
  /// The error recorded as (type_name, message); what() is the message.
  RecordedError(std::string type_name, const std::string& message)
      : Error(message), type_name_(std::move(type_name)) {}
  /// The demangled name of the original C++ type.
  const std::string& type_name() const noexcept { return type_name_; }

 private:
  std::string type_name_;
};

/// @cond
namespace detail {
using ErrorFactory = std::function<void(const std::string& message)>;
void register_error_factory(const std::string& type_name, ErrorFactory factory);
std::string demangle(const char* mangled);
}  // namespace detail
/// @endcond

/// Make recorded errors of type T rethrow as T (constructed from the message).
template <class T>
void register_error_type() {
  static_assert(std::is_constructible_v<T, std::string>,
                "register_error_type<T>: T must be constructible from std::string");
  detail::register_error_factory(detail::demangle(typeid(T).name()),
                                 [](const std::string& msg) { throw T(msg); });
}

/// Throw the exception recorded as (type_name, message): the registered type
/// if any, else RecordedError. Never returns.
[[noreturn]] void throw_recorded_error(const std::string& type_name, const std::string& message);

}  // namespace keel
