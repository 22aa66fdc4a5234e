// A workflow's events and inbox as the public API shows them (EventInfo,
// MessageInfo), shared by Runtime and Client: one conversion, one check of
// the page size.
#pragma once

#include <string>
#include <vector>

#include "keel/status.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

// The most messages one list_messages call returns.
inline constexpr int kMaxMessagesPerPage = 10000;

std::vector<StepInfo> steps_of(sysdb::SystemDatabase& db, const std::string& id);
std::vector<EventInfo> all_events(sysdb::SystemDatabase& db, const std::string& id);
// Throws UsageError for a limit outside 1..kMaxMessagesPerPage or a negative after_message_id.
std::vector<MessageInfo> messages_of(sysdb::SystemDatabase& db, const std::string& id, int64_t after_message_id,
                                     int limit);

}  // namespace keel::detail
