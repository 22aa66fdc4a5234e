// Versions route work (docs/upgrades.md): an executor runs only workflows of
// its application_version. Recovery at launch, takeover of a dead executor,
// resume and dequeue each hand a workflow only to an executor of the version
// that recorded it; the others are released (PENDING under executor '') and
// claimed by their version's executors. Runs on both backends.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::eventually;

namespace {

class VersionRoutingTest : public keel::testing::RuntimeTest {
 protected:
  keel::RuntimeConfig config(const std::string& executor, const std::string& version) {
    auto c = keel::testing::test_config(dir, executor);
    c.application_version = version;
    c.heartbeat_interval = 50ms;
    c.lease_timeout = 400ms;
    return c;
  }
  // "waiter": step "before"; recv "go"; returns the message and the version
  // of the code that finished it.
  void register_waiter(keel::Runtime& r, const std::string& version) {
    r.register_workflow("waiter", [this, version](keel::Context& ctx) {
      ctx.step("before", [&] { effects.hit(ctx.workflow_id() + ":before"); });
      auto go = ctx.recv<std::string>("go", 60s);
      return go.value_or("timeout") + "@" + version;
    });
    r.register_workflow("job", [version](keel::Context&) { return version; });
  }
  std::unique_ptr<keel::Runtime> launched(const std::string& executor, const std::string& version,
                                          keel::LaunchReport* report = nullptr) {
    auto r = std::make_unique<keel::Runtime>(config(executor, version));
    register_waiter(*r, version);
    r->register_queue({.name = "q"});
    auto rep = r->launch();
    if (report) *report = rep;
    return r;
  }
  void start_parked(keel::Runtime& r, const std::string& id) {
    (void)r.start(keel::Workflow<std::string>("waiter"), {.workflow_id = id});
    ASSERT_TRUE(eventually([&] { return effects.count(id + ":before") == 1; })) << id;
    // And recorded (by the recv, before it waits): a cancel before that
    // would drop the record, and the step would run again, as documented.
    ASSERT_TRUE(eventually([&] { return !r.list_steps(id).empty(); })) << id;
  }
  std::string executor_of(keel::Runtime& r, const std::string& id) { return r.get_workflow(id)->executor_id; }
  static bool lists(const std::vector<keel::WorkflowInfo>& infos, const std::string& id) {
    return std::any_of(infos.begin(), infos.end(), [&](const keel::WorkflowInfo& w) { return w.id == id; });
  }
};

// SQLite's one-process-at-a-time upgrade: the new build's launch releases the
// old build's run and reports it; a launch of the old build runs it again.
TEST_F(VersionRoutingTest, ALaunchRunsOnlyItsVersionAndReportsTheOthers) {
  rt = launched("local", "v1");
  start_parked(*rt, "old");
  rt.reset();

  keel::LaunchReport report;
  rt = launched("local", "v2", &report);
  EXPECT_TRUE(report.recovered.empty());
  ASSERT_EQ(report.other_versions.size(), 1u);
  EXPECT_EQ(report.other_versions[0].id, "old");
  EXPECT_EQ(report.other_versions[0].application_version, "v1");
  EXPECT_EQ(executor_of(*rt, "old"), "") << "released for an executor of v1";
  EXPECT_EQ(rt->get_workflow("old")->recovery_attempts, 0) << "v2 did not run it";
  rt->send("old", std::string("hi"), "go");  // waits in its inbox for v1
  start_parked(*rt, "new");
  auto listed = rt->list_workflows({.statuses = {keel::WorkflowStatus::Pending}, .application_version = "v1"});
  EXPECT_TRUE(lists(listed, "old"));
  EXPECT_FALSE(lists(listed, "new"));
  rt.reset();

  rt = launched("local", "v1", &report);
  EXPECT_EQ(report.recovered, std::vector<std::string>{"old"});
  ASSERT_EQ(report.other_versions.size(), 1u);
  EXPECT_EQ(report.other_versions[0].id, "new");
  EXPECT_EQ(rt->retrieve<std::string>("old").result_for(10s), "hi@v1");
  EXPECT_EQ(effects.count("old:before"), 1) << "replayed from its checkpoint";
  rt.reset();

  rt = launched("local", "v2", &report);
  EXPECT_EQ(report.recovered, std::vector<std::string>{"new"});
  EXPECT_TRUE(report.other_versions.empty());
  rt->send("new", std::string("yo"), "go");
  EXPECT_EQ(rt->retrieve<std::string>("new").result_for(10s), "yo@v2");
}

// Old and new executors side by side: a dead executor's workflows go only to
// a live executor of their version, through a takeover or, when another
// version's executor won the dead one, through the release and a claim.
TEST_F(VersionRoutingTest, TakeoversHandEachWorkflowToItsOwnVersion) {
  auto a = launched("a", "v1");
  auto b = launched("b", "v1");
  auto c = launched("c", "v2");
  start_parked(*a, "w1");
  start_parked(*c, "w2");

  a.reset();  // a clean shutdown releases a's lease: b or c wins it, w1 ends on b
  ASSERT_TRUE(eventually([&] { return executor_of(*b, "w1") == "b"; })) << executor_of(*b, "w1");
  b->send("w1", std::string("one"), "go");
  EXPECT_EQ(b->retrieve<std::string>("w1").result_for(10s), "one@v1");

  c.reset();  // only b (v1) lives: it releases w2 and leaves it
  ASSERT_TRUE(eventually([&] { return b->list_executors().size() == 1; }));
  EXPECT_EQ(executor_of(*b, "w2"), "");
  EXPECT_EQ(b->get_workflow("w2")->status, keel::WorkflowStatus::Pending);

  auto d = launched("d", "v2");  // a new v2 executor claims it at launch
  EXPECT_EQ(executor_of(*d, "w2"), "d");
  d->send("w2", std::string("two"), "go");
  EXPECT_EQ(d->retrieve<std::string>("w2").result_for(10s), "two@v2");
  EXPECT_EQ(effects.count("w1:before"), 1);
  EXPECT_EQ(effects.count("w2:before"), 1);
}

// Resuming another version's workflow marks it for that version's
// executors: a live one claims it at its next heartbeat.
TEST_F(VersionRoutingTest, ResumeHandsAnotherVersionsWorkflowToALiveExecutorOfThatVersion) {
  auto side = launched("side", "v1");
  auto upgraded = launched("pod", "v2");
  start_parked(*side, "w");
  ASSERT_TRUE(side->cancel("w"));
  ASSERT_TRUE(upgraded->resume("w"));
  EXPECT_EQ(upgraded->get_workflow("w")->status, keel::WorkflowStatus::Pending);
  ASSERT_TRUE(eventually([&] { return executor_of(*side, "w") == "side"; })) << executor_of(*side, "w");
  side->send("w", std::string("back"), "go");
  EXPECT_EQ(side->retrieve<std::string>("w").result_for(10s), "back@v1");
  EXPECT_EQ(effects.count("w:before"), 1);
}

// Dequeue takes only its own version's workflows, and those enqueued for any
// version (a Client without one), which take the dequeuer's version.
TEST_F(VersionRoutingTest, DequeueTakesItsVersionAndUnversionedWorkflowsOnly) {
  auto v2 = launched("new", "v2");
  keel::ClientConfig pinned{.database_url = keel::testing::test_db_url(dir), .application_version = "v1"};
  keel::Client old_client(pinned);
  keel::Client any_client(keel::ClientConfig{.database_url = keel::testing::test_db_url(dir)});
  const keel::Workflow<std::string> job("job");
  (void)old_client.enqueue("q", job, {.workflow_id = "for-v1"});
  (void)any_client.enqueue("q", job, {.workflow_id = "for-any"});
  (void)v2->enqueue(job, "q", {.workflow_id = "for-v2"});
  EXPECT_EQ(v2->retrieve<std::string>("for-any").result_for(10s), "v2");
  EXPECT_EQ(v2->retrieve<std::string>("for-v2").result_for(10s), "v2");
  EXPECT_EQ(v2->get_workflow("for-any")->application_version, "v2") << "stamped at the dequeue";
  EXPECT_EQ(v2->get_workflow("for-v1")->status, keel::WorkflowStatus::Enqueued)
      << "enqueued first, yet left for a v1 executor";
  auto v1 = launched("old", "v1");
  EXPECT_EQ(v1->retrieve<std::string>("for-v1").result_for(10s), "v1");
}

// The upgrade check of a new version can skip the runs it will never run.
TEST_F(VersionRoutingTest, TheUpgradeCheckSelectsByVersion) {
  rt = launched("local", "v1");
  start_parked(*rt, "w");
  rt.reset();
  rt = std::make_unique<keel::Runtime>(config("check", "v2"));
  register_waiter(*rt, "v2");
  EXPECT_EQ(keel::verify_histories(*rt, {.application_version = "v2"}).size(), 0u);
  auto v1 = keel::verify_histories(*rt, {.application_version = "v1"});
  ASSERT_EQ(v1.size(), 1u);
  EXPECT_EQ(v1[0].workflow_id, "w");
  EXPECT_TRUE(v1[0].ok) << v1[0].message;
}

TEST_F(VersionRoutingTest, AnExecutorNeedsAVersion) {
  auto c = config("x", "");
  EXPECT_THROW(keel::Runtime bad(c), keel::ConfigError);
}

}  // namespace
