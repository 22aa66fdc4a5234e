// A partitioned queue across a crash: two worker processes
// (keel_partition_worker, executors "pw-a" and "pw-b") dequeue the
// partitioned queue "per-key" (concurrency 1 per key) that a Client has
// filled with 3 keys x 4 workflows. pw-a runs alone first and is SIGKILLed
// while its workflows run; then pw-b starts and pw-a is relaunched under the
// same executor ID (it recovers its workflows, which kept their keys' slots
// meanwhile), and both work the rest off. Afterwards, from
// the database only:
//  * every workflow SUCCEEDED, and finished its step once (one 'end' mark);
//  * at no instant did two workflows of one key run: from the workflows'
//    own begin/end marks (a run cut by the kill ends at the kill), and from
//    Keel's dequeue/finish times (the killed workflow's span covers its
//    recovery).
// On SQLite by default; on PostgreSQL under the postgres label.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "integration/queue_support.hpp"
#include "support/child_process.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::ChildProcess;
using keel::testing::max_overlap;
using keel::testing::QueuedRun;

namespace {

constexpr int kKeys = 3, kEach = 4, kTotal = kKeys * kEach;

int64_t epoch_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

keel::RuntimeConfig setup_config(const std::string& url) {
  keel::RuntimeConfig c;
  c.database_url = url;
  c.executor_id = "setup";
  c.sqlite_synchronous = keel::SqliteSync::Normal;
  return c;
}

class PartitionCrash : public ::testing::Test {
 protected:
  ~PartitionCrash() override {
    if (keel::testing::testing_on_postgres())
      keel::testing::detail::PgTestDatabases::instance().drop(keel::testing::detail::database_for(dir));
  }
  keel::testing::TempDir dir;
};

TEST_F(PartitionCrash, AKilledWorkersPartitionNeverRunsTwoAtOnceAndEveryWorkflowFinishesOnce) {
  const std::string url = keel::testing::test_db_url(dir);
  const std::string err = (dir.path() / "workers.err").string();
  keel::Runtime db(setup_config(url));  // never launched after the setup: only reads
  {
    keel::Runtime setup(setup_config(url));
    setup.register_queue({.name = "per-key", .concurrency = 1, .partitioned = true});
    setup.launch();  // migrates and stores the declaration: a Client does neither
    setup.run_sql_write([](keel::Sql& sql) {
      sql.execute(
          "CREATE TABLE partition_marks (workflow_id TEXT NOT NULL, partition_key TEXT NOT NULL, pid BIGINT NOT NULL, "
          "kind TEXT NOT NULL, t BIGINT NOT NULL)",
          {});
    });
  }
  {
    keel::Client client(keel::ClientConfig{.database_url = url, .poll_interval = 20ms});
    for (int i = 0; i < kEach; ++i)
      for (int k = 0; k < kKeys; ++k) {
        const std::string key = "key-" + std::to_string(k);
        (void)client.enqueue("per-key", "pjob", {.partition_key = key}, key);
      }
  }
  const std::string total = std::to_string(kTotal);
  int64_t killed_at = 0;
  int64_t killed_pid = 0;
  {
    // pw-a alone first: it takes the head of every key, and is killed while
    // they run (their slots stay held: PENDING under pw-a).
    ChildProcess a(KEEL_PARTITION_WORKER, {url, "pw-a", total}, err);
    auto line = a.read_line(std::chrono::steady_clock::now() + 60s);
    ASSERT_TRUE(line.has_value()) << "pw-a ended before running a workflow; see " << err;
    ASSERT_EQ(line->rfind("started ", 0), 0u) << *line;
    std::this_thread::sleep_for(50ms);  // in the middle of its 150 ms of work
    killed_pid = a.pid();
    a.kill_now();
    killed_at = epoch_ms();
    a.wait();
  }
  {
    // pw-b joins (it finds every key held by the dead pw-a), and pw-a is
    // relaunched under the same executor ID: it recovers its workflows.
    ChildProcess b(KEEL_PARTITION_WORKER, {url, "pw-b", total}, err);
    ChildProcess again(KEEL_PARTITION_WORKER, {url, "pw-a", total}, err);
    auto done = std::chrono::steady_clock::now() + 90s;
    while (again.read_line(done)) {
    }
    EXPECT_EQ(again.wait(), 0) << "relaunched pw-a; see " << err;
    while (b.read_line(done)) {
    }
    EXPECT_EQ(b.wait(), 0) << "pw-b; see " << err;
  }

  // Marks: begin/end per run; a begin of the killed process without its end
  // ran until the kill.
  std::map<std::string, std::vector<QueuedRun>> bodies;  // by key
  std::map<std::string, int> ends;                       // by workflow
  int cut = 0;
  db.run_sql_read([&](keel::Sql& sql) {
    std::map<std::pair<std::string, int64_t>, std::pair<std::string, int64_t>> open;  // (id, pid) -> (key, t0)
    for (const auto& row : sql.query(
             "SELECT workflow_id, partition_key, pid, kind, t FROM partition_marks ORDER BY t, kind", {})) {
      const std::string id = row.get_string(0), key = row.get_string(1), kind = row.get_string(3);
      const int64_t pid = row.get_int(2), t = row.get_int(4);
      if (kind == "begin") {
        open[{id, pid}] = {key, t};
      } else {
        auto it = open.find({id, pid});
        ASSERT_NE(it, open.end()) << "an end without its begin: " << id;
        bodies[key].push_back({id, std::to_string(pid), it->second.second, t});
        open.erase(it);
        ++ends[id];
      }
    }
    for (const auto& [run, begun] : open) {
      EXPECT_EQ(run.second, killed_pid) << run.first << " began and never ended in a live process";
      bodies[begun.first].push_back({run.first, std::to_string(run.second), begun.second, killed_at});
      ++cut;
    }
  });
  EXPECT_GE(cut, 1) << "a run was cut by the kill";
  EXPECT_LE(cut, kKeys) << "at most one run per key was cut";
  EXPECT_EQ(ends.size(), static_cast<size_t>(kTotal));
  for (const auto& [id, n] : ends) EXPECT_EQ(n, 1) << id << " finished its step " << n << " times";

  std::map<std::string, std::vector<QueuedRun>> dequeues;
  int succeeded = 0;
  db.run_sql_read([&](keel::Sql& sql) {
    std::string table = sql.dialect() == "sqlite" ? "keel_workflow_status" : "keel.workflow_status";
    for (const auto& row : sql.query("SELECT workflow_id, partition_key, executor_id, started_at, updated_at, status "
                                     "FROM " + table + " WHERE queue_name = 'per-key'",
                                     {})) {
      if (row.get_string(5) == "SUCCESS") ++succeeded;
      dequeues[row.get_string(1)].push_back({row.get_string(0), row.get_string(2), row.get_int(3), row.get_int(4)});
    }
  });
  EXPECT_EQ(succeeded, kTotal);
  ASSERT_EQ(bodies.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, runs] : bodies) EXPECT_EQ(max_overlap(runs), 1) << key << ": two bodies ran at once";
  for (const auto& [key, runs] : dequeues) EXPECT_EQ(max_overlap(runs), 1) << key << ": two were PENDING at once";
}

}  // namespace
