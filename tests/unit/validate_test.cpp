// Every configuration check in one place (src/common/validate.cpp): each bad
// value throws ConfigError (UsageError for a missing queue name) naming it,
// and the Runtime and Client constructors refuse it before opening anything.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "keel/keel.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;

template <class Config>
void expect_refused(Config c, const std::function<void(Config&)>& spoil, const std::string& names) {
  spoil(c);
  try {
    keel::validate(c);
    ADD_FAILURE() << "accepted a bad " << names;
  } catch (const keel::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

TEST(Validate, TheDefaultsAreValid) {
  EXPECT_NO_THROW(keel::validate(keel::RuntimeConfig{}));
  EXPECT_NO_THROW(keel::validate(keel::ClientConfig{.database_url = "sqlite:x.db"}));
  EXPECT_NO_THROW(keel::validate(keel::QueueOptions{.name = "q"}));
}

TEST(Validate, EachBadRuntimeValueIsNamed) {
  using C = keel::RuntimeConfig;
  expect_refused<C>({}, [](C& c) { c.database_url = "mysql://x"; }, "unknown scheme");
  expect_refused<C>({}, [](C& c) { c.database_url = "sqlite:"; }, "names no file");
  expect_refused<C>({}, [](C& c) { c.executor_id = ""; }, "executor_id");
  expect_refused<C>({}, [](C& c) { c.max_recovery_attempts = 0; }, "max_recovery_attempts");
  expect_refused<C>({}, [](C& c) { c.poll_interval = 0ms; }, "poll_interval");
  expect_refused<C>({}, [](C& c) { c.max_workflow_threads = 0; }, "max_workflow_threads");
  expect_refused<C>({}, [](C& c) { c.park_after = -1ms; }, "park_after");
  expect_refused<C>({}, [](C& c) { c.max_suspended_workflows = -1; }, "max_suspended_workflows");
  expect_refused<C>({}, [](C& c) { c.suspend_after_operations = 0; }, "suspend_after_operations");
  expect_refused<C>({}, [](C& c) { c.suspended_wait_limit = -1ms; }, "suspended_wait_limit");
  expect_refused<C>({}, [](C& c) { c.postgres_writer_connections = 0; }, "postgres_writer_connections");
  expect_refused<C>({}, [](C& c) { c.postgres_reader_idle_timeout = -1ms; }, "postgres_reader_idle_timeout");
  expect_refused<C>({}, [](C& c) { c.heartbeat_interval = 0ms; }, "heartbeat_interval");
  expect_refused<C>({}, [](C& c) { c.lease_timeout = 2 * c.heartbeat_interval; }, "lease_timeout");
}

TEST(Validate, EachBadClientValueIsNamed) {
  using C = keel::ClientConfig;
  C ok{.database_url = "postgresql://u@127.0.0.1:1/db"};
  expect_refused<C>(ok, [](C& c) { c.database_url = ""; }, "unknown scheme");
  expect_refused<C>(ok, [](C& c) { c.poll_interval = -5ms; }, "poll_interval");
  expect_refused<C>(ok, [](C& c) { c.executor_id = ""; }, "executor_id");
}

TEST(Validate, EachBadQueueValueIsNamed) {
  using Q = keel::QueueOptions;
  EXPECT_THROW(keel::validate(Q{}), keel::UsageError);
  expect_refused<Q>({.name = "q"}, [](Q& q) { q.concurrency = 0; }, "concurrency");
  expect_refused<Q>({.name = "q"}, [](Q& q) { q.worker_concurrency = 0; }, "worker_concurrency");
  expect_refused<Q>({.name = "q", .concurrency = 2}, [](Q& q) { q.worker_concurrency = 3; }, "must not exceed");
  expect_refused<Q>({.name = "q"}, [](Q& q) { q.rate_limit = keel::RateLimit{1, 0ms}; }, "rate limit");
}

TEST(Validate, TheRuntimeRefusesABadConfigBeforeCreatingItsFile) {
  keel::testing::TempDir dir;
  auto path = dir.path() / "never.db";
  keel::RuntimeConfig c{.database_url = "sqlite:" + path.string()};
  c.max_workflow_threads = 0;
  EXPECT_THROW(keel::Runtime{c}, keel::ConfigError);
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
