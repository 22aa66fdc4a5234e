// The schedules stored in a system database, as the management calls see
// them (Runtime's and Client's list/pause/resume/delete_schedule): shared so
// that a process that runs no scheduler (a Client, the CLI) manages them
// exactly as a Runtime does. Thread-safe as the database is.
#pragma once

#include <string>
#include <vector>

#include "keel/schedule.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

// Every stored schedule, by name, with its next tick after max(last, now).
[[nodiscard]] std::vector<ScheduleInfo> list_stored_schedules(sysdb::SystemDatabase& db);
// Throw UnknownScheduleError when no schedule has this name.
void set_stored_schedule_paused(sysdb::SystemDatabase& db, const std::string& name, bool paused);
void delete_stored_schedule(sysdb::SystemDatabase& db, const std::string& name);
[[nodiscard]] sysdb::ScheduleRow stored_schedule(sysdb::SystemDatabase& db, const std::string& name);

}  // namespace keel::detail
