// SQLite backend: the workflow_status table.
#include <string>

#include "keel/serialization.hpp"
#include "sysdb/sqlite/sqlite_system_database.hpp"
#include "sysdb/queue_sql.hpp"
#include "sysdb/workflow_query.hpp"

namespace keel::sysdb {

const WorkflowTable& sqlite_workflow_table() {
  static const WorkflowTable table{"keel_workflow_status", "", /*steer_rare_statuses=*/true};
  return table;
}

}  // namespace keel::sysdb

namespace keel::sysdb::sqlite {

namespace {

constexpr const char* kWorkflowColumns =
    "workflow_id, name, status, inputs, output, error_type, error_message, executor_id, application_version, "
    "parent_id, recovery_attempts, deadline_epoch_ms, created_at, updated_at, queue_name";

std::string select_workflows(const std::string& tail) {
  return std::string("SELECT ") + kWorkflowColumns + " FROM keel_workflow_status " + tail;
}

SqlValue opt(const std::optional<std::string>& s) {
  if (s) return *s;
  return nullptr;
}

// Inserts wf as PENDING unless its ID exists; else reads what is there.
InsertWorkflowResult insert_pending(Connection& c, const NewWorkflow& wf) {
  InsertWorkflowResult result;
  SqlValue deadline = nullptr;
  if (wf.deadline_epoch_ms) deadline = *wf.deadline_epoch_ms;
  c.prepare(
       "INSERT INTO keel_workflow_status (workflow_id, name, status, inputs, executor_id, application_version, "
       "parent_id, deadline_epoch_ms, created_at, updated_at) VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $7, $8, $8) "
       "ON CONFLICT (workflow_id) DO NOTHING",
       {wf.id, wf.name, wf.inputs, wf.executor_id, wf.application_version,
        wf.parent_id.empty() ? SqlValue(nullptr) : SqlValue(wf.parent_id), deadline, wf.now_ms})
      .step();
  result.created = c.changes() == 1;
  if (!result.created) {
    auto sel = c.prepare(select_workflows("WHERE workflow_id = $1"), {wf.id});
    if (sel.step()) result.existing = read_workflow_row(sel);
  }
  return result;
}

}  // namespace

const char* workflow_columns() { return kWorkflowColumns; }

WorkflowInfo read_workflow_row(const BoundStatement& st) {
  WorkflowInfo w;
  w.id = st.column_text(0);
  w.name = st.column_text(1);
  w.status = workflow_status_from_string(st.column_text(2));
  w.inputs = parse_stored_json(st.column_text(3), "inputs of workflow " + w.id);
  if (auto out = st.column_opt_text(4)) w.output = parse_stored_json(*out, "output of workflow " + w.id);
  if (!st.column_null(5)) w.error = RecordedErrorInfo{st.column_text(5), st.column_text(6)};
  w.executor_id = st.column_text(7);
  w.application_version = st.column_text(8);
  w.parent_id = st.column_text(9);
  w.recovery_attempts = static_cast<int>(st.column_int(10));
  if (!st.column_null(11)) w.deadline_epoch_ms = st.column_int(11);
  w.created_at_ms = st.column_int(12);
  w.updated_at_ms = st.column_int(13);
  w.queue_name = st.column_text(14);
  return w;
}

InsertWorkflowResult SqliteSystemDatabase::insert_workflow(const NewWorkflow& wf, const std::string& parent_id,
                                                           const OperationRecord* parent_op) {
  InsertWorkflowResult result;
  write([&](Connection& c) {
    result = InsertWorkflowResult{};
    if (parent_op) {
      Checkpoint cp = claim(c, parent_id, *parent_op);
      if (cp.existing) {
        result.parent_op_existing = true;
        return;  // the child was started by an earlier execution
      }
    }
    result = insert_pending(c, wf);
  });
  return result;
}

InsertWorkflowResult SqliteSystemDatabase::insert_forked(const NewWorkflow& wf, const std::vector<OperationRecord>& ops,
                                                         const std::vector<std::pair<std::string, std::string>>& events) {
  InsertWorkflowResult result;
  write([&](Connection& c) {
    result = insert_pending(c, wf);
    if (!result.created) return;
    for (const OperationRecord& op : ops) insert_record(c, wf.id, op);
    for (const auto& [key, value] : events)
      c.prepare("INSERT INTO keel_workflow_events (workflow_id, key, value, updated_at) VALUES ($1, $2, $3, $4)",
                {wf.id, key, value, wf.now_ms})
          .step();
  });
  return result;
}

FinishResult SqliteSystemDatabase::finish_workflow(const std::string& id, WorkflowStatus status,
                                                   const std::optional<std::string>& output,
                                                   const std::optional<RecordedErrorInfo>& error, int64_t now_ms,
                                                   const std::vector<OperationRecord>& last_ops) {
  FinishResult result = FinishResult::NotPending;
  write([&](Connection& c) {
    result = FinishResult::NotPending;  // a retried unit starts afresh
    if (!last_ops.empty()) {
      Checkpoint cp = claim_all(c, id, last_ops);
      if (!cp.workflow_active) return;
      if (!cp.taken.empty() || cp.message_consumed) {
        result = FinishResult::PositionTaken;
        return;
      }
    }
    c.prepare(
         "UPDATE keel_workflow_status SET status = $2, output = $3, error_type = $4, error_message = $5, "
         "updated_at = $6 WHERE workflow_id = $1 AND status = 'PENDING' AND executor_id = $7",
         {id, to_string(status), opt(output), error ? SqlValue(error->type_name) : SqlValue(nullptr),
          error ? SqlValue(error->message) : SqlValue(nullptr), now_ms, executor_id_})
        .step();
    // The claim above held the write lock: the status it saw still stands.
    if (c.changes() == 1) result = FinishResult::Finished;
  });
  return result;
}

std::optional<WorkflowInfo> SqliteSystemDatabase::get_workflow(const std::string& id) {
  std::optional<WorkflowInfo> result;
  read([&](Connection& c) {
    auto st = c.prepare(select_workflows("WHERE workflow_id = $1"), {id});
    if (st.step()) result = read_workflow_row(st);
  });
  return result;
}

std::vector<WorkflowInfo> SqliteSystemDatabase::get_workflows(const std::vector<std::string>& ids) {
  std::vector<WorkflowInfo> rows;
  if (ids.empty()) return rows;
  const std::vector<SqlValue> params(ids.begin(), ids.end());
  read([&](Connection& c) {
    rows.clear();
    auto st = c.prepare(select_workflows("WHERE workflow_id IN (" + placeholders(1, ids.size()) + ")"), params);
    while (st.step()) rows.push_back(read_workflow_row(st));
  });
  return rows;
}

WorkflowPage SqliteSystemDatabase::list_workflows(const ListWorkflowsQuery& q) {
  QuerySql page = page_sql(q, sqlite_workflow_table(), kWorkflowColumns);
  std::vector<WorkflowInfo> rows;
  std::optional<int64_t> total;
  read([&](Connection& c) {  // one read transaction: the page and its count agree
    rows.clear();
    auto st = c.prepare(page.sql, page.params);
    while (st.step()) rows.push_back(read_workflow_row(st));
    if (q.count_total) {
      QuerySql count = count_sql(q, sqlite_workflow_table());
      auto ct = c.prepare(count.sql, count.params);
      if (ct.step()) total = ct.column_int(0);
    }
  });
  WorkflowPage result = make_page(q, std::move(rows));
  result.total = total;
  return result;
}

// The foreign keys (ON DELETE CASCADE, enforced: connection.cpp) delete the
// workflow's operations, events and inbox with its row.
std::vector<std::string> SqliteSystemDatabase::delete_finished(const std::vector<std::string>& ids) {
  std::vector<std::string> deleted;
  if (ids.empty()) return deleted;
  std::vector<SqlValue> params(ids.begin(), ids.end());
  write([&](Connection& c) {
    deleted.clear();
    auto st = c.prepare("DELETE FROM keel_workflow_status WHERE workflow_id IN (" + placeholders(1, ids.size()) +
                            ") AND status IN (" + terminal_statuses_sql() + ") RETURNING workflow_id",
                        params);
    while (st.step()) deleted.push_back(st.column_text(0));
  });
  return deleted;
}

std::vector<std::string> SqliteSystemDatabase::list_pending(const std::string& executor_id) {
  std::vector<std::string> ids;
  read([&](Connection& c) {
    auto st = c.prepare(
        "SELECT workflow_id FROM keel_workflow_status WHERE status = 'PENDING' AND executor_id = $1 "
        "ORDER BY created_at",
        {executor_id});
    while (st.step()) ids.push_back(st.column_text(0));
  });
  return ids;
}

std::map<std::string, int> SqliteSystemDatabase::count_recoveries(const std::vector<std::string>& ids,
                                                                  int64_t now_ms) {
  std::map<std::string, int> attempts;
  if (ids.empty()) return attempts;
  std::vector<SqlValue> params{now_ms};
  params.insert(params.end(), ids.begin(), ids.end());
  write([&](Connection& c) {
    attempts.clear();
    auto st = c.prepare(
        "UPDATE keel_workflow_status SET recovery_attempts = recovery_attempts + 1, updated_at = $1 "
        "WHERE workflow_id IN (" + placeholders(2, ids.size()) + ") AND status = 'PENDING' "
        "RETURNING workflow_id, recovery_attempts",
        params);
    while (st.step()) attempts[st.column_text(0)] = static_cast<int>(st.column_int(1));
  });
  return attempts;
}

bool SqliteSystemDatabase::transition(const std::string& id, const std::vector<WorkflowStatus>& from,
                                      WorkflowStatus to, int64_t now_ms, bool reset_recovery,
                                      const std::optional<std::string>& executor_id) {
  bool changed = false;
  write([&](Connection& c) {
    auto st = c.prepare("SELECT status FROM keel_workflow_status WHERE workflow_id = $1", {id});
    if (!st.step()) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
    WorkflowStatus current = workflow_status_from_string(st.column_text(0));
    bool allowed = false;
    for (auto s : from) allowed = allowed || s == current;
    if (!allowed) return;
    c.prepare(
         "UPDATE keel_workflow_status SET status = $2, updated_at = $3, "
         "recovery_attempts = CASE WHEN $4 THEN 0 ELSE recovery_attempts END, "
         "executor_id = CASE WHEN $5 IS NULL THEN executor_id ELSE $5 END WHERE workflow_id = $1",
         {id, to_string(to), now_ms, static_cast<int64_t>(reset_recovery),
          executor_id ? SqlValue(*executor_id) : SqlValue(nullptr)})
        .step();
    changed = true;
  });
  return changed;
}

}  // namespace keel::sysdb::sqlite
