// The library across a PostgreSQL failover (issue 18): a Runtime on the
// multi-host URL of a synchronous pair (scripts/pg-failover-cluster.sh) whose
// workflows wait in recv while the primary is SIGKILLed, the standby promoted
// and the old primary rebuilt as the new standby; and the connection's
// handling of a standby that answers a write (SQLSTATE 25006).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>

#include "failover_pair.hpp"
#include "keel/keel.hpp"
#include "support/sql_probe.hpp"
#include "support/temp_dir.hpp"
#include "support/test_databases.hpp"
#include "sysdb/postgres/connection.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

class RuntimeFailover : public ::testing::Test {
 protected:
  keel::testing::FailoverPair pair;
  keel::testing::TempDir dir;
  std::string url;
  void SetUp() override {
    ::setenv("KEEL_TEST_DATABASE_URL", pair.url().c_str(), 1);
    url = keel::testing::test_db_url(dir);
  }
  // Runs fn until it does not throw DatabaseError (no primary yet).
  template <class F>
  auto retry(F fn) {
    const auto until = Clock::now() + 60s;
    for (;;) {
      try {
        return fn();
      } catch (const keel::DatabaseError&) {
        if (Clock::now() > until) throw;
        std::this_thread::sleep_for(100ms);
      }
    }
  }
  static int64_t ms(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
  }
  // Every recorded operation, as "workflow:position".
  std::set<std::string> records() {
    std::set<std::string> out;
    for (const auto& row : keel::testing::query_rows(
             url, "SELECT workflow_id || ':' || function_id FROM keel.operation_outputs"))
      out.insert(row.at(0));
    return out;
  }
  int64_t count(const std::string& sql) {
    return std::stoll(keel::testing::query_rows(url, sql).at(0).at(0));
  }
};

TEST_F(RuntimeFailover, WorkflowsCompleteAcrossAFailoverWokenByTheNewPrimary) {
  constexpr int kWorkflows = 8;
  std::atomic<int> before_runs{0};
  keel::RuntimeConfig config;
  config.database_url = url;
  config.executor_id = "failover";
  // Short enough that a workflow the failover interrupted (parked for
  // max(1 s, 5 x poll_interval)) resumes within the test; the LISTEN probes
  // below must be faster than it.
  config.poll_interval = 2s;
  keel::Runtime rt(config);
  auto wf = rt.register_workflow("wait_for_go", [&](keel::Context& ctx, int i) {
    int a = ctx.step("before", [&] {
      ++before_runs;
      return i * 10;
    });
    ctx.transaction("ledger", [&](keel::Sql& sql) {
      return sql.execute("INSERT INTO failover_ledger (workflow_id) VALUES ($1)", {ctx.workflow_id()});
    });
    int go = ctx.recv<int>("go", 120s).value_or(-1000);
    return a + go;
  });
  rt.launch();
  rt.run_sql_write([](keel::Sql& sql) { sql.execute("CREATE TABLE failover_ledger (workflow_id TEXT PRIMARY KEY)"); });
  for (int i = 0; i < kWorkflows; ++i) (void)rt.start(wf, {.workflow_id = "w" + std::to_string(i)}, i);
  // Every workflow's step and transaction committed (acknowledged) before the kill.
  const auto until = Clock::now() + 30s;
  while (count("SELECT count(*) FROM failover_ledger") < kWorkflows && Clock::now() < until)
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(count("SELECT count(*) FROM failover_ledger"), kWorkflows);
  const auto records_before = records();
  const std::string old_primary = pair.primary_port();

  const auto t_kill = Clock::now();
  ASSERT_TRUE(keel::testing::FailoverPair::run("kill"));
  ASSERT_TRUE(keel::testing::FailoverPair::run("promote"));
  const auto t_promoted = Clock::now();
  ASSERT_TRUE(keel::testing::FailoverPair::run("rebuild"));
  std::printf("failover: kill+promote %lld ms, rebuild %lld ms\n", static_cast<long long>(ms(t_kill, t_promoted)),
              static_cast<long long>(ms(t_promoted, Clock::now())));
  ASSERT_NE(pair.primary_port(), old_primary);

  // Every acknowledged checkpoint is on the new primary.
  EXPECT_EQ(count("SELECT count(*) FROM failover_ledger"), kWorkflows);
  const auto records_after = records();
  for (const auto& r : records_before)
    EXPECT_TRUE(records_after.count(r)) << "the acknowledged checkpoint " << r << " is gone";

  // From another connection (a Client: its NOTIFYs are not the Runtime's own).
  keel::Client client(url);
  for (int i = 0; i < kWorkflows; ++i)
    retry([&] {
      client.send("w" + std::to_string(i), 1, "go", "go-" + std::to_string(i));
      return 0;
    });
  for (int i = 0; i < kWorkflows; ++i)
    EXPECT_EQ(retry([&] { return rt.retrieve<int>("w" + std::to_string(i)).result_for(60s); }), i * 10 + 1);
  EXPECT_EQ(before_runs.load(), kWorkflows) << "a step whose checkpoint was acknowledged ran again";

  // The LISTEN connection is on the new primary: a workflow waiting in recv
  // wakes within milliseconds of a Client's send, not at its next poll (2 s).
  // Three probes, each under 700 ms: polling alone passes all three about
  // one time in thirty.
  for (int k = 0; k < 3; ++k) {
    const std::string id = "probe" + std::to_string(k);
    auto h = retry([&] { return rt.start(wf, {.workflow_id = id}, 100 + k); });
    const auto probe_until = Clock::now() + 30s;
    while (count("SELECT count(*) FROM failover_ledger WHERE workflow_id = '" + id + "'") == 0 &&
           Clock::now() < probe_until)
      std::this_thread::sleep_for(20ms);
    std::this_thread::sleep_for(300ms);  // into its recv
    const auto sent = Clock::now();
    client.send(id, 5, "go", "go-" + id);
    EXPECT_EQ(h.result_for(30s), (100 + k) * 10 + 5);
    const auto latency = ms(sent, Clock::now());
    std::printf("probe %d: woken %lld ms after the send\n", k, static_cast<long long>(latency));
    EXPECT_LT(latency, 700) << "a recv on the new primary was not woken by its notification";
  }

  EXPECT_EQ(count("SELECT count(*) FROM keel.workflow_status WHERE status = 'PENDING'"), 0);
}

// A write answered by a standby (25006) drops the session, so that the next
// use connects again (to the primary, with target_session_attrs); a write
// refused inside a READ ONLY transaction of our own keeps the connection.
TEST_F(RuntimeFailover, AStandbyThatRefusesAWriteIsLeftForANewConnection) {
  keel::sysdb::postgres::Connection standby(pair.node_url("standby"));
  try {
    standby.exec("CREATE TABLE refused (x INT)");
    FAIL() << "a standby accepted a write";
  } catch (const keel::DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("25006"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(standby.broken());

  keel::sysdb::postgres::Connection primary(pair.node_url("primary"));
  primary.begin("BEGIN READ ONLY");
  EXPECT_THROW(primary.exec("CREATE TABLE refused (x INT)"), keel::DatabaseError);
  EXPECT_FALSE(primary.broken());
  primary.rollback();
  EXPECT_EQ(primary.exec("SELECT 1").integer(0, 0), 1);
}

}  // namespace
