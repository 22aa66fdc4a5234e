// A terminal workflow's outcome as a waiter sees it (runtime/waits.cpp, and
// the Client): its output, or its recorded error rethrown.
#pragma once

#include "keel/serialization.hpp"
#include "keel/status.hpp"

namespace keel::detail {

// SUCCESS: the output. ERROR: rethrows the recorded error; CANCELLED:
// WorkflowCancelledError; MAX_RECOVERY_ATTEMPTS_EXCEEDED: DeadLetterError.
// Not terminal: UsageError.
Json result_of(const WorkflowInfo& info);

}  // namespace keel::detail
