// GET /metrics of keel::AdminServer over real HTTP: the counters and
// histograms after known workflows ran, the token, bad methods, and
// `promtool check metrics` on a real scrape. On SQLite, and again on
// PostgreSQL (postgres.MetricsRoute.*) with KEEL_TEST_DATABASE_URL set.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "keel/admin_server.hpp"
#include "keel/keel.hpp"
#include "support/runtime_fixture.hpp"
#include "support/sample_workflows.hpp"

using namespace std::chrono_literals;

namespace {

constexpr const char* kQueue = "one_at_a_time";

// The value of the sample `series` (name and labels as written), or "".
std::string sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  at += series.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

class MetricsRoute : public keel::testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    wf = std::make_unique<keel::testing::SampleWorkflows>(*rt);
    flaky.emplace(rt->register_workflow("flaky", [this](keel::Context& ctx) {
      return ctx.step("flaky_call", {.max_attempts = 3, .interval = 1ms}, [this] {
        if (++flaky_calls < 3) throw std::runtime_error("not yet");
        return 7;
      });
    }));
    buy.emplace(rt->register_workflow("buy", [](keel::Context& ctx, int n) {
      ctx.transaction("reserve", [&](keel::Sql& sql) {
        sql.execute("UPDATE stock SET left_count = left_count - $1", {int64_t{n}});
      });
      return n;
    }));
    rt->register_queue({.name = kQueue, .concurrency = 1});
    rt->launch();
    rt->run_sql_write([](keel::Sql& sql) {
      sql.execute("CREATE TABLE IF NOT EXISTS stock (left_count INTEGER NOT NULL)");
      sql.execute("INSERT INTO stock (left_count) VALUES (100)");
    });
  }

  void TearDown() override {
    server.reset();
    RuntimeTest::TearDown();
  }

  httplib::Client& serve(keel::AdminServerOptions options = {}) {
    server = std::make_unique<keel::AdminServer>(*rt, std::move(options));
    server->start();
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_read_timeout(30);
    return *client;
  }

  std::string scrape() {
    auto r = client->Get("/metrics");
    if (!r || r->status != 200) throw std::runtime_error("GET /metrics failed");
    return r->body;
  }

  std::unique_ptr<keel::testing::SampleWorkflows> wf;
  std::optional<keel::Workflow<int>> flaky;  // registered in SetUp
  std::optional<keel::Workflow<int, int>> buy;
  std::atomic<int> flaky_calls{0};
  std::unique_ptr<keel::AdminServer> server;
  std::unique_ptr<httplib::Client> client;
};

TEST_F(MetricsRoute, CountsWorkflowsByNameAndStatusAndTimesTheirOperations) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rt->start(wf->greet, {.workflow_id = "g-" + std::to_string(i)}, "ann").result_for(10s), "hello ann");
  for (int i = 0; i < 2; ++i) EXPECT_ANY_THROW(rt->start(wf->failing, {.workflow_id = "f-" + std::to_string(i)}).result_for(10s));
  EXPECT_EQ(rt->start(*flaky, {.workflow_id = "flaky-1"}).result_for(10s), 7);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(rt->start(*buy, {.workflow_id = "b-" + std::to_string(i)}, 2).result_for(10s), 2);
  auto waiting = rt->start(wf->waiter, {.workflow_id = "w-1"});
  ASSERT_TRUE(keel::testing::eventually([&] { return !rt->list_steps("w-1").empty(); }));
  EXPECT_TRUE(rt->cancel("w-1"));
  // The queue runs one at a time: the first waits in recv (PENDING), the second waits its turn (ENQUEUED).
  auto q1 = rt->enqueue(wf->waiter, kQueue, {.workflow_id = "q-1"});
  auto q2 = rt->enqueue(wf->waiter, kQueue, {.workflow_id = "q-2"});
  ASSERT_TRUE(keel::testing::eventually([&] { return q1.status() == keel::WorkflowStatus::Pending; }));

  serve();
  auto r = client->Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& t = r->body;

  EXPECT_EQ(sample(t, R"(keel_workflows_started_total{workflow="greet"})"), "3") << t;
  EXPECT_EQ(sample(t, R"(keel_workflows_started_total{workflow="failing"})"), "2") << t;
  EXPECT_EQ(sample(t, R"(keel_workflows_started_total{workflow="waiter"})"), "3") << t;  // started and enqueued
  EXPECT_EQ(sample(t, R"(keel_workflows_finished_total{workflow="greet",status="SUCCESS"})"), "3") << t;
  EXPECT_EQ(sample(t, R"(keel_workflows_finished_total{workflow="failing",status="ERROR"})"), "2") << t;
  EXPECT_EQ(sample(t, R"(keel_workflows_finished_total{workflow="flaky",status="SUCCESS"})"), "1") << t;
  EXPECT_EQ(sample(t, R"(keel_workflows_finished_total{workflow="buy",status="SUCCESS"})"), "2") << t;
  EXPECT_EQ(sample(t, R"(keel_workflows_finished_total{workflow="waiter",status="CANCELLED"})"), "1") << t;

  EXPECT_EQ(sample(t, R"(keel_operation_duration_seconds_count{kind="step",operation="make_greeting"})"), "3") << t;
  EXPECT_EQ(sample(t, R"(keel_operation_duration_seconds_bucket{kind="step",operation="make_greeting",le="+Inf"})"),
            "3") << t;
  EXPECT_EQ(sample(t, R"(keel_operation_duration_seconds_count{kind="step",operation="explode"})"), "2") << t;
  EXPECT_EQ(sample(t, R"(keel_operation_duration_seconds_count{kind="transaction",operation="reserve"})"), "2") << t;
  EXPECT_EQ(sample(t, R"(keel_step_retries_total{operation="flaky_call"})"), "2") << t;

  EXPECT_EQ(sample(t, R"(keel_queue_running_workflows{queue="one_at_a_time"})"), "1") << t;
  EXPECT_EQ(sample(t, R"(keel_queue_enqueued_workflows{queue="one_at_a_time"})"), "1") << t;
  EXPECT_EQ(sample(t, "keel_executor_lease_held"), "1") << t;
  EXPECT_EQ(sample(t, "keel_worker_threads_max"), "64") << t;
  EXPECT_NE(sample(t, "keel_group_commit_batch_size_count"), "0") << t;
  EXPECT_NE(sample(t, "keel_group_commit_batch_size_count"), "") << t;
  EXPECT_NE(sample(t, "keel_workflows_parked"), "") << t;
  EXPECT_EQ(sample(t, "keel_workflows_suspended"), "0") << t;  // no long history waits here
  EXPECT_EQ(sample(t, "keel_storage_full"), "0") << t;
  // The reads above used the PostgreSQL reader pool; SQLite has none to count.
  const std::string readers = sample(t, "keel_database_reader_connections");
  const std::string wake = sample(t, "keel_database_wake_notify");
  if (keel::testing::testing_on_postgres()) {
    EXPECT_GE(std::stoi(readers.empty() ? "0" : readers), 1) << t;
    EXPECT_TRUE(wake == "0" || wake == "1") << t;  // whether another process listens just now
  } else {
    EXPECT_EQ(readers, "0") << t;
    EXPECT_EQ(wake, "0") << t;  // no NOTIFY on SQLite
  }
  // Workflow IDs are unbounded: never a label value.
  for (const char* id : {"g-0", "f-1", "flaky-1", "b-0", "w-1", "q-2"})
    EXPECT_EQ(t.find(std::string("\"") + id + "\""), std::string::npos) << id;
  (void)q2;
  (void)waiting;
}

TEST_F(MetricsRoute, NeedsTheTokenWhenOneIsSetAndOnlyReads) {
  serve({.token = "s3cret"});
  auto bare = client->Get("/metrics");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 401);
  EXPECT_NE(bare->body.find("\"unauthorized\""), std::string::npos) << bare->body;
  httplib::Headers auth{{"Authorization", "Bearer s3cret"}};
  auto ok = client->Get("/metrics", auth);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_NE(ok->body.find("# TYPE keel_workflows_started_total counter"), std::string::npos);
  auto post = client->Post("/metrics", auth, "", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(post->body.find("\"method_not_allowed\""), std::string::npos) << post->body;
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  auto deeper = client->Get("/metrics/extra", auth);
  ASSERT_TRUE(deeper);
  EXPECT_EQ(deeper->status, 404);
}

// promtool is Prometheus's own linter of the text format and its naming
// conventions (units, _total, ...).
TEST_F(MetricsRoute, PromtoolAcceptsARealScrape) {
  const std::string promtool = PROMTOOL_BIN;
  if (promtool.empty() || !std::filesystem::exists(promtool)) GTEST_SKIP() << "promtool is not installed";
  (void)rt->start(*flaky, {.workflow_id = "flaky-1"}).result_for(10s);
  (void)rt->start(*buy, {.workflow_id = "b-1"}, 1).result_for(10s);
  (void)rt->enqueue(wf->greet, kQueue, {.workflow_id = "q-1"}, "bob").result_for(10s);
  serve();
  const std::string path = dir.file("scrape.txt");
  std::ofstream(path) << scrape();
  const std::string out_path = dir.file("promtool.out");
  int rc = std::system((promtool + " check metrics < " + path + " > " + out_path + " 2>&1").c_str());
  std::ifstream in(out_path);
  std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << output;
  EXPECT_EQ(output, "") << "promtool had remarks";
}

}  // namespace
