// Test support for debouncing (keel/debounce.hpp): the workflow "debounced"
// records each of its runs in the application table debounce_runs, in a
// transaction of its own (one row per run, exactly once per workflow), and
// readers of that table and of the stored bursts.
#pragma once

#include <string>
#include <vector>

#include "keel/keel.hpp"
#include "support/test_databases.hpp"

namespace keel::testing {

struct DebounceRun {
  std::string workflow_id;
  std::string key;
  int64_t value = 0;
};

inline void create_run_table(Runtime& rt) {
  rt.run_sql_write([](Sql& sql) {
    sql.execute(
        "CREATE TABLE IF NOT EXISTS debounce_runs (workflow_id TEXT NOT NULL, debounce_key TEXT NOT NULL, "
        "value BIGINT NOT NULL)");
  });
}

inline Workflow<int64_t, std::string, int64_t> register_debounced(Runtime& rt) {
  return rt.register_workflow("debounced", [](Context& ctx, std::string key, int64_t value) {
    const std::string id = ctx.workflow_id();
    ctx.transaction("record", [&, id](Sql& sql) {
      sql.execute("INSERT INTO debounce_runs (workflow_id, debounce_key, value) VALUES ($1, $2, $3)",
                  {id, key, value});
    });
    return value;
  });
}

inline std::vector<DebounceRun> debounce_runs(Runtime& rt) {
  std::vector<DebounceRun> out;
  rt.run_sql_read([&](Sql& sql) {
    for (const auto& r :
         sql.query("SELECT workflow_id, debounce_key, value FROM debounce_runs ORDER BY debounce_key, value"))
      out.push_back(DebounceRun{std::get<std::string>(r.at(0)), std::get<std::string>(r.at(1)),
                                std::get<int64_t>(r.at(2))});
  });
  return out;
}

inline std::vector<DebounceRun> runs_of(Runtime& rt, const std::string& key) {
  std::vector<DebounceRun> out;
  for (auto& r : debounce_runs(rt))
    if (r.key == key) out.push_back(r);
  return out;
}

// How many bursts are stored (not fired yet).
inline int64_t stored_bursts(Runtime& rt) {
  int64_t n = 0;
  const std::string table = testing_on_postgres() ? "keel.debounces" : "keel_debounces";
  rt.run_sql_read([&](Sql& sql) { n = std::get<int64_t>(sql.query("SELECT count(*) FROM " + table).at(0).at(0)); });
  return n;
}

}  // namespace keel::testing
