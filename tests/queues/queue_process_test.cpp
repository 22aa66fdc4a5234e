// Queue limits across real processes: three keel_queue_worker processes
// (executor IDs worker-0..2) dequeue the same queues from one system
// database while a keel::Client enqueues 100 workflows. Afterwards the test
// reads, from the database only, when each workflow ran and where, and checks:
//  * every workflow ran exactly once (one attempt row each, SUCCESS);
//  * at no instant did more than kGlobal "capped" workflows run, nor more
//    than kPerExecutor under one executor (both from the workflows' own
//    start/end times and from the dequeue/finish times Keel recorded);
//  * no window of kRatePeriod holds more than kRate starts of "rated".
// On SQLite (one file) by default; on PostgreSQL when KEEL_TEST_DATABASE_URL
// names a cluster (ctest -L postgres).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "cli/run_process.hpp"
#include "integration/queue_support.hpp"
#include "queues/queue_limits.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::QueuedRun;
namespace qt = keel::queue_tests;

namespace {

constexpr int kWorkers = 3;
constexpr int kCapped = 60;
constexpr int kRated = 40;

keel::RuntimeConfig setup_config(const std::string& url) {
  keel::RuntimeConfig c;
  c.database_url = url;
  c.executor_id = "setup";
  c.sqlite_synchronous = keel::SqliteSync::Normal;
  return c;
}

// The workflows' own record of their step, per queue.
std::map<std::string, std::vector<QueuedRun>> attempts(keel::Runtime& rt) {
  std::map<std::string, std::vector<QueuedRun>> out;
  rt.run_sql_read([&](keel::Sql& sql) {
    for (const auto& row : sql.query("SELECT workflow_id, queue, executor, t0, t1 FROM queue_attempts", {}))
      out[row.get_string(1)].push_back({row.get_string(0), row.get_string(2), row.get_int(3), row.get_int(4)});
  });
  return out;
}

void expect_concurrency_within_limits(const std::vector<QueuedRun>& runs, const std::string& what) {
  EXPECT_LE(keel::testing::max_overlap(runs), qt::kGlobal) << what;
  std::set<std::string> executors;
  for (const auto& r : runs) executors.insert(r.executor);
  for (const auto& e : executors) EXPECT_LE(keel::testing::max_overlap(runs, e), qt::kPerExecutor) << what << " " << e;
}

class QueueProcesses : public ::testing::Test {
 protected:
  ~QueueProcesses() override {
    if (keel::testing::testing_on_postgres())
      keel::testing::detail::PgTestDatabases::instance().drop(keel::testing::detail::database_for(dir));
  }
  keel::testing::TempDir dir;
};

TEST_F(QueueProcesses, LimitsHoldAcrossProcessesAndEveryWorkflowRunsOnce) {
  const std::string url = keel::testing::test_db_url(dir);
  keel::Runtime db(setup_config(url));  // never launched after the setup: only reads
  {
    keel::Runtime setup(setup_config(url));
    setup.launch();  // migrates: a Client does not
    setup.run_sql_write([](keel::Sql& sql) {
      sql.execute(
          "CREATE TABLE queue_attempts (workflow_id TEXT NOT NULL, queue TEXT NOT NULL, executor TEXT NOT NULL, "
          "t0 BIGINT NOT NULL, t1 BIGINT NOT NULL)",
          {});
    });
  }
  std::vector<keel::testing::ProcessResult> results(kWorkers);
  std::vector<std::thread> workers;
  for (int i = 0; i < kWorkers; ++i)
    workers.emplace_back([&, i] {
      results[static_cast<size_t>(i)] = keel::testing::run_process(
          KEEL_QUEUE_WORKER, {url, "worker-" + std::to_string(i), std::to_string(kCapped + kRated)});
    });
  {
    keel::Client client(keel::ClientConfig{.database_url = url, .poll_interval = 20ms});
    for (int i = 0; i < kCapped || i < kRated; ++i) {
      if (i < kCapped) (void)client.enqueue("capped", "job", {}, std::string("capped"));
      if (i < kRated) (void)client.enqueue("rated", "job", {}, std::string("rated"));
    }
  }
  for (auto& t : workers) t.join();
  for (int i = 0; i < kWorkers; ++i)
    ASSERT_EQ(results[static_cast<size_t>(i)].exit_code, 0) << "worker-" << i << ":\n" << results[static_cast<size_t>(i)].err;

  // Exactly once: one attempt per workflow, every workflow SUCCESS.
  auto by_queue = attempts(db);
  std::set<std::string> ids;
  size_t rows = 0;
  for (const auto& [queue, runs] : by_queue)
    for (const auto& r : runs) ids.insert(r.id), ++rows;
  EXPECT_EQ(rows, static_cast<size_t>(kCapped + kRated));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kCapped + kRated));
  std::vector<QueuedRun> capped, rated;
  db.run_sql_read([&](keel::Sql& sql) {
    capped = keel::testing::queued_runs(sql, "capped");
    rated = keel::testing::queued_runs(sql, "rated");
  });
  ASSERT_EQ(capped.size(), static_cast<size_t>(kCapped));
  ASSERT_EQ(rated.size(), static_cast<size_t>(kRated));

  expect_concurrency_within_limits(by_queue["capped"], "workflow bodies");
  expect_concurrency_within_limits(capped, "dequeue-to-finish");
  // The rate limit is on dequeues: Keel's recorded start times (a body may
  // begin later than its dequeue, so its own clock is not the measure).
  EXPECT_LE(keel::testing::max_starts_in_window(rated, qt::kRatePeriod.count()), qt::kRate);
  EXPECT_GE(rated.back().started_at - rated.front().started_at,
            (kRated / qt::kRate - 1) * qt::kRatePeriod.count());

  std::map<std::string, int> per_executor;
  for (const auto& r : capped) ++per_executor[r.executor];
  for (const auto& r : rated) ++per_executor[r.executor];
  for (const auto& [e, n] : per_executor) std::printf("%s ran %d workflows\n", e.c_str(), n);
  EXPECT_GE(per_executor.size(), 2u) << "the work should be shared by several processes";
}

}  // namespace
