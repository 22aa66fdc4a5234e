// PostgreSQL backend: schedules (keel.schedules; docs/schedules.md). Racing
// executors each write whole rows under the row lock; advance never moves
// a last tick back.
#include "common/clock.hpp"
#include "sysdb/postgres/postgres_system_database.hpp"

namespace keel::sysdb::postgres {

void PostgresSystemDatabase::declare_schedule(const ScheduleRow& row) {
  write([&](Connection& c) {
    c.exec(
        "INSERT INTO keel.schedules (name, workflow_name, cron, time_zone, policy, paused, last_tick_ms, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, false, $6, $7) ON CONFLICT (name) DO UPDATE SET "
        "workflow_name = excluded.workflow_name, cron = excluded.cron, time_zone = excluded.time_zone, "
        "policy = excluded.policy, updated_at = excluded.updated_at",
        {row.name, row.workflow_name, row.cron, row.time_zone, row.policy, row.last_tick_ms, detail::now_ms()});
  });
}

std::vector<ScheduleRow> PostgresSystemDatabase::list_schedules() {
  std::vector<ScheduleRow> rows;
  read([&](Connection& c) {
    rows.clear();
    Result r = c.exec(
        "SELECT name, workflow_name, cron, time_zone, policy, paused::int, last_tick_ms FROM keel.schedules "
        "ORDER BY name COLLATE \"C\"");
    for (int i = 0; i < r.rows(); ++i)
      rows.push_back(ScheduleRow{r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4),
                                 r.integer(i, 5) != 0, r.integer(i, 6)});
  });
  return rows;
}

void PostgresSystemDatabase::advance_schedule(const std::string& name, int64_t tick_ms) {
  write([&](Connection& c) {
    c.exec("UPDATE keel.schedules SET last_tick_ms = $2, updated_at = $3 WHERE name = $1 AND last_tick_ms < $2",
           {name, tick_ms, detail::now_ms()});
  });
}

bool PostgresSystemDatabase::set_schedule_paused(const std::string& name, bool paused, int64_t now_ms) {
  bool found = false;
  write([&](Connection& c) {
    Result r = c.exec(
        "UPDATE keel.schedules SET last_tick_ms = CASE WHEN paused AND NOT $2::boolean "
        "THEN GREATEST(last_tick_ms, $3) ELSE last_tick_ms END, paused = $2::boolean, updated_at = $3 "
        "WHERE name = $1",
        {name, std::string(paused ? "true" : "false"), now_ms});
    found = r.changed() == 1;
  });
  return found;
}

bool PostgresSystemDatabase::delete_schedule(const std::string& name) {
  bool found = false;
  write([&](Connection& c) { found = c.exec("DELETE FROM keel.schedules WHERE name = $1", {name}).changed() == 1; });
  return found;
}

}  // namespace keel::sysdb::postgres
