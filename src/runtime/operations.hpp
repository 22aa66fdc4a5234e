// Helpers shared by the Context's operations: decoding recorded outcomes and
// writing checkpoints with retries on transient database failures.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "keel/serialization.hpp"
#include "runtime/execution.hpp"

namespace keel::detail {

// The recorded output of op, or its recorded error rethrown.
Json replay_output(const Execution& ex, const sysdb::OperationRecord& op);
// For operations that record "[value]" or "[]" (recv, get_event).
std::optional<Json> replay_optional(const Execution& ex, const sysdb::OperationRecord& op);
RecordedErrorInfo describe_exception(const std::exception& e);

// Runs a checkpoint write, retrying DatabaseError with backoff; when the
// database stays unavailable, stops the execution (it stays PENDING and is
// recovered later) by throwing ExecutionInterrupted.
template <class F>
auto with_db_retry(Execution& ex, F&& write) -> decltype(write());
void backoff_or_interrupt(Execution& ex, int attempt, const std::exception& e);

template <class F>
auto with_db_retry(Execution& ex, F&& write) -> decltype(write()) {
  for (int attempt = 1;; ++attempt) {
    try {
      return write();
    } catch (const WorkflowNotFoundError&) {
      throw;
    } catch (const DatabaseError& e) {
      backoff_or_interrupt(ex, attempt, e);
    }
  }
}

}  // namespace keel::detail
