// SQLite backend: debouncing (keel_debounces; keel/debounce.hpp,
// docs/debounce.md). Every write runs under the single writer lock (BEGIN
// IMMEDIATE), so a call's upsert and a fire of the same key, in this
// process or another one on the file, run one after the other.
#include "keel/errors.hpp"
#include "sysdb/queue_sql.hpp"
#include "sysdb/sqlite/sqlite_system_database.hpp"

namespace keel::sysdb::sqlite {

namespace {

SqlValue text_or_null(const std::string& s) { return s.empty() ? SqlValue(nullptr) : SqlValue(s); }

}  // namespace

std::string SqliteSystemDatabase::debounce(const DebounceCall& call) {
  std::string target;
  std::string other;
  write([&](Connection& c) {
    target.clear();
    other.clear();
    const int64_t fire_at = call.now_ms + call.window_ms;
    SqlValue deadline = nullptr;
    if (call.max_wait_ms) deadline = call.now_ms + *call.max_wait_ms;
    auto st = c.prepare(
        "INSERT INTO keel_debounces (debounce_key, workflow_name, workflow_id, inputs, queue_name, first_call_ms, "
        "fire_at_ms, deadline_ms, calls, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $6) "
        "ON CONFLICT (debounce_key) DO UPDATE SET inputs = excluded.inputs, "
        "fire_at_ms = CASE WHEN keel_debounces.deadline_ms IS NULL THEN excluded.fire_at_ms "
        "ELSE min(excluded.fire_at_ms, keel_debounces.deadline_ms) END, "
        "calls = keel_debounces.calls + 1, updated_at = excluded.updated_at "
        "WHERE keel_debounces.workflow_name = excluded.workflow_name RETURNING workflow_id",
        {call.key, call.workflow_name, call.workflow_id, call.inputs, text_or_null(call.queue_name), call.now_ms,
         fire_at, deadline});
    if (st.step()) {
      target = st.column_text(0);
      return;
    }
    auto sel = c.prepare("SELECT workflow_name FROM keel_debounces WHERE debounce_key = $1", {call.key});
    if (sel.step()) other = sel.column_text(0);
  });
  if (target.empty())
    throw WorkflowConflictError("debounce key '" + call.key + "' has a burst of workflow '" + other + "', not '" +
                                call.workflow_name + "'");
  return target;
}

std::vector<DebounceRow> SqliteSystemDatabase::next_debounces(const std::vector<std::string>& workflow_names,
                                                              int limit) {
  std::vector<DebounceRow> rows;
  if (workflow_names.empty()) return rows;
  read([&](Connection& c) {
    rows.clear();
    std::vector<SqlValue> params{int64_t{limit}};
    for (const auto& n : workflow_names) params.emplace_back(n);
    auto st = c.prepare(
        "SELECT debounce_key, workflow_name, workflow_id, queue_name, first_call_ms, fire_at_ms, calls "
        "FROM keel_debounces WHERE workflow_name IN (" +
            placeholders(2, workflow_names.size()) + ") ORDER BY fire_at_ms, debounce_key LIMIT $1",
        params);
    while (st.step())
      rows.push_back(DebounceRow{st.column_text(0), st.column_text(1), st.column_text(2),
                                 st.column_opt_text(3).value_or(""), st.column_int(4), st.column_int(5),
                                 st.column_int(6)});
  });
  return rows;
}

FiredDebounce SqliteSystemDatabase::fire_debounce(const std::string& key, const std::string& workflow_id,
                                                  const std::string& executor_id, const std::string& version,
                                                  int64_t now_ms) {
  FiredDebounce fired;
  write([&](Connection& c) {
    fired = FiredDebounce{};
    std::string name;
    std::string inputs;
    {
      auto del = c.prepare(
          "DELETE FROM keel_debounces WHERE debounce_key = $1 AND workflow_id = $2 AND fire_at_ms <= $3 "
          "RETURNING workflow_name, inputs, queue_name",
          {key, workflow_id, now_ms});
      if (!del.step()) return;  // fired by another executor, or the burst went on
      name = del.column_text(0);
      inputs = del.column_text(1);
      fired.queue_name = del.column_opt_text(2).value_or("");
      while (del.step()) {
      }
    }
    fired.fired = true;
    if (fired.queue_name.empty()) {
      auto ins = c.prepare(
          "INSERT INTO keel_workflow_status (workflow_id, name, status, inputs, executor_id, application_version, "
          "created_at, updated_at) VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $6) "
          "ON CONFLICT (workflow_id) DO NOTHING RETURNING " +
              std::string(workflow_columns()),
          {workflow_id, name, inputs, executor_id, version, now_ms});
      if (ins.step()) {
        fired.created = true;
        fired.info = read_workflow_row(ins);
      }
      while (ins.step()) {
      }
      return;
    }
    auto ins = c.prepare(
        "INSERT INTO keel_workflow_status (workflow_id, name, status, inputs, executor_id, application_version, "
        "queue_name, priority, created_at, updated_at) VALUES ($1, $2, 'ENQUEUED', $3, $4, $5, $6, 0, $7, $7) "
        "ON CONFLICT (workflow_id) DO NOTHING RETURNING " +
            std::string(workflow_columns()),
        {workflow_id, name, inputs, executor_id, version, fired.queue_name, now_ms});
    if (ins.step()) {
      fired.created = true;
      fired.info = read_workflow_row(ins);
    }
    while (ins.step()) {
    }
  });
  return fired;
}

bool SqliteSystemDatabase::debounce_targets(const std::string& workflow_id) {
  bool found = false;
  read([&](Connection& c) {
    auto st = c.prepare("SELECT 1 FROM keel_debounces WHERE workflow_id = $1 LIMIT 1", {workflow_id});
    found = st.step();
  });
  return found;
}

}  // namespace keel::sysdb::sqlite
