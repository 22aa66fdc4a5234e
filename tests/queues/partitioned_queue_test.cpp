// Partitioned queues (keel/queue.hpp, docs/queues.md "Partitioned queues"):
// concurrency and worker_concurrency apply per partition key. Two Runtimes
// (two executor IDs, each with its dequeuer) on one database in this process,
// as tests/integration/queue_test.cpp does; on SQLite by default, on
// PostgreSQL under the postgres label (two dequeuers on two connections,
// serialised by the queue's advisory lock).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/queue_support.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::eventually;
using keel::testing::max_overlap;
using keel::testing::QueuedRun;
using keel::testing::RuntimeTest;

namespace {

int64_t epoch_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

class PartitionedQueueTest : public RuntimeTest {
 protected:
  void create_table() {
    rt->run_sql_write([](keel::Sql& sql) {
      sql.execute(
          "CREATE TABLE partition_runs (workflow_id TEXT NOT NULL, partition_key TEXT NOT NULL, "
          "executor TEXT NOT NULL, t0 BIGINT NOT NULL, t1 BIGINT NOT NULL)",
          {});
    });
  }
  // Registers "job" on r: its step sleeps `work` and records its own start
  // and end in partition_runs with a plain write (a second run would leave a
  // second row).
  keel::Workflow<int, std::string> register_job(keel::Runtime& r, const std::string& executor,
                                                std::chrono::milliseconds work, const std::string& name = "job") {
    return r.register_workflow(name, [&r, executor, work](keel::Context& ctx, std::string key) {
      ctx.step("work", [&] {
        int64_t t0 = epoch_ms();
        std::this_thread::sleep_for(work);
        int64_t t1 = epoch_ms();
        r.run_sql_write([&](keel::Sql& sql) {
          sql.execute("INSERT INTO partition_runs (workflow_id, partition_key, executor, t0, t1) "
                      "VALUES ($1, $2, $3, $4, $5)",
                      {ctx.workflow_id(), key, executor, t0, t1});
        });
        return 0;
      });
      return 0;
    });
  }
  // The workflows' own record, per partition key.
  std::map<std::string, std::vector<QueuedRun>> runs_by_partition() {
    std::map<std::string, std::vector<QueuedRun>> out;
    rt->run_sql_read([&](keel::Sql& sql) {
      for (const auto& row : sql.query("SELECT workflow_id, partition_key, executor, t0, t1 FROM partition_runs", {}))
        out[row.get_string(1)].push_back({row.get_string(0), row.get_string(2), row.get_int(3), row.get_int(4)});
    });
    return out;
  }
  // Keel's own record (dequeued at, finished at) of the queue's workflows,
  // per partition key (read from the workflow rows).
  std::map<std::string, std::vector<QueuedRun>> dequeues_by_partition(const std::string& queue) {
    std::map<std::string, std::vector<QueuedRun>> out;
    rt->run_sql_read([&](keel::Sql& sql) {
      std::string table = sql.dialect() == "sqlite" ? "keel_workflow_status" : "keel.workflow_status";
      for (const auto& row : sql.query("SELECT workflow_id, partition_key, executor_id, started_at, updated_at FROM " +
                                           table + " WHERE queue_name = $1 AND status = 'SUCCESS'",
                                       {queue}))
        out[row.get_string(1)].push_back({row.get_string(0), row.get_string(2), row.get_int(3), row.get_int(4)});
    });
    return out;
  }
};

TEST_F(PartitionedQueueTest, OneRunsAtATimePerPartitionAndPartitionsRunInParallelOnTwoExecutors) {
  constexpr int kPartitions = 3, kEach = 4;
  // Each executor runs a workflow name of its own (a dequeuer takes only
  // names registered in its process), and every partition holds both names:
  // so both executors must take work from every partition, and the limit of
  // one per partition must hold across them.
  const keel::QueueOptions q{.name = "per-customer", .concurrency = 1, .partitioned = true};
  rt->register_queue(q);
  register_job(*rt, "test", 120ms, "job-test");
  rt->launch();
  create_table();
  keel::Runtime other(keel::testing::test_config(dir, "other"));
  other.register_queue(q);
  register_job(other, "other", 120ms, "job-other");
  other.launch();

  keel::Client client(keel::ClientConfig{.database_url = keel::testing::test_db_url(dir), .poll_interval = 20ms});
  std::vector<keel::ClientHandle<int>> handles;
  for (int i = 0; i < kEach; ++i)
    for (int p = 0; p < kPartitions; ++p) {
      const std::string key = "customer-" + std::to_string(p);
      handles.push_back(client.enqueue<int>("per-customer", i % 2 ? "job-other" : "job-test",
                                            {.partition_key = key}, key));
    }
  for (auto& h : handles) EXPECT_EQ(h.result_for(60s), 0);

  auto bodies = runs_by_partition();
  auto dequeues = dequeues_by_partition("per-customer");
  ASSERT_EQ(bodies.size(), static_cast<size_t>(kPartitions));
  ASSERT_EQ(dequeues.size(), static_cast<size_t>(kPartitions));
  std::vector<QueuedRun> all;
  std::set<std::string> executors;
  for (const auto& [key, runs] : bodies) {
    EXPECT_EQ(runs.size(), static_cast<size_t>(kEach)) << key << ": every workflow ran once";
    EXPECT_EQ(max_overlap(runs), 1) << key << ": two bodies ran at once";
    EXPECT_EQ(max_overlap(dequeues[key]), 1) << key << ": two were PENDING at once";
    std::set<std::string> here;
    for (const auto& r : runs) all.push_back(r), executors.insert(r.executor), here.insert(r.executor);
    EXPECT_EQ(here.size(), 2u) << key << ": both executors ran workflows of the partition";
  }
  // The partitions progressed together: at some instant all three ran.
  EXPECT_EQ(max_overlap(all), kPartitions);
  EXPECT_EQ(executors.size(), 2u) << "both executors dequeued";
}

TEST_F(PartitionedQueueTest, WorkerConcurrencyAppliesPerPartitionToo) {
  // concurrency 2 per partition, 1 per partition and executor: with two
  // executors each partition runs two at once, never two on one executor.
  const keel::QueueOptions q{.name = "pairs", .concurrency = 2, .worker_concurrency = 1, .partitioned = true};
  rt->register_queue(q);
  auto job = register_job(*rt, "test", 80ms);
  rt->launch();
  create_table();
  keel::Runtime other(keel::testing::test_config(dir, "other"));
  other.register_queue(q);
  register_job(other, "other", 80ms);
  other.launch();
  std::vector<keel::Handle<int>> handles;
  for (int i = 0; i < 6; ++i)
    for (const std::string key : {"a", "b"}) handles.push_back(rt->enqueue(job, "pairs", {.partition_key = key}, key));
  for (auto& h : handles) EXPECT_EQ(h.result_for(60s), 0);
  for (const auto& [key, runs] : dequeues_by_partition("pairs")) {
    EXPECT_LE(max_overlap(runs), 2) << key;
    EXPECT_LE(max_overlap(runs, "test"), 1) << key;
    EXPECT_LE(max_overlap(runs, "other"), 1) << key;
  }
}

TEST_F(PartitionedQueueTest, PartitionKeysAreRequiredExactlyOnPartitionedQueues) {
  rt->register_queue({.name = "parts", .partitioned = true});
  rt->register_queue({.name = "plain"});
  auto job = rt->register_workflow("echo", [](keel::Context&, std::string s) { return s; });
  auto parent = rt->register_workflow("parent", [job](keel::Context& ctx, std::string key) {
    // ctx.enqueue takes the same option.
    return ctx.enqueue(job, "parts", {.partition_key = key}, key).result() + "!";
  });
  rt->launch();
  EXPECT_THROW((void)rt->enqueue(job, "parts", {}, std::string("x")), keel::UsageError);
  EXPECT_THROW((void)rt->enqueue(job, "plain", {.partition_key = "k"}, std::string("x")), keel::UsageError);
  EXPECT_EQ(rt->enqueue(job, "parts", {.partition_key = "k"}, std::string("x")).result_for(30s), "x");
  EXPECT_EQ(rt->start(parent, {}, std::string("k2")).result_for(30s), "k2!");

  // A Client checks against the stored declaration.
  keel::Client client(keel::ClientConfig{.database_url = keel::testing::test_db_url(dir), .poll_interval = 20ms});
  EXPECT_THROW((void)client.enqueue("parts", "echo", {}, std::string("x")), keel::UsageError);
  EXPECT_THROW((void)client.enqueue("plain", "echo", {.partition_key = "k"}, std::string("x")), keel::UsageError);
  auto h = client.enqueue<std::string>("parts", "echo", {.partition_key = "c"}, std::string("from client"));
  EXPECT_EQ(h.result_for(30s), "from client");
}

TEST_F(PartitionedQueueTest, DeduplicationStaysPerQueueAcrossPartitions) {
  rt->register_queue({.name = "parts", .concurrency = 1, .partitioned = true});
  auto hold = rt->register_workflow("hold", [](keel::Context& ctx, int x) {
    ctx.recv<int>("go", 60s);
    return x;
  });
  rt->launch();
  auto first = rt->enqueue(hold, "parts", {.deduplication_id = "d", .partition_key = "a"}, 1);
  EXPECT_THROW((void)rt->enqueue(hold, "parts", {.deduplication_id = "d", .partition_key = "b"}, 2),
               keel::DeduplicatedError);
  ASSERT_TRUE(eventually([&] { return first.status() == keel::WorkflowStatus::Pending; }));
  rt->send(first.id(), 1, "go");
  EXPECT_EQ(first.result_for(30s), 1);
}

}  // namespace
