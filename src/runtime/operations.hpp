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

// The record of a timed wait's deadline (recv, get_event): at the position
// before the wait's own record.
inline constexpr std::string_view kDeadline = "keel.deadline";

// The record of a set_event: named kSetEvent, its output [key, value], so
// that a fork can set the events its copied records set. Records written
// before 0.2 have no output.
inline constexpr std::string_view kSetEvent = "keel.set_event";
std::string set_event_output(const std::string& key, const Json& value);
// The (key, value as JSON text) a set_event record set; nullopt for any
// other record, or one without its output.
std::optional<std::pair<std::string, std::string>> event_set_by(const sysdb::OperationRecord& op);

// The record of ctx.continue_as_new: the first record of the run it starts
// (every earlier one is deleted in its commit); its output the new inputs.
inline constexpr std::string_view kContinueAsNew = "keel.continue_as_new";

// The records of ctx.start_child and ctx.enqueue: named after the started
// workflow, their child_workflow_id the child's ID.
std::string start_child_operation_name(const std::string& workflow_name);
std::string enqueue_operation_name(const std::string& workflow_name);
// A child's workflow ID when none is chosen: "<parent id>-<position>".
std::string child_workflow_id(const std::string& parent_id, int function_id);

}  // namespace keel::detail
