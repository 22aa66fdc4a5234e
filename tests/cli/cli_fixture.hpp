// Shared by the `keel` command's tests (cli_test.cpp, cli_find_test.cpp): a
// Runtime on a fresh database with a few finished workflows, and the helpers
// that run the real binary and read what it printed.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "keel/keel.hpp"
#include "run_in_pty.hpp"
#include "table.hpp"
#include "run_process.hpp"
#include "support/sample_workflows.hpp"
#include "support/temp_dir.hpp"
#include "support/test_databases.hpp"

namespace keel_cli_testing {

using namespace std::chrono_literals;
using keel::Json;
using keel::testing::ProcessResult;

inline constexpr int kNotFound = 2;
inline constexpr int kDatabase = 3;
inline constexpr int kConflict = 5;
inline constexpr int kUsage = 64;

// Runs `keel args...` without KEEL_DATABASE_URL unless given.
inline ProcessResult keel_cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
  return keel::testing::run_process(KEEL_CLI_PATH, args, env, {"KEEL_DATABASE_URL"});
}

inline std::string describe(const ProcessResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "\n--- stderr:\n" + r.err;
}

// The whole of stdout as JSON; fails the test when it is not.
inline Json stdout_json(const ProcessResult& r) {
  Json j = Json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not JSON: " << describe(r);
  return j;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using keel::testing::eventually;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keel::RuntimeConfig c;
    c.database_url = db_url();
    c.executor_id = "cli-test";
    c.poll_interval = 50ms;
    rt_ = std::make_unique<keel::Runtime>(c);
    wf_ = std::make_unique<keel::testing::SampleWorkflows>(*rt_);
    // A parent of one greet child, for --parent.
    rt_->register_workflow("parent", [](keel::Context& ctx, std::string who) {
      return ctx.start_child(keel::Workflow<std::string, std::string>("greet"), who).result();
    });
    rt_->launch();
    EXPECT_EQ(rt_->start(wf_->greet, {.workflow_id = "g-1"}, "ann").result_for(10s), "hello ann");
    EXPECT_EQ(rt_->start(wf_->greet, {.workflow_id = "g-2"}, "bob").result_for(10s), "hello bob");
    EXPECT_ANY_THROW(rt_->start(wf_->failing, {.workflow_id = "f-1"}).result_for(10s));
  }

  void TearDown() override {
    rt_.reset();
    if (keel::testing::testing_on_postgres())
      keel::testing::detail::PgTestDatabases::instance().drop(keel::testing::detail::database_for(dir_));
  }

  // The test's database: its SQLite file, or a fresh PostgreSQL database
  // under KEEL_TEST_DATABASE_URL (the postgres.Cli* run).
  std::string db_url() const { return keel::testing::test_db_url(dir_); }

  std::vector<std::string> with_db(std::vector<std::string> args) {
    args.push_back("--db");
    args.push_back(db_url());
    return args;
  }

  // Returns once the waiter waits in its recv: its step and the recv's
  // deadline are recorded. (A recv that finds its message at once records
  // no deadline, so a waiter sent a message any earlier has one record fewer.)
  void start_waiter(const std::string& id) {
    (void)rt_->start(wf_->waiter, {.workflow_id = id});
    ASSERT_TRUE(eventually([&] { return rt_->list_steps(id).size() >= 2; }));
  }

  keel::testing::TempDir dir_;
  std::unique_ptr<keel::Runtime> rt_;
  std::unique_ptr<keel::testing::SampleWorkflows> wf_;
};

inline std::set<std::string> ids_of(const Json& list) {
  std::set<std::string> ids;
  for (const auto& w : list.at("workflows")) ids.insert(w.at("id").get<std::string>());
  return ids;
}


}  // namespace keel_cli_testing
