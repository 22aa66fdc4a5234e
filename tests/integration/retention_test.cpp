// Retention (RuntimeConfig::retention): finished workflows deleted by age and
// beyond a count, the global timeout, one executor at a time, bad settings.
// Runs on SQLite, and on PostgreSQL under ctest -L postgres.
#include <gtest/gtest.h>

#include <thread>

#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

using keel::WorkflowStatus;

class RetentionTest : public keel::testing::RuntimeTest {
 protected:
  // A Runtime of executor `executor` with these retention settings, launched.
  std::unique_ptr<keel::Runtime> open(const keel::RetentionConfig& retention, const std::string& executor = "test") {
    auto c = keel::testing::test_config(dir, executor);
    c.retention = retention;
    c.heartbeat_interval = 100ms;
    c.lease_timeout = 1000ms;
    auto r = std::make_unique<keel::Runtime>(c);
    r->register_workflow("ok", [](keel::Context& ctx, int x) {
      ctx.step("s", [] {});
      return x;
    });
    r->register_workflow("wait", [](keel::Context& ctx, int) { return ctx.recv<int>("go", 60s).value_or(-1); });
    (void)r->launch();
    return r;
  }
  static void finish(keel::Runtime& r, const std::string& id) {
    ASSERT_EQ(r.start(keel::Workflow<int, int>("ok"), {.workflow_id = id}, 1).result_for(20s), 1);
  }
  static size_t count(keel::Runtime& r, const keel::ListWorkflowsQuery& q) { return r.list_workflows(q).size(); }
};

TEST_F(RetentionTest, FinishedWorkflowsOlderThanTheAgeAreDeleted) {
  rt.reset();
  auto r = open({.finished_older_than = 300ms, .interval = 100ms, .batch_size = 2});
  for (int i = 0; i < 5; ++i) finish(*r, "old-" + std::to_string(i));
  (void)r->start(keel::Workflow<int, int>("wait"), {.workflow_id = "running"}, 0);
  ASSERT_TRUE(keel::testing::eventually([&] { return count(*r, {.id_prefix = "old-"}) == 0; }, 10s))
      << "deleted in batches of 2";
  EXPECT_TRUE(r->list_steps("old-0").empty()) << "with what they recorded";
  EXPECT_EQ(r->get_workflow("running")->status, WorkflowStatus::Pending) << "an unfinished one stays";
  finish(*r, "fresh");
  EXPECT_TRUE(r->get_workflow("fresh").has_value()) << "younger than the age: kept for now";
}

TEST_F(RetentionTest, OnlyTheNewestFinishedWorkflowsBeyondTheCountAreDeleted) {
  rt.reset();
  auto r = open({.max_finished_workflows = 3, .interval = 100ms, .batch_size = 2});
  for (int i = 0; i < 8; ++i) {
    finish(*r, "w-" + std::to_string(i));
    std::this_thread::sleep_for(2ms);  // distinct creation times: "newest" is well defined
  }
  ASSERT_TRUE(keel::testing::eventually([&] { return count(*r, {.id_prefix = "w-"}) == 3; }, 10s));
  std::this_thread::sleep_for(300ms);
  auto kept = r->list_workflows({.id_prefix = "w-", .order = keel::ListOrder::OldestFirst});
  ASSERT_EQ(kept.size(), 3u) << "no more than the excess";
  EXPECT_EQ(kept[0].id, "w-5");
  EXPECT_EQ(kept[2].id, "w-7");
}

TEST_F(RetentionTest, TheGlobalTimeoutCancelsOldUnfinishedWorkflows) {
  rt.reset();
  auto r = open({.global_timeout = 1000ms, .interval = 100ms});
  (void)r->start(keel::Workflow<int, int>("wait"), {.workflow_id = "stuck"}, 0);
  ASSERT_TRUE(keel::testing::eventually([&] { return r->get_workflow("stuck")->status == WorkflowStatus::Cancelled; },
                                        10s));
  (void)r->start(keel::Workflow<int, int>("wait"), {.workflow_id = "young"}, 0);
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(r->get_workflow("young")->status, WorkflowStatus::Pending) << "younger than the timeout";
  r->send("young", 4, "go");
  EXPECT_EQ(r->retrieve<int>("young").result_for(20s), 4);
}

// The live executor with the smallest id applies retention: "b" waits while
// "a" lives, and takes over the job once "a" is gone.
TEST_F(RetentionTest, OneExecutorAtATime) {
  rt.reset();
  auto a = open({}, "a");
  auto b = open({.finished_older_than = 100ms, .interval = 100ms}, "b");
  finish(*b, "done");
  std::this_thread::sleep_for(800ms);
  EXPECT_TRUE(b->get_workflow("done").has_value()) << "not b's turn while a lives";
  a.reset();  // a clean shutdown releases a's lease
  EXPECT_TRUE(keel::testing::eventually([&] { return !b->get_workflow("done").has_value(); }, 10s));
}

TEST_F(RetentionTest, BadSettingsAreConfigErrors) {
  auto with = [&](const keel::RetentionConfig& r) {
    auto c = keel::testing::test_config(dir);
    c.retention = r;
    return c;
  };
  EXPECT_THROW(keel::validate(with({.finished_older_than = 0ms})), keel::ConfigError);
  EXPECT_THROW(keel::validate(with({.max_finished_workflows = -1})), keel::ConfigError);
  EXPECT_THROW(keel::validate(with({.global_timeout = -5ms})), keel::ConfigError);
  EXPECT_THROW(keel::validate(with({.interval = 0ms})), keel::ConfigError);
  EXPECT_THROW(keel::validate(with({.batch_size = 0})), keel::ConfigError);
  EXPECT_THROW(keel::validate(with({.batch_size = keel::kMaxListLimit + 1})), keel::ConfigError);
  EXPECT_NO_THROW(keel::validate(with({.max_finished_workflows = 0})));
}

}  // namespace
