// Schedules through real crashes (keel_schedule_worker, SIGKILLed at a
// tick's commit points and restarted), on SQLite and, through
// tests/postgres, on PostgreSQL: with run_each no tick is lost, and none
// runs twice (each tick's transaction leaves one row), also with a second
// executor running the same schedule all along.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "support/child_process.hpp"
#include "support/runtime_fixture.hpp"
#include "support/schedule_support.hpp"

namespace keel::testing {
namespace {

struct Kill {
  std::string point;
  int after;
};

// Kills around the ticks' commits: after a tick's start committed and
// before the last tick moved, after it moved, and at the group commits of
// the starts and of the ticks' own transactions.
const std::vector<Kill> kKills{{"schedule.tick_started", 1}, {"schedule.advanced", 1},
                               {"checkpoint.after_commit", 2}, {"checkpoint.before_commit", 3},
                               {"schedule.tick_started", 2},  {"checkpoint.after_commit", 5}};

class ScheduleCrashTest : public ::testing::Test {
 protected:
  ~ScheduleCrashTest() override {
    if (testing_on_postgres()) detail::PgTestDatabases::instance().drop(detail::database_for(dir));
  }
  std::unique_ptr<ChildProcess> spawn(const std::string& executor, const Kill& kill, int run_ms) {
    return std::make_unique<ChildProcess>(
        KEEL_SCHEDULE_WORKER,
        std::vector<std::string>{"--db", url, "--executor", executor, "--kill-point", kill.point, "--kill-after",
                                 std::to_string(kill.after), "--run-ms", std::to_string(run_ms)},
        dir.file("worker.stderr"));
  }
  // Runs a worker until it dies at kill (or ends: then the point was not reached).
  void run_killed(const std::string& executor, const Kill& kill) {
    auto w = spawn(executor, kill, 20000);
    int status = w->wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << kill.point << " #" << kill.after << ": " << describe_status(status);
  }
  void run_clean(const std::string& executor, int run_ms) {
    auto w = spawn(executor, {"none", 0}, run_ms);
    int status = w->wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_status(status);
  }
  // Every tick ran once, and none between the first and the last is missing.
  void check() {
    Runtime rt(test_config(dir, "checker"));
    auto rows = tick_rows(rt);
    auto workflows = tick_workflows(rt, "every");
    ASSERT_GE(rows.size(), 3u);
    std::vector<int64_t> ticks;
    for (const auto& [tick, n] : rows) {
      EXPECT_EQ(n, 1) << "tick " << tick << " ran " << n << " times";
      ticks.push_back(tick);
    }
    EXPECT_EQ(ticks, ticks_between("* * * * * *", ticks.front(), ticks.back())) << "a tick was lost";
    EXPECT_EQ(workflows.size(), rows.size());
    for (const auto& [id, status] : workflows) EXPECT_EQ(status, WorkflowStatus::Success) << id;
  }

  TempDir dir;
  std::string url = test_db_url(dir);
};

TEST_F(ScheduleCrashTest, KilledAtTickCommitsLosesNoTickAndDoublesNone) {
  for (const auto& kill : kKills) run_killed("solo", kill);
  run_clean("solo", 2500);  // recovers what the last kill left PENDING
  check();
}

TEST_F(ScheduleCrashTest, TwoExecutorsOneKilledRepeatedly) {
  auto steady = spawn("steady", {"none", 0}, 14000);
  // Its launch first: two processes creating the schema and the tick table
  // at once on PostgreSQL may collide in CREATE TABLE IF NOT EXISTS.
  auto line = steady->read_line(Clock::now() + std::chrono::seconds(60));
  ASSERT_TRUE(line && line->find("@@ launched") == 0) << (line ? *line : "end of output");
  for (const auto& kill : kKills) run_killed("crashing", kill);
  run_clean("crashing", 2500);
  int status = steady->wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_status(status);
  check();
}

}  // namespace
}  // namespace keel::testing
