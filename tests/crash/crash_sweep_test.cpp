// keel::testing::sweep_crashes (keel/crash_sweep.hpp), the crash-sweep kit
// for users, on a small payment workflow: a transaction reserves, a step
// charges (an outside effect), a second transaction records the order. The
// sweep kills a real child process at every checkpoint commit and the
// invariants are checked after recovery. On PostgreSQL when
// KEEL_TEST_DATABASE_URL is set (tests/postgres), else on SQLite files.
#include <gtest/gtest.h>

#include <string>

#include "keel/crash_sweep.hpp"
#include "keel/keel.hpp"
#include "support/temp_dir.hpp"
#include "support/test_databases.hpp"

namespace {

using keel::testing::CrashCase;
using keel::testing::CrashSweep;

int count_rows(keel::Runtime& rt, const std::string& table) {
  int64_t n = 0;
  rt.run_sql_read([&](keel::Sql& sql) { n = sql.query_one("SELECT count(*) FROM " + table)->get_int(0); });
  return static_cast<int>(n);
}

class CrashSweepTest : public ::testing::Test {
 protected:
  CrashSweep payment_sweep() {
    CrashSweep s;
    s.config.executor_id = "sweep";
    s.config.poll_interval = std::chrono::milliseconds(20);
    s.database_url = [this](int n) { return keel::testing::named_test_db_url(dir, "c" + std::to_string(n)); };
    s.setup = [](keel::Runtime& rt) {
      rt.register_workflow("pay", [](keel::Context& ctx, int amount) {
        ctx.transaction("reserve", [&](keel::Sql& sql) {
          sql.execute("CREATE TABLE IF NOT EXISTS reservations (amount INTEGER)");
          sql.execute("INSERT INTO reservations VALUES ($1)", {int64_t{amount}});
        });
        auto receipt = ctx.step("charge", [&] { return "receipt-" + std::to_string(amount); });
        ctx.transaction("record", [&](keel::Sql& sql) {
          sql.execute("CREATE TABLE IF NOT EXISTS orders (receipt TEXT)");
          sql.execute("INSERT INTO orders VALUES ($1)", {receipt});
        });
        return receipt;
      });
    };
    s.start = [](keel::Runtime& rt) {
      (void)rt.start(keel::Workflow<std::string, int>("pay"), {.workflow_id = "order-1"}, 42);
    };
    return s;
  }
  keel::testing::TempDir dir;
};

// The checkout-like rules hold at every crash point: the workflow ends once
// with its result, each transaction's row exists exactly once, and the
// charge ran once, or twice only when the crash came before its record was
// committed (a step is at least once).
TEST_F(CrashSweepTest, EveryCheckpointBoundaryRecoversWithTheInvariantsHeld) {
  CrashSweep s = payment_sweep();
  s.check = [](keel::Runtime& rt, const CrashCase& c) {
    auto info = rt.get_workflow("order-1");
    if (!info || info->status != keel::WorkflowStatus::Success) throw std::runtime_error("order-1 did not succeed");
    if (!info->output || *info->output != keel::Json("receipt-42")) throw std::runtime_error("wrong result");
    if (count_rows(rt, "reservations") != 1) throw std::runtime_error("reservations != 1");
    if (count_rows(rt, "orders") != 1) throw std::runtime_error("orders != 1");
    if (c.runs_of("charge") < 1 || c.runs_of("charge") > 2) throw std::runtime_error("charge ran a wrong number of times");
  };
  auto report = keel::testing::sweep_crashes(s);
  EXPECT_TRUE(report.ok()) << report.summary();
  EXPECT_TRUE(report.reference.finished);
  EXPECT_EQ(report.reference.runs_of("charge"), 1);
  EXPECT_EQ(report.reference.processes, 1);
  ASSERT_GE(report.hits["checkpoint.after_commit"], 3) << "the workflow commits at least three times";
  int crashed = 0;
  for (const CrashCase& c : report.cases) {
    crashed += c.crashed;
    if (c.crashed) {
      EXPECT_GE(c.processes, 2) << report.summary();
    }
  }
  EXPECT_GE(crashed, 3) << report.summary();
  EXPECT_EQ(report.cases.size(),
            size_t(report.hits["checkpoint.before_commit"] + report.hits["checkpoint.after_commit"]));
  std::cout << report.summary();
}

// ctx.continue_as_new under a crash at every commit and at the hand-over
// itself: each of three runs records its row exactly once, the loop ends
// once with the sum of all runs, and only the last run's history is kept.
TEST_F(CrashSweepTest, ContinueAsNewHandsOverExactlyOnceAtEveryCrashPoint) {
  static const keel::Workflow<int, int, int> kLoop("loop");
  CrashSweep s = payment_sweep();
  s.setup = [](keel::Runtime& rt) {
    rt.register_workflow("loop", [](keel::Context& ctx, int run, int sum) {
      ctx.transaction("row", [&](keel::Sql& sql) {
        sql.execute("CREATE TABLE IF NOT EXISTS runs (run INTEGER)");
        sql.execute("INSERT INTO runs VALUES ($1)", {int64_t{run}});
      });
      int added = ctx.step("add", [&] { return sum + run; });
      if (run < 3) ctx.continue_as_new(kLoop, run + 1, added);
      return added;
    });
  };
  s.start = [](keel::Runtime& rt) { (void)rt.start(kLoop, {.workflow_id = "loop-1"}, 1, 0); };
  s.points = {"checkpoint.before_commit", "checkpoint.after_commit", "continue_as_new.before",
              "continue_as_new.after"};
  s.check = [](keel::Runtime& rt, const CrashCase& c) {
    auto info = rt.get_workflow("loop-1");
    if (!info || info->status != keel::WorkflowStatus::Success) throw std::runtime_error("loop-1 did not succeed");
    if (!info->output || *info->output != keel::Json(6)) throw std::runtime_error("wrong sum: " + info->output->dump());
    if (count_rows(rt, "runs") != 3) throw std::runtime_error("runs != 3");
    int64_t distinct = 0;
    rt.run_sql_read([&](keel::Sql& sql) { distinct = sql.query_one("SELECT count(DISTINCT run) FROM runs")->get_int(0); });
    if (distinct != 3) throw std::runtime_error("a run's row is missing");
    auto steps = rt.list_steps("loop-1");
    if (steps.empty() || steps.front().name != "keel.continue_as_new" || steps.size() != 3)
      throw std::runtime_error("the history is not the last run's alone");
    if (c.runs_of("add") < 3 || c.runs_of("add") > 4) throw std::runtime_error("add ran a wrong number of times");
  };
  auto report = keel::testing::sweep_crashes(s);
  EXPECT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(report.hits["continue_as_new.before"], 2);
  EXPECT_EQ(report.hits["continue_as_new.after"], 2);
  int crashed = 0;
  for (const CrashCase& c : report.cases) crashed += c.crashed;
  EXPECT_GE(crashed, 10) << report.summary();
}

// The kit catches a broken invariant: "the charge ran exactly once" is false
// when the process dies after the charge but before its record commits, and
// the report says which case.
TEST_F(CrashSweepTest, ABrokenInvariantIsReportedWithItsCrashPoint) {
  CrashSweep s = payment_sweep();
  s.points = {"checkpoint.before_commit"};
  s.check = [](keel::Runtime&, const CrashCase& c) {
    if (c.runs_of("charge") != 1) throw std::runtime_error("charged " + std::to_string(c.runs_of("charge")) + " times");
  };
  auto report = keel::testing::sweep_crashes(s);
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(report.reference.held);
  int failed = 0;
  for (const CrashCase& c : report.cases) {
    if (c.held) continue;
    ++failed;
    EXPECT_TRUE(c.crashed);
    EXPECT_EQ(c.failure, "charged 2 times");
  }
  EXPECT_GE(failed, 1) << report.summary();
  EXPECT_NE(report.summary().find("FAILED: charged 2 times"), std::string::npos) << report.summary();
}

// A case whose work cannot finish is reported, not waited for forever.
TEST_F(CrashSweepTest, ACaseThatCannotFinishFailsAfterItsTimeout) {
  CrashSweep s = payment_sweep();
  s.setup = [](keel::Runtime& rt) {
    rt.register_workflow("stuck", [](keel::Context& ctx) {
      return ctx.recv<int>("never", std::chrono::hours(1)).value_or(0);
    });
  };
  s.start = [](keel::Runtime& rt) { (void)rt.start(keel::Workflow<int>("stuck"), {.workflow_id = "s"}); };
  s.check = [](keel::Runtime&, const CrashCase&) {};
  s.case_timeout = std::chrono::milliseconds(1500);
  auto report = keel::testing::sweep_crashes(s);
  EXPECT_FALSE(report.ok());
  EXPECT_FALSE(report.reference.finished);
  EXPECT_NE(report.reference.failure.find("did not finish within 1500 ms"), std::string::npos)
      << report.reference.failure;
  EXPECT_TRUE(report.cases.empty()) << "nothing is swept without a reference run";
}

TEST_F(CrashSweepTest, AnIncompleteSweepIsAUsageError) {
  CrashSweep s = payment_sweep();
  EXPECT_THROW((void)keel::testing::sweep_crashes(s), keel::UsageError);  // no check
  s.check = [](keel::Runtime&, const CrashCase&) {};
  s.points.clear();
  EXPECT_THROW((void)keel::testing::sweep_crashes(s), keel::UsageError);
}

}  // namespace
