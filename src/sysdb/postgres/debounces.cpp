// PostgreSQL backend: debouncing (keel.debounces; keel/debounce.hpp,
// docs/debounce.md).
//
// Concurrency, under READ COMMITTED: a call is one INSERT ... ON CONFLICT
// DO UPDATE, atomic against every other call and fire of the key. A fire is
// DELETE ... WHERE key, target and fire_at <= now, then the workflow's
// INSERT, in one transaction: two executors firing the same row serialise
// on its lock, and the second re-checks the WHERE on the latest version (the
// row is gone: it fires nothing). A call that updated the row first moved
// fire_at past now: the fire finds nothing due. A call waiting on a fire's
// lock finds no conflicting row once the fire committed and begins a new
// burst.
#include "keel/errors.hpp"
#include "sysdb/postgres/postgres_system_database.hpp"
#include "sysdb/queue_sql.hpp"

namespace keel::sysdb::postgres {

namespace {

SqlValue text_or_null(const std::string& s) { return s.empty() ? SqlValue(nullptr) : SqlValue(s); }

}  // namespace

std::string PostgresSystemDatabase::debounce(const DebounceCall& call) {
  std::string target;
  std::string other;
  write([&](Connection& c) {
    target.clear();
    other.clear();
    const int64_t fire_at = call.now_ms + call.window_ms;
    SqlValue deadline = nullptr;
    if (call.max_wait_ms) deadline = call.now_ms + *call.max_wait_ms;
    Result r = c.exec(
        "INSERT INTO keel.debounces AS d (debounce_key, workflow_name, workflow_id, inputs, queue_name, "
        "first_call_ms, fire_at_ms, deadline_ms, calls, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::bigint, $8::bigint, 1, $6::bigint) "
        "ON CONFLICT (debounce_key) DO UPDATE SET inputs = excluded.inputs, "
        "fire_at_ms = CASE WHEN d.deadline_ms IS NULL THEN excluded.fire_at_ms "
        "ELSE LEAST(excluded.fire_at_ms, d.deadline_ms) END, "
        "calls = d.calls + 1, updated_at = excluded.updated_at "
        "WHERE d.workflow_name = excluded.workflow_name RETURNING workflow_id",
        {call.key, call.workflow_name, call.workflow_id, call.inputs, text_or_null(call.queue_name), call.now_ms,
         fire_at, deadline});
    if (r.rows() > 0) {
      target = r.text(0, 0);
      return;
    }
    Result sel = c.exec("SELECT workflow_name FROM keel.debounces WHERE debounce_key = $1", {call.key});
    if (sel.rows() > 0) other = sel.text(0, 0);
  });
  if (target.empty())
    throw WorkflowConflictError("debounce key '" + call.key + "' has a burst of workflow '" + other + "', not '" +
                                call.workflow_name + "'");
  return target;
}

std::vector<DebounceRow> PostgresSystemDatabase::next_debounces(const std::vector<std::string>& workflow_names,
                                                                int limit) {
  std::vector<DebounceRow> rows;
  if (workflow_names.empty()) return rows;
  read_one([&](Connection& c) {
    rows.clear();
    std::vector<SqlValue> params{int64_t{limit}};
    for (const auto& n : workflow_names) params.emplace_back(n);
    Result r = c.exec(
        "SELECT debounce_key, workflow_name, workflow_id, queue_name, first_call_ms, fire_at_ms, calls "
        "FROM keel.debounces WHERE workflow_name IN (" +
            placeholders(2, workflow_names.size()) +
            ") ORDER BY fire_at_ms, debounce_key COLLATE \"C\" LIMIT $1::bigint",
        params);
    for (int i = 0; i < r.rows(); ++i)
      rows.push_back(DebounceRow{r.text(i, 0), r.text(i, 1), r.text(i, 2), r.opt_text(i, 3).value_or(""),
                                 r.integer(i, 4), r.integer(i, 5), r.integer(i, 6)});
  });
  return rows;
}

FiredDebounce PostgresSystemDatabase::fire_debounce(const std::string& key, const std::string& workflow_id,
                                                    const std::string& executor_id, const std::string& version,
                                                    int64_t now_ms) {
  FiredDebounce fired;
  write([&](Connection& c) {
    fired = FiredDebounce{};
    Result del = c.exec(
        "DELETE FROM keel.debounces WHERE debounce_key = $1 AND workflow_id = $2 AND fire_at_ms <= $3::bigint "
        "RETURNING workflow_name, inputs, queue_name",
        {key, workflow_id, now_ms});
    if (del.rows() == 0) return;  // fired by another executor, or the burst went on
    fired.fired = true;
    const std::string name = del.text(0, 0);
    const std::string inputs = del.text(0, 1);
    fired.queue_name = del.opt_text(0, 2).value_or("");
    Result ins = fired.queue_name.empty()
                     ? c.exec("INSERT INTO keel.workflow_status (workflow_id, name, status, inputs, executor_id, "
                              "application_version, created_at, updated_at) VALUES ($1, $2, 'PENDING', $3, $4, $5, "
                              "$6::bigint, $6::bigint) ON CONFLICT (workflow_id) DO NOTHING RETURNING " +
                                  std::string(workflow_columns()),
                              {workflow_id, name, inputs, executor_id, version, now_ms})
                     : c.exec("INSERT INTO keel.workflow_status (workflow_id, name, status, inputs, executor_id, "
                              "application_version, queue_name, priority, created_at, updated_at) VALUES ($1, $2, "
                              "'ENQUEUED', $3, $4, $5, $6, 0, $7::bigint, $7::bigint) ON CONFLICT (workflow_id) DO "
                              "NOTHING RETURNING " +
                                  std::string(workflow_columns()),
                              {workflow_id, name, inputs, executor_id, version, fired.queue_name, now_ms});
    if (ins.rows() > 0) {
      fired.created = true;
      fired.info = read_workflow_row(ins, 0);
    }
  });
  return fired;
}

bool PostgresSystemDatabase::debounce_targets(const std::string& workflow_id) {
  bool found = false;
  read_one([&](Connection& c) {
    found = c.exec("SELECT 1 FROM keel.debounces WHERE workflow_id = $1 LIMIT 1", {workflow_id}).rows() > 0;
  });
  return found;
}

}  // namespace keel::sysdb::postgres
