#include "schedule/stored_schedules.hpp"

#include <algorithm>
#include <chrono>

#include "common/clock.hpp"
#include "keel/errors.hpp"

namespace keel::detail {

namespace {

using namespace std::chrono;

int64_t to_ms(SysSeconds t) { return duration_cast<milliseconds>(t.time_since_epoch()).count(); }
SysSeconds to_seconds(int64_t ms) { return floor<seconds>(SysSeconds(seconds(0)) + milliseconds(ms)); }

std::optional<int64_t> next_tick(const std::string& cron, const std::string& zone, int64_t after_ms) {
  try {
    return to_ms(CronSchedule(CronExpression::parse(cron), TimeZone::locate(zone)).next_after(to_seconds(after_ms)));
  } catch (const Error&) {
    return std::nullopt;  // declared by a process whose tz database knows the zone
  }
}

[[noreturn]] void unknown(const std::string& name) {
  throw UnknownScheduleError("no schedule named '" + name + "' is stored in the system database");
}

}  // namespace

std::vector<ScheduleInfo> list_stored_schedules(sysdb::SystemDatabase& db) {
  std::vector<ScheduleInfo> out;
  const int64_t now = now_ms();
  for (const auto& row : db.list_schedules()) {
    ScheduleInfo info{row.name, row.workflow_name, row.cron, row.time_zone, MissedTicks::Skip, row.paused,
                      row.last_tick_ms, next_tick(row.cron, row.time_zone, std::max(row.last_tick_ms, now))};
    try {
      info.missed = missed_ticks_from_string(row.policy);
    } catch (const UsageError&) {
      // a policy of a later Keel version: shown as skip
    }
    out.push_back(std::move(info));
  }
  return out;
}

void set_stored_schedule_paused(sysdb::SystemDatabase& db, const std::string& name, bool paused) {
  if (!db.set_schedule_paused(name, paused, now_ms())) unknown(name);
}

void delete_stored_schedule(sysdb::SystemDatabase& db, const std::string& name) {
  if (!db.delete_schedule(name)) unknown(name);
}

sysdb::ScheduleRow stored_schedule(sysdb::SystemDatabase& db, const std::string& name) {
  for (auto& row : db.list_schedules())
    if (row.name == name) return row;
  unknown(name);
}

}  // namespace keel::detail
