// SQLite backend: schedules (keel_schedules; docs/schedules.md). Every write
// runs under the single writer lock, so racing executors serialise.
#include "common/clock.hpp"
#include "sysdb/sqlite/sqlite_system_database.hpp"

namespace keel::sysdb::sqlite {

void SqliteSystemDatabase::declare_schedule(const ScheduleRow& row) {
  write([&](Connection& c) {
    c.prepare(
         "INSERT INTO keel_schedules (name, workflow_name, cron, time_zone, policy, paused, last_tick_ms, updated_at) "
         "VALUES ($1, $2, $3, $4, $5, 0, $6, $7) ON CONFLICT (name) DO UPDATE SET "
         "workflow_name = excluded.workflow_name, cron = excluded.cron, time_zone = excluded.time_zone, "
         "policy = excluded.policy, updated_at = excluded.updated_at",
         {row.name, row.workflow_name, row.cron, row.time_zone, row.policy, row.last_tick_ms, detail::now_ms()})
        .step();
  });
}

std::vector<ScheduleRow> SqliteSystemDatabase::list_schedules() {
  std::vector<ScheduleRow> rows;
  read([&](Connection& c) {
    auto st = c.prepare(
        "SELECT name, workflow_name, cron, time_zone, policy, paused, last_tick_ms FROM keel_schedules ORDER BY name");
    while (st.step())
      rows.push_back(ScheduleRow{st.column_text(0), st.column_text(1), st.column_text(2), st.column_text(3),
                                 st.column_text(4), st.column_int(5) != 0, st.column_int(6)});
  });
  return rows;
}

void SqliteSystemDatabase::advance_schedule(const std::string& name, int64_t tick_ms) {
  write([&](Connection& c) {
    c.prepare("UPDATE keel_schedules SET last_tick_ms = $2, updated_at = $3 WHERE name = $1 AND last_tick_ms < $2",
              {name, tick_ms, detail::now_ms()})
        .step();
  });
}

bool SqliteSystemDatabase::set_schedule_paused(const std::string& name, bool paused, int64_t now_ms) {
  bool found = false;
  write([&](Connection& c) {
    c.prepare(
         "UPDATE keel_schedules SET last_tick_ms = CASE WHEN paused = 1 AND $2 = 0 THEN max(last_tick_ms, $3) "
         "ELSE last_tick_ms END, paused = $2, updated_at = $3 WHERE name = $1",
         {name, int64_t{paused ? 1 : 0}, now_ms})
        .step();
    found = c.changes() == 1;
  });
  return found;
}

bool SqliteSystemDatabase::delete_schedule(const std::string& name) {
  bool found = false;
  write([&](Connection& c) {
    c.prepare("DELETE FROM keel_schedules WHERE name = $1", {name}).step();
    found = c.changes() == 1;
  });
  return found;
}

}  // namespace keel::sysdb::sqlite
