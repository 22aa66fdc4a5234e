// Debouncing through real crashes (keel_debounce_worker, SIGKILLed at the
// fire's fault points and restarted), on SQLite and, through the postgres.
// prefix, on PostgreSQL: killed before the fire commits, the burst stays and
// fires after the restart; killed after it committed, the workflow is
// PENDING and recovered; with a second executor live all along, it fires
// or takes over. Every time, the burst ran exactly once, with its last input.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "debounce/debounce_support.hpp"
#include "support/child_process.hpp"
#include "support/runtime_fixture.hpp"

namespace keel::testing {
namespace {

class DebounceCrashTest : public ::testing::Test {
 protected:
  ~DebounceCrashTest() override {
    if (testing_on_postgres()) detail::PgTestDatabases::instance().drop(detail::database_for(dir));
  }
  std::unique_ptr<ChildProcess> spawn(const std::string& executor, const std::string& kill_point, int calls,
                                      int run_ms) {
    return std::make_unique<ChildProcess>(
        KEEL_DEBOUNCE_WORKER,
        std::vector<std::string>{"--db", url, "--executor", executor, "--kill-point", kill_point, "--calls",
                                 std::to_string(calls), "--run-ms", std::to_string(run_ms)},
        dir.file(executor + ".stderr"));
  }
  // Makes the burst's 5 calls in a worker killed at kill_point; returns the target ID.
  std::string run_killed(const std::string& executor, const std::string& kill_point) {
    auto w = spawn(executor, kill_point, 5, 20000);
    std::string target;
    while (auto line = w->read_line(Clock::now() + std::chrono::seconds(60)))
      if (line->rfind("@@ target ", 0) == 0) target = line->substr(10);
    int status = w->wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << kill_point << ": " << describe_status(status);
    return target;
  }
  void run_clean(const std::string& executor, int run_ms) {
    auto w = spawn(executor, "none", 0, run_ms);
    int status = w->wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_status(status);
  }
  // The burst ran once, as `target`, with the last call's input; nothing is left stored.
  void check_ran_once(const std::string& target) {
    Runtime rt(test_config(dir, "checker"));
    auto runs = debounce_runs(rt);
    ASSERT_EQ(runs.size(), 1u) << "the burst ran " << runs.size() << " times";
    EXPECT_EQ(runs[0].value, 5);
    EXPECT_EQ(runs[0].workflow_id, target);
    EXPECT_EQ(stored_bursts(rt), 0);
    auto info = rt.get_workflow(target);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->status, WorkflowStatus::Success);
  }

  TempDir dir;
  std::string url = test_db_url(dir);
};

TEST_F(DebounceCrashTest, KilledBeforeTheFireCommitsTheBurstFiresAfterTheRestart) {
  const std::string target = run_killed("solo", "debounce.fire_started");
  ASSERT_FALSE(target.empty());
  {
    Runtime rt(test_config(dir, "checker"));
    EXPECT_EQ(stored_bursts(rt), 1) << "the burst survives the crash";
    EXPECT_FALSE(rt.get_workflow(target)) << "nothing fired";
  }
  run_clean("solo", 2500);
  check_ran_once(target);
}

TEST_F(DebounceCrashTest, KilledAfterTheFireCommitsTheWorkflowIsRecovered) {
  const std::string target = run_killed("solo", "debounce.fired");
  ASSERT_FALSE(target.empty());
  {
    Runtime rt(test_config(dir, "checker"));
    EXPECT_EQ(stored_bursts(rt), 0) << "the fire deleted the burst";
    auto info = rt.get_workflow(target);
    ASSERT_TRUE(info) << "... and inserted its workflow in the same commit";
    EXPECT_EQ(info->status, WorkflowStatus::Pending);
    EXPECT_TRUE(debounce_runs(rt).empty());
  }
  run_clean("solo", 2500);
  check_ran_once(target);
}

TEST_F(DebounceCrashTest, ASecondExecutorFiresOrTakesOverTheBurst) {
  auto steady = spawn("steady", "none", 0, 8000);
  // Its launch first: two processes creating the schema and the run table
  // at once on PostgreSQL may collide in CREATE TABLE IF NOT EXISTS.
  auto line = steady->read_line(Clock::now() + std::chrono::seconds(60));
  ASSERT_TRUE(line && line->find("@@ launched") == 0) << (line ? *line : "end of output");
  // Killed after its fire committed (when it, not steady, fired the burst):
  // steady takes its PENDING workflow over once its lease expired.
  auto w = spawn("crashing", "debounce.fired", 5, 3000);
  std::string target;
  while (auto l = w->read_line(Clock::now() + std::chrono::seconds(60)))
    if (l->rfind("@@ target ", 0) == 0) target = l->substr(10);
  (void)w->wait();
  int status = steady->wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_status(status);
  ASSERT_FALSE(target.empty());
  check_ran_once(target);
}

}  // namespace
}  // namespace keel::testing
