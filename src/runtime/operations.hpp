// Helpers shared by the Context's operations: decoding recorded outcomes and
// describing a user's exception for the record.
#pragma once

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

}  // namespace keel::detail
