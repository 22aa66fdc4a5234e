// PostgreSQL backend: executor leases (keel.executors) and the takeover of a
// dead executor's PENDING workflows.
//
// Heartbeats are the server's clock, so executors on different hosts need
// not agree on the time; whether one is dead is judged by its watchers
// (runtime/executor_lease.hpp). Races are decided by the executor row's lock:
// a claimant locks the dead executor's row FOR UPDATE SKIP LOCKED (a row
// locked by another claimant or by a heartbeat in flight is skipped) and
// deletes it only while its heartbeat is still the value it watched: exactly one live executor wins a
// dead one, and a heartbeat that got in first keeps it alive. Its PENDING workflows move in the same
// transaction, locking their rows as checkpoints do (FOR NO KEY UPDATE
// conflicts with the UPDATE), which is what fences a slow former owner.
#include "sysdb/postgres/postgres_system_database.hpp"

namespace keel::sysdb::postgres {

namespace {

int64_t clock_ms(Connection& c) {
  return c.exec("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint").integer(0, 0);
}

ExecutorRecord read_executor_row(const Result& r, int row) {
  return ExecutorRecord{r.text(row, 0), r.text(row, 1), r.text(row, 2), r.integer(row, 3), r.integer(row, 4)};
}

constexpr const char* kSelectExecutor =
    "SELECT executor_id, application_version, holder, heartbeat_at, started_at FROM keel.executors";

}  // namespace

std::optional<ExecutorRecord> PostgresSystemDatabase::acquire_lease(const ExecutorRecord& me, int64_t lease_ms,
                                                                    const std::string& replace_holder) {
  std::optional<ExecutorRecord> holder;
  write([&](Connection& c) {
    holder.reset();
    // Creates the row if absent (racing acquirers: one inserts, the others
    // wait for it and then see it), then locks it. A takeover may delete the
    // row between the two statements: then insert again.
    std::optional<ExecutorRecord> found;
    while (!found) {
      c.exec(
          "INSERT INTO keel.executors (executor_id, application_version, holder, heartbeat_at, started_at) "
          "VALUES ($1, $2, $3, 0, 0) ON CONFLICT (executor_id) DO NOTHING",
          {me.executor_id, me.application_version, me.holder});
      Result r = c.exec(std::string(kSelectExecutor) + " WHERE executor_id = $1 FOR UPDATE", {me.executor_id});
      if (r.rows() > 0) found = read_executor_row(r, 0);
    }
    int64_t now = clock_ms(c);
    const ExecutorRecord& row = *found;
    bool replaceable = !replace_holder.empty() && row.holder == replace_holder;
    if (row.heartbeat_at_ms >= now - lease_ms && !replaceable) {
      holder = row;
      return;
    }
    c.exec(
        "UPDATE keel.executors SET application_version = $2, holder = $3, heartbeat_at = $4, started_at = $4 "
        "WHERE executor_id = $1",
        {me.executor_id, me.application_version, me.holder, now});
  }, /*fault_points=*/false);
  return holder;
}

bool PostgresSystemDatabase::renew_lease(const std::string& executor_id, const std::string& holder) {
  bool renewed = false;
  write([&](Connection& c) {
    Result r = c.exec(
        "UPDATE keel.executors SET heartbeat_at = "
        "GREATEST((extract(epoch FROM clock_timestamp()) * 1000)::bigint, heartbeat_at + 1) "
        "WHERE executor_id = $1 AND holder = $2",
        {executor_id, holder});
    renewed = r.changed() == 1;
  }, /*fault_points=*/false);
  return renewed;
}

void PostgresSystemDatabase::release_lease(const std::string& executor_id, const std::string& holder) {
  write([&](Connection& c) {
    c.exec("UPDATE keel.executors SET heartbeat_at = 0 WHERE executor_id = $1 AND holder = $2", {executor_id, holder});
  }, /*fault_points=*/false);
}

std::vector<ExecutorRecord> PostgresSystemDatabase::list_executors() {
  std::vector<ExecutorRecord> rows;
  read([&](Connection& c) {
    Result r = c.exec(std::string(kSelectExecutor) + " ORDER BY executor_id");
    for (int i = 0; i < r.rows(); ++i) rows.push_back(read_executor_row(r, i));
  });
  return rows;
}

std::optional<std::vector<std::string>> PostgresSystemDatabase::take_over(const std::string& dead,
                                                                          const std::string& to,
                                                                          const std::string& version,
                                                                          int64_t observed_heartbeat_ms) {
  std::optional<std::vector<std::string>> moved;
  write([&](Connection& c) {
    moved.reset();
    int64_t now = clock_ms(c);
    // SKIP LOCKED: a row locked by another claimant or by its owner's
    // heartbeat in flight is not waited for; the next heartbeat looks again.
    Result gone = c.exec(
        "DELETE FROM keel.executors WHERE executor_id IN (SELECT executor_id FROM keel.executors "
        "WHERE executor_id = $1 AND heartbeat_at = $2 FOR UPDATE SKIP LOCKED)",
        {dead, observed_heartbeat_ms});
    if (gone.changed() != 1) return;  // alive again, or claimed by another executor
    moved.emplace();
    // Other versions' workflows are released ('') for their own executors.
    Result r = c.exec(
        "UPDATE keel.workflow_status SET executor_id = CASE WHEN application_version = $4 THEN $2 ELSE '' END, "
        "updated_at = $3 WHERE executor_id = $1 AND status = 'PENDING' RETURNING workflow_id, executor_id",
        {dead, to, now, version});
    for (int i = 0; i < r.rows(); ++i)
      if (r.text(i, 1) == to) moved->push_back(r.text(i, 0));
  });
  return moved;
}

int PostgresSystemDatabase::release_other_versions(const std::string& executor_id, const std::string& version) {
  int released = 0;
  write([&](Connection& c) {
    Result r = c.exec(
        "UPDATE keel.workflow_status SET executor_id = '', updated_at = $3 "
        "WHERE executor_id = $1 AND status = 'PENDING' AND application_version <> $2",
        {executor_id, version, clock_ms(c)});
    released = static_cast<int>(r.changed());
  });
  return released;
}

std::vector<std::string> PostgresSystemDatabase::claim_released(const std::string& executor_id,
                                                                const std::string& version) {
  std::vector<std::string> ids;
  write([&](Connection& c) {
    ids.clear();
    // A row another claimant updates first no longer matches once its lock
    // is released (executor_id is no longer ''): each row has one claimant.
    Result r = c.exec(
        "UPDATE keel.workflow_status SET executor_id = $1, updated_at = $3 "
        "WHERE executor_id = '' AND status = 'PENDING' AND application_version = $2 RETURNING workflow_id",
        {executor_id, version, clock_ms(c)});
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.text(i, 0));
  });
  return ids;
}

}  // namespace keel::sysdb::postgres
