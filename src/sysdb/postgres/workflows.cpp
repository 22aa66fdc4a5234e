// PostgreSQL backend: the workflow_status table.
#include <functional>
#include <string>

#include "keel/errors.hpp"
#include "keel/serialization.hpp"
#include "sysdb/postgres/claims.hpp"
#include "sysdb/postgres/postgres_system_database.hpp"
#include "sysdb/postgres/statement.hpp"
#include "sysdb/queue_sql.hpp"
#include "sysdb/workflow_query.hpp"

namespace keel::sysdb {

const WorkflowTable& postgres_workflow_table() {
  // COLLATE "C": byte order, as SQLite compares text.
  static const WorkflowTable table{"keel.workflow_status", " COLLATE \"C\""};
  return table;
}

}  // namespace keel::sysdb

namespace keel::sysdb::postgres {

namespace {

constexpr const char* kWorkflowColumns =
    "workflow_id, name, status, inputs, output, error_type, error_message, executor_id, application_version, "
    "parent_id, recovery_attempts, deadline_epoch_ms, created_at, updated_at, queue_name";

std::string select_workflows(const std::string& tail) {
  return std::string("SELECT ") + kWorkflowColumns + " FROM keel.workflow_status " + tail;
}

SqlValue opt(const std::optional<std::string>& s) {
  if (s) return *s;
  return nullptr;
}

}  // namespace

const char* workflow_columns() { return kWorkflowColumns; }

WorkflowInfo read_workflow_row(const Result& r, int row) {
  WorkflowInfo w;
  w.id = r.text(row, 0);
  w.name = r.text(row, 1);
  w.status = workflow_status_from_string(r.text(row, 2));
  w.inputs = parse_stored_json(r.text(row, 3), "inputs of workflow " + w.id);
  if (auto out = r.opt_text(row, 4)) w.output = parse_stored_json(*out, "output of workflow " + w.id);
  if (!r.null(row, 5)) w.error = RecordedErrorInfo{r.text(row, 5), r.text(row, 6)};
  w.executor_id = r.text(row, 7);
  w.application_version = r.text(row, 8);
  w.parent_id = r.text(row, 9);
  w.recovery_attempts = static_cast<int>(r.integer(row, 10));
  if (!r.null(row, 11)) w.deadline_epoch_ms = r.integer(row, 11);
  w.created_at_ms = r.integer(row, 12);
  w.updated_at_ms = r.integer(row, 13);
  w.queue_name = r.text(row, 14);
  return w;
}

namespace {

// The insert and, when the ID exists, its row in one statement (a duplicate
// start costs one round trip). The main SELECT does not see the CTE's
// insert, only a row committed before the statement began.
Statement insert_or_read(const NewWorkflow& wf) {
  Statement s;
  std::string id = s.bind(wf.id, "text");
  std::string now = s.bind(wf.now_ms, "bigint");
  s << "WITH ins AS (INSERT INTO keel.workflow_status (workflow_id, name, status, inputs, executor_id, "
       "application_version, parent_id, deadline_epoch_ms, created_at, updated_at) VALUES ("
    << id << ", " << s.bind(wf.name, "text") << ", 'PENDING', " << s.bind(wf.inputs, "text") << ", "
    << s.bind(wf.executor_id, "text") << ", " << s.bind(wf.application_version, "text") << ", "
    << s.bind(wf.parent_id.empty() ? SqlValue(nullptr) : SqlValue(wf.parent_id), "text") << ", "
    << s.bind(wf.deadline_epoch_ms ? SqlValue(*wf.deadline_epoch_ms) : SqlValue(nullptr), "bigint") << ", " << now
    << ", " << now << ") ON CONFLICT (workflow_id) DO NOTHING RETURNING 1) SELECT " << kWorkflowColumns
    << ", (SELECT count(*) FROM ins) FROM (VALUES (1)) AS one LEFT JOIN keel.workflow_status ON workflow_id = "
    << id;
  return s;
}

}  // namespace

InsertWorkflowResult PostgresSystemDatabase::insert_workflow(const NewWorkflow& wf, const std::string& parent_id,
                                                             const OperationRecord* parent_op) {
  InsertWorkflowResult result;
  const Statement insert = insert_or_read(wf);
  auto interpret = [&](const Result& r, const std::function<std::optional<WorkflowInfo>()>& reread) {
    result.created = r.integer(0, r.columns() - 1) == 1;  // the count after kWorkflowColumns
    if (result.created) return;
    if (!r.null(0, 0)) {
      result.existing = read_workflow_row(r, 0);
    } else {
      // Inserted by a transaction that committed after this statement's
      // snapshot was taken: read it with a new one.
      result.existing = reread();
    }
  };
  if (!parent_op) {
    Result r = write_statement(insert);
    interpret(r, [&] { return get_workflow(wf.id); });
    return result;
  }
  write([&](Connection& c) {
    result = InsertWorkflowResult{};
    Checkpoint cp = claim(c, parent_id, *parent_op);
    if (cp.existing) {
      result.parent_op_existing = true;
      return;  // the child was started by an earlier execution
    }
    Result r = c.exec(insert.sql(), insert.params());
    interpret(r, [&]() -> std::optional<WorkflowInfo> {
      Result sel = c.exec(select_workflows("WHERE workflow_id = $1"), {wf.id});
      if (sel.rows() == 0) return std::nullopt;
      return read_workflow_row(sel, 0);
    });
  });
  return result;
}

InsertWorkflowResult PostgresSystemDatabase::insert_forked(
    const NewWorkflow& wf, const std::vector<OperationRecord>& ops,
    const std::vector<std::pair<std::string, std::string>>& events) {
  InsertWorkflowResult result;
  const Statement insert = insert_or_read(wf);
  write([&](Connection& c) {
    result = InsertWorkflowResult{};
    Result r = c.exec(insert.sql(), insert.params());
    result.created = r.integer(0, r.columns() - 1) == 1;
    if (!result.created) {
      Result sel = c.exec(select_workflows("WHERE workflow_id = $1"), {wf.id});
      if (sel.rows() > 0) result.existing = read_workflow_row(sel, 0);
      return;
    }
    for (const OperationRecord& op : ops) {
      Statement s = claims::insert(wf.id, op);
      c.exec(s.sql(), s.params());
    }
    for (const auto& [key, value] : events)
      c.exec("INSERT INTO keel.workflow_events (workflow_id, key, value, updated_at) VALUES ($1, $2, $3, $4)",
             {wf.id, key, value, wf.now_ms});
  });
  return result;
}

void bind_final_status(Statement& s, const FinalStatus& end) {
  s << "status = " << s.bind(to_string(end.status), "text") << ", output = " << s.bind(opt(end.output), "text")
    << ", error_type = " << s.bind(end.error ? SqlValue(end.error->type_name) : SqlValue(nullptr), "text")
    << ", error_message = " << s.bind(end.error ? SqlValue(end.error->message) : SqlValue(nullptr), "text")
    << ", updated_at = " << s.bind(end.now_ms, "bigint");
}

FinishResult PostgresSystemDatabase::finish_workflow(const std::string& id, WorkflowStatus status,
                                                     const std::optional<std::string>& output,
                                                     const std::optional<RecordedErrorInfo>& error, int64_t now_ms,
                                                     const std::vector<OperationRecord>& last_ops) {
  const FinalStatus end{status, output, error, now_ms};
  if (!last_ops.empty()) return finish_with_operations(id, last_ops, end);
  Statement s;
  s << "UPDATE keel.workflow_status SET ";
  bind_final_status(s, end);
  s << " WHERE workflow_id = " << s.bind(id) << " AND status = 'PENDING' AND executor_id = " << s.bind(executor_id_);
  return write_statement(s).changed() == 1 ? FinishResult::Finished : FinishResult::NotPending;
}

std::optional<WorkflowInfo> PostgresSystemDatabase::get_workflow(const std::string& id) {
  std::optional<WorkflowInfo> result;
  read_one([&](Connection& c) {
    Result r = c.exec(select_workflows("WHERE workflow_id = $1"), {id});
    if (r.rows() > 0) result = read_workflow_row(r, 0);
  });
  return result;
}

std::vector<WorkflowInfo> PostgresSystemDatabase::get_workflows(const std::vector<std::string>& ids) {
  std::vector<WorkflowInfo> rows;
  if (ids.empty()) return rows;
  const std::vector<SqlValue> params(ids.begin(), ids.end());
  read_one([&](Connection& c) {
    rows.clear();
    Result r = c.exec(select_workflows("WHERE workflow_id IN (" + placeholders(1, ids.size()) + ")"), params);
    for (int i = 0; i < r.rows(); ++i) rows.push_back(read_workflow_row(r, i));
  });
  return rows;
}

WorkflowPage PostgresSystemDatabase::list_workflows(const ListWorkflowsQuery& q) {
  QuerySql page = page_sql(q, postgres_workflow_table(), kWorkflowColumns);
  std::vector<WorkflowInfo> rows;
  std::optional<int64_t> total;
  read_one([&](Connection& c) {
    rows.clear();
    total.reset();
    Result r = c.exec(page.sql, page.params);
    for (int i = 0; i < r.rows(); ++i) rows.push_back(read_workflow_row(r, i));
    if (q.count_total) {
      QuerySql count = count_sql(q, postgres_workflow_table());
      total = c.exec(count.sql, count.params).integer(0, 0);
    }
  });
  WorkflowPage result = make_page(q, std::move(rows));
  result.total = total;
  return result;
}

// Events and the inbox go by their foreign keys (ON DELETE CASCADE), the
// operations by the trigger of migration 6.
std::vector<std::string> PostgresSystemDatabase::delete_finished(const std::vector<std::string>& ids) {
  std::vector<std::string> deleted;
  if (ids.empty()) return deleted;
  std::vector<SqlValue> params(ids.begin(), ids.end());
  std::string sql = "DELETE FROM keel.workflow_status WHERE workflow_id IN (" + placeholders(1, ids.size()) +
                    ") AND status IN (" + terminal_statuses_sql() + ") RETURNING workflow_id";
  Result r = write_statement(sql, params);
  for (int i = 0; i < r.rows(); ++i) deleted.push_back(r.text(i, 0));
  return deleted;
}

std::vector<std::string> PostgresSystemDatabase::list_pending(const std::string& executor_id) {
  std::vector<std::string> ids;
  read_one([&](Connection& c) {
    ids.clear();
    Result r = c.exec(
        "SELECT workflow_id FROM keel.workflow_status WHERE status = 'PENDING' AND executor_id = $1 "
        "ORDER BY created_at",
        {executor_id});
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.text(i, 0));
  });
  return ids;
}

std::map<std::string, int> PostgresSystemDatabase::count_recoveries(const std::vector<std::string>& ids,
                                                                    int64_t now_ms) {
  std::map<std::string, int> attempts;
  if (ids.empty()) return attempts;
  std::vector<SqlValue> params{now_ms};
  params.insert(params.end(), ids.begin(), ids.end());
  Result r = write_statement(
      "UPDATE keel.workflow_status SET recovery_attempts = recovery_attempts + 1, updated_at = $1 "
      "WHERE workflow_id IN (" + placeholders(2, ids.size()) + ") AND status = 'PENDING' "
      "RETURNING workflow_id, recovery_attempts",
      params);
  for (int i = 0; i < r.rows(); ++i) attempts[r.text(i, 0)] = static_cast<int>(r.integer(i, 1));
  return attempts;
}

bool PostgresSystemDatabase::transition(const std::string& id, const std::vector<WorkflowStatus>& from,
                                        WorkflowStatus to, int64_t now_ms, bool reset_recovery,
                                        const std::optional<std::string>& executor_id) {
  bool changed = false;
  write([&](Connection& c) {
    changed = false;
    // The row lock orders this transition after any unit of the workflow in
    // flight in another process (and vice versa).
    Result st = c.exec("SELECT status FROM keel.workflow_status WHERE workflow_id = $1 FOR NO KEY UPDATE", {id});
    if (st.rows() == 0) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
    WorkflowStatus current = workflow_status_from_string(st.text(0, 0));
    bool allowed = false;
    for (auto s : from) allowed = allowed || s == current;
    if (!allowed) return;
    c.exec(
        "UPDATE keel.workflow_status SET status = $2, updated_at = $3, "
        "recovery_attempts = CASE WHEN $4 <> 0 THEN 0 ELSE recovery_attempts END, "
        "executor_id = CASE WHEN $5::text IS NULL THEN executor_id ELSE $5::text END WHERE workflow_id = $1",
        {id, to_string(to), now_ms, static_cast<int64_t>(reset_recovery),
         executor_id ? SqlValue(*executor_id) : SqlValue(nullptr)});
    changed = true;
  });
  return changed;
}

}  // namespace keel::sysdb::postgres
