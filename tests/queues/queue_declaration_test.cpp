// Stored queue declarations (keel/queue.hpp, docs/queues.md "Stored
// declarations"): the first launch stores a queue's limits, a second Runtime
// declaring them alike is accepted, one declaring them otherwise is refused at
// launch with a ConfigError naming the queue and the differing fields, and an
// explicit update (QueueOptions::update_stored) changes what another
// process's dequeuer enforces. Two Runtimes (two executor IDs) on one
// database in this process, as tests/integration/queue_test.cpp does. On
// SQLite by default; on PostgreSQL under the postgres label.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/queue_support.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::eventually;
using keel::testing::RuntimeTest;

namespace {

struct StoredRow {
  std::optional<int64_t> concurrency, worker_concurrency, rate_limit;
  int64_t rate_period_ms = 0;
  bool priority_enabled = false, partitioned = false;
};

std::optional<StoredRow> stored_row(keel::Runtime& rt, const std::string& queue) {
  std::optional<StoredRow> out;
  rt.run_sql_read([&](keel::Sql& sql) {
    const bool sqlite = sql.dialect() == "sqlite";
    std::string cols = sqlite ? "priority_enabled, partitioned" : "priority_enabled::int, partitioned::int";
    auto rows = sql.query("SELECT concurrency, worker_concurrency, rate_limit, rate_period_ms, " + cols + " FROM " +
                              (sqlite ? "keel_queues" : "keel.queues") + " WHERE name = $1",
                          {queue});
    if (rows.empty()) return;
    const auto& r = rows.at(0);
    auto opt = [&](size_t i) { return r.is_null(i) ? std::optional<int64_t>() : std::optional<int64_t>(r.get_int(i)); };
    out = StoredRow{opt(0), opt(1), opt(2), r.get_int(3), r.get_int(4) != 0, r.get_int(5) != 0};
  });
  return out;
}

int count_status(keel::Runtime& rt, const std::vector<std::string>& ids, keel::WorkflowStatus status) {
  int n = 0;
  for (const auto& id : ids)
    if (rt.get_workflow(id)->status == status) ++n;
  return n;
}

class QueueDeclarationTest : public RuntimeTest {};

TEST_F(QueueDeclarationTest, TheFirstDeclarationIsStored) {
  rt->register_queue({.name = "emails",
                      .concurrency = 4,
                      .worker_concurrency = 2,
                      .rate_limit = keel::RateLimit{50, 1s},
                      .priority_enabled = true});
  rt->register_queue({.name = "plain"});
  rt->launch();
  auto emails = stored_row(*rt, "emails");
  ASSERT_TRUE(emails.has_value());
  EXPECT_EQ(emails->concurrency, 4);
  EXPECT_EQ(emails->worker_concurrency, 2);
  EXPECT_EQ(emails->rate_limit, 50);
  EXPECT_EQ(emails->rate_period_ms, 1000);
  EXPECT_TRUE(emails->priority_enabled);
  EXPECT_FALSE(emails->partitioned);
  auto plain = stored_row(*rt, "plain");
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE(plain->concurrency || plain->worker_concurrency || plain->rate_limit);
  EXPECT_EQ(plain->rate_period_ms, 0);
  auto listed = rt->list_queues();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].options.name, "emails");
  EXPECT_EQ(listed[0].options.concurrency, 4);
  ASSERT_TRUE(listed[0].options.rate_limit.has_value());
  EXPECT_EQ(listed[0].options.rate_limit->period, 1000ms);
}

TEST_F(QueueDeclarationTest, TheSameDeclarationInASecondRuntimeIsAccepted) {
  keel::QueueOptions q{.name = "shared", .concurrency = 3, .worker_concurrency = 2};
  rt->register_queue(q);
  rt->launch();
  keel::Runtime other(keel::testing::test_config(dir, "other"));
  other.register_queue(q);
  EXPECT_NO_THROW(other.launch());
  // And again after a restart of the first.
  restart();
  rt->register_queue(q);
  EXPECT_NO_THROW(rt->launch());
}

TEST_F(QueueDeclarationTest, ADifferentDeclarationIsRefusedAtLaunchNamingTheFields) {
  rt->register_queue({.name = "shared", .concurrency = 3, .worker_concurrency = 2});
  rt->launch();
  keel::Runtime other(keel::testing::test_config(dir, "other"));
  other.register_queue({.name = "shared", .concurrency = 5, .worker_concurrency = 2,
                        .rate_limit = keel::RateLimit{10, 1s}});
  auto job = other.register_workflow("job", [](keel::Context&, int x) { return x; });
  try {
    other.launch();
    FAIL() << "a different declaration was accepted";
  } catch (const keel::ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("queue 'shared'"), std::string::npos) << m;
    EXPECT_NE(m.find("concurrency 5 here, 3 stored"), std::string::npos) << m;
    EXPECT_NE(m.find("rate_limit 10 per 1000 ms here, none stored"), std::string::npos) << m;
    EXPECT_EQ(m.find("worker_concurrency"), std::string::npos) << "an equal field is not named: " << m;
  }
  // Nothing was launched, and the stored declaration is unchanged.
  EXPECT_THROW((void)other.enqueue(job, "shared", {}, 1), keel::RuntimeStateError);
  auto row = stored_row(*rt, "shared");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->concurrency, 3);
  EXPECT_FALSE(row->rate_limit.has_value());
}

TEST_F(QueueDeclarationTest, AnExplicitUpdateChangesWhatAnotherProcesssDequeuerEnforces) {
  rt->register_queue({.name = "serial", .concurrency = 1});
  auto hold = rt->register_workflow("hold", [](keel::Context& ctx, int x) {
    ctx.recv<int>("go", 60s);
    return x;
  });
  rt->launch();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(rt->enqueue(hold, "serial", {}, i).id());
  ASSERT_TRUE(eventually([&] { return count_status(*rt, ids, keel::WorkflowStatus::Pending) == 1; }));
  std::this_thread::sleep_for(300ms);  // several polls: the limit of 1 holds
  EXPECT_EQ(count_status(*rt, ids, keel::WorkflowStatus::Pending), 1);

  // Another process (no workflow of the queue registered: it dequeues
  // nothing) replaces the stored limit; the first process's dequeuer, whose
  // own declaration still says 1, now starts the other two.
  keel::Runtime admin(keel::testing::test_config(dir, "admin"));
  admin.register_queue({.name = "serial", .concurrency = 3, .update_stored = true});
  admin.launch();
  EXPECT_EQ(stored_row(*rt, "serial")->concurrency, 3);
  ASSERT_TRUE(eventually([&] { return count_status(*rt, ids, keel::WorkflowStatus::Pending) == 3; }));
  for (const auto& id : ids) EXPECT_EQ(rt->get_workflow(id)->executor_id, "test");
  auto listed = rt->list_queues();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].options.concurrency, 3) << "list_queues shows the stored limits";
  for (const auto& id : ids) rt->send(id, 1, "go");
  ASSERT_TRUE(eventually([&] { return count_status(*rt, ids, keel::WorkflowStatus::Success) == 3; }));

  // The former declaration is now refused.
  keel::Runtime late(keel::testing::test_config(dir, "late"));
  late.register_queue({.name = "serial", .concurrency = 1});
  EXPECT_THROW(late.launch(), keel::ConfigError);
}

}  // namespace
