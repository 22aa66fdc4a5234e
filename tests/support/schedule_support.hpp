// Test support for schedules (keel/schedule.hpp): a tick workflow that
// records its tick in an application table in the same transaction as its
// checkpoint (exactly once), and readers of what the ticks did.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "keel/keel.hpp"

namespace keel::testing {

inline void create_tick_table(Runtime& rt) {
  rt.run_sql_write([](Sql& sql) {
    sql.execute(
        "CREATE TABLE IF NOT EXISTS sched_ticks (workflow_id TEXT NOT NULL, tick_ms BIGINT NOT NULL, "
        "manual INTEGER NOT NULL)");
  });
}

// "tick": inserts (its ID, the tick, manual) into sched_ticks, once.
inline Workflow<int64_t, ScheduledTick> register_tick_workflow(Runtime& rt) {
  return rt.register_workflow("tick", [](Context& ctx, ScheduledTick t) {
    const std::string id = ctx.workflow_id();
    ctx.transaction("record", [&, id](Sql& sql) {
      sql.execute("INSERT INTO sched_ticks (workflow_id, tick_ms, manual) VALUES ($1, $2, $3)",
                  {id, t.tick_epoch_ms, int64_t{t.manual ? 1 : 0}});
    });
    return t.tick_epoch_ms;
  });
}

// How many rows each scheduled (not manual) tick left in sched_ticks.
inline std::map<int64_t, int> tick_rows(Runtime& rt) {
  std::map<int64_t, int> rows;
  rt.run_sql_read([&](Sql& sql) {
    for (const auto& r : sql.query("SELECT tick_ms FROM sched_ticks WHERE manual = 0"))
      ++rows[std::get<int64_t>(r.at(0))];
  });
  return rows;
}

// The workflows of a schedule's ticks (manual runs left out), by status.
inline std::map<std::string, WorkflowStatus> tick_workflows(Runtime& rt, const std::string& schedule) {
  ListWorkflowsQuery q;
  q.id_prefix = "sched:" + schedule + ":";
  q.limit = kMaxListLimit;
  std::map<std::string, WorkflowStatus> out;
  for (const auto& w : rt.list_workflows(q))
    if (w.id.find(":manual:") == std::string::npos) out[w.id] = w.status;
  return out;
}

// The ticks of `cron` (UTC) in [first, last], epoch ms.
inline std::vector<int64_t> ticks_between(const std::string& cron, int64_t first_ms, int64_t last_ms) {
  CronSchedule s(CronExpression::parse(cron), TimeZone());
  std::vector<int64_t> out;
  auto t = std::chrono::floor<std::chrono::seconds>(SysSeconds{} + std::chrono::milliseconds(first_ms - 1));
  for (;;) {
    t = s.next_after(t);
    int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    if (ms > last_ms) return out;
    out.push_back(ms);
  }
}

}  // namespace keel::testing
