// SQLite backend: executor leases (keel_executors) and the takeover of a dead
// executor's PENDING workflows. Every unit runs under the single writer lock
// (BEGIN IMMEDIATE), so a conditional DELETE decides which live executor wins
// a dead one, even across processes sharing the file.
#include "common/clock.hpp"
#include "sysdb/sqlite/sqlite_system_database.hpp"

namespace keel::sysdb::sqlite {

namespace {

// Processes sharing a SQLite file share this machine's clock.
int64_t clock_ms() { return detail::now_ms(); }

ExecutorRecord read_executor_row(const BoundStatement& st) {
  return ExecutorRecord{st.column_text(0), st.column_text(1), st.column_text(2), st.column_int(3), st.column_int(4)};
}

constexpr const char* kSelectExecutor =
    "SELECT executor_id, application_version, holder, heartbeat_at, started_at FROM keel_executors";

}  // namespace

std::optional<ExecutorRecord> SqliteSystemDatabase::acquire_lease(const ExecutorRecord& me, int64_t lease_ms,
                                                                  const std::string& replace_holder) {
  std::optional<ExecutorRecord> holder;
  write([&](Connection& c) {
    holder.reset();
    int64_t now = clock_ms();
    auto st = c.prepare(std::string(kSelectExecutor) + " WHERE executor_id = $1", {me.executor_id});
    if (st.step()) {
      ExecutorRecord row = read_executor_row(st);
      bool replaceable = !replace_holder.empty() && row.holder == replace_holder;
      if (row.heartbeat_at_ms >= now - lease_ms && !replaceable) {
        holder = row;
        return;
      }
    }
    c.prepare(
         "INSERT INTO keel_executors (executor_id, application_version, holder, heartbeat_at, started_at) "
         "VALUES ($1, $2, $3, $4, $4) ON CONFLICT (executor_id) DO UPDATE SET "
         "application_version = excluded.application_version, holder = excluded.holder, "
         "heartbeat_at = excluded.heartbeat_at, started_at = excluded.started_at",
         {me.executor_id, me.application_version, me.holder, now})
        .step();
  }, /*fault_points=*/false);
  return holder;
}

bool SqliteSystemDatabase::renew_lease(const std::string& executor_id, const std::string& holder) {
  bool renewed = false;
  write([&](Connection& c) {
    c.prepare("UPDATE keel_executors SET heartbeat_at = max($3, heartbeat_at + 1) WHERE executor_id = $1 AND holder = $2",
              {executor_id, holder, clock_ms()})
        .step();
    renewed = c.changes() == 1;
  }, /*fault_points=*/false);
  return renewed;
}

void SqliteSystemDatabase::release_lease(const std::string& executor_id, const std::string& holder) {
  write([&](Connection& c) {
    c.prepare("UPDATE keel_executors SET heartbeat_at = 0 WHERE executor_id = $1 AND holder = $2",
              {executor_id, holder})
        .step();
  }, /*fault_points=*/false);
}

std::vector<ExecutorRecord> SqliteSystemDatabase::list_executors() {
  std::vector<ExecutorRecord> rows;
  read([&](Connection& c) {
    auto st = c.prepare(std::string(kSelectExecutor) + " ORDER BY executor_id");
    while (st.step()) rows.push_back(read_executor_row(st));
  });
  return rows;
}

std::optional<std::vector<std::string>> SqliteSystemDatabase::take_over(const std::string& dead,
                                                                        const std::string& to,
                                                                        const std::string& version,
                                                                        int64_t observed_heartbeat_ms) {
  std::optional<std::vector<std::string>> moved;
  write([&](Connection& c) {
    moved.reset();
    int64_t now = clock_ms();
    c.prepare("DELETE FROM keel_executors WHERE executor_id = $1 AND heartbeat_at = $2", {dead, observed_heartbeat_ms})
        .step();
    if (c.changes() != 1) return;  // alive again, or claimed by another executor
    moved.emplace();
    auto st = c.prepare(
        "UPDATE keel_workflow_status SET executor_id = $2, updated_at = $3 "
        "WHERE executor_id = $1 AND status = 'PENDING' AND application_version = $4 RETURNING workflow_id",
        {dead, to, now, version});
    while (st.step()) moved->push_back(st.column_text(0));
    c.prepare("UPDATE keel_workflow_status SET executor_id = '', updated_at = $2 "
              "WHERE executor_id = $1 AND status = 'PENDING'",
              {dead, now})
        .step();
  });
  return moved;
}

int SqliteSystemDatabase::release_other_versions(const std::string& executor_id, const std::string& version) {
  int released = 0;
  write([&](Connection& c) {
    c.prepare("UPDATE keel_workflow_status SET executor_id = '', updated_at = $3 "
              "WHERE executor_id = $1 AND status = 'PENDING' AND application_version <> $2",
              {executor_id, version, clock_ms()})
        .step();
    released = static_cast<int>(c.changes());
  });
  return released;
}

std::vector<std::string> SqliteSystemDatabase::claim_released(const std::string& executor_id,
                                                              const std::string& version) {
  std::vector<std::string> ids;
  write([&](Connection& c) {
    ids.clear();
    auto st = c.prepare(
        "UPDATE keel_workflow_status SET executor_id = $1, updated_at = $3 "
        "WHERE executor_id = '' AND status = 'PENDING' AND application_version = $2 RETURNING workflow_id",
        {executor_id, version, clock_ms()});
    while (st.step()) ids.push_back(st.column_text(0));
  });
  return ids;
}

}  // namespace keel::sysdb::sqlite
