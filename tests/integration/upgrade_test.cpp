// Changing a workflow's code while runs of it are in flight, on both
// backends: two builds of one workflow (v1's history, v2's code) through a
// restart of the Runtime. ctx.patched() keeps old histories on the old path
// and sends new runs down the new one; ctx.deprecate_patch() cleans up; the
// upgrade check (verify_histories) finds an unpatched change before the
// deploy, and changes nothing in the database.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

enum class Build { V1, V2Patched, V3Deprecated, V2Reordered, V2Shortened, V2Transaction };

class UpgradeTest : public keel::testing::RuntimeTest {
 protected:
  // "order": step a; [patched: step c]; recv "go"; step b. Returns its path.
  void register_order(keel::Runtime& r, Build build) {
    r.register_workflow("order", [this, build](keel::Context& ctx) -> std::string {
      auto step = [&](const char* name) {
        ctx.step(name, [&] { effects.hit(ctx.workflow_id() + ":" + name); });
      };
      if (build == Build::V2Reordered) {  // the unpatched change the check must catch
        step("c");
        step("a");
      } else if (build == Build::V2Transaction) {  // step a became a transaction of the same name
        ctx.transaction("a", [&](keel::Sql&) { effects.hit(ctx.workflow_id() + ":a"); });
      } else {
        step("a");
      }
      bool fresh = false;
      if (build == Build::V2Patched) {
        fresh = ctx.patched("fast-path");
        if (fresh) step("c");
      } else if (build == Build::V3Deprecated) {
        ctx.deprecate_patch("fast-path");
        step("c");
        fresh = true;
      }
      if (build == Build::V2Shortened) return "short";  // the recv and step b removed
      auto go = ctx.recv<bool>("go", 60s);
      step("b");
      return std::string(fresh ? "new" : "old") + (go.value_or(false) ? "" : " (timed out)");
    });
  }
  // A runtime on the same database with `build` registered, launched.
  void deploy(Build build) {
    restart();
    register_order(*rt, build);
    rt->launch();
  }
  // The same, not launched: what a deploy pipeline's check uses.
  std::vector<keel::HistoryCheck> check_with(Build build) {
    rt.reset();
    rt = std::make_unique<keel::Runtime>(keel::testing::test_config(dir, "upgrade-check"));
    register_order(*rt, build);
    return keel::verify_histories(*rt);
  }
  // Starts `id` and returns once its recv's deadline is recorded (parked).
  void start_and_park(const std::string& id) {
    (void)rt->start(keel::Workflow<std::string>("order"), {.workflow_id = id});
    ASSERT_TRUE(keel::testing::eventually([&] { return has_step(id, "keel.deadline"); })) << id << " never parked";
  }
  bool has_step(const std::string& id, const std::string& name) {
    for (const auto& s : rt->list_steps(id))
      if (s.name == name) return true;
    return false;
  }
  std::string finish(const std::string& id) {
    rt->send(id, true, "go");
    return rt->retrieve<std::string>(id).result_for(30s);
  }
};

TEST_F(UpgradeTest, APatchKeepsOldHistoriesOnTheOldPathAndSendsNewRunsDownTheNewOne) {
  deploy(Build::V1);
  start_and_park("old-1");
  deploy(Build::V2Patched);  // old-1 is recovered by v2's code
  start_and_park("new-1");
  EXPECT_EQ(finish("old-1"), "old");
  EXPECT_EQ(finish("new-1"), "new");
  EXPECT_EQ(effects.count("old-1:a"), 1);
  EXPECT_EQ(effects.count("old-1:c"), 0);
  EXPECT_EQ(effects.count("new-1:c"), 1);
  EXPECT_FALSE(has_step("old-1", "keel.patch:fast-path"));
  EXPECT_TRUE(has_step("new-1", "keel.patch:fast-path"));
}

TEST_F(UpgradeTest, APatchedRunReplaysItsPatchAfterARestart) {
  deploy(Build::V2Patched);
  start_and_park("new-2");
  deploy(Build::V2Patched);  // replayed from its history: the marker answers true again
  EXPECT_EQ(finish("new-2"), "new");
  EXPECT_EQ(effects.count("new-2:c"), 1);
}

TEST_F(UpgradeTest, DeprecatingAPatchReplaysMarkedHistoriesAndRecordsNothingNew) {
  deploy(Build::V2Patched);
  start_and_park("marked");
  deploy(Build::V3Deprecated);
  start_and_park("fresh");
  EXPECT_EQ(finish("marked"), "new");
  EXPECT_EQ(finish("fresh"), "new");
  EXPECT_EQ(effects.count("marked:c"), 1);
  EXPECT_EQ(effects.count("fresh:c"), 1);
  EXPECT_FALSE(has_step("fresh", "keel.patch:fast-path"));
}

TEST_F(UpgradeTest, ThePatchedMarkerIsRecordedOnce) {
  deploy(Build::V2Patched);
  start_and_park("m");
  int markers = 0;
  for (const auto& s : rt->list_steps("m")) markers += s.name == "keel.patch:fast-path";
  EXPECT_EQ(markers, 1);
  EXPECT_EQ(finish("m"), "new");
}

TEST_F(UpgradeTest, TheCheckReportsAnUnpatchedReorderWithItsPositionAndNames) {
  deploy(Build::V1);
  start_and_park("old-1");
  auto checks = check_with(Build::V2Reordered);
  ASSERT_EQ(checks.size(), 1u);
  const keel::HistoryCheck& c = checks[0];
  EXPECT_EQ(c.workflow_id, "old-1");
  EXPECT_EQ(c.workflow_name, "order");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.position, 1);
  EXPECT_EQ(c.recorded, "a");
  EXPECT_EQ(c.called, "c");
  EXPECT_NE(c.message.find("'a'"), std::string::npos) << c.message;
  EXPECT_EQ(c.registered_at.rfind(__FILE__ ":", 0), 0u) << c.registered_at;  // register_order's call
  EXPECT_NE(c.message.find("registered at " + c.registered_at), std::string::npos) << c.message;
}

// The operation kind is recorded with the name: a step that became a
// transaction of the same name is a changed history, reported by the check
// and refused by a replay (NonDeterminismError), both naming the kinds.
TEST_F(UpgradeTest, AStepThatBecameATransactionOfTheSameNameIsReported) {
  deploy(Build::V1);
  start_and_park("old-1");
  auto steps = rt->list_steps("old-1");
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps[0].kind, keel::OperationKind::Step);
  EXPECT_EQ(steps[1].kind, keel::OperationKind::Keel);  // the recv's deadline
  auto checks = check_with(Build::V2Transaction);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_FALSE(checks[0].ok);
  EXPECT_EQ(checks[0].position, 1);
  EXPECT_EQ(checks[0].recorded, "a (step)");
  EXPECT_EQ(checks[0].called, "a (transaction)");
  deploy(Build::V2Transaction);
  rt->send("old-1", true, "go");
  try {
    (void)rt->retrieve<std::string>("old-1").result_for(30s);
    ADD_FAILURE() << "the replay took the step's record for the transaction's";
  } catch (const keel::NonDeterminismError& e) {
    EXPECT_NE(std::string(e.what()).find("'a (step)' but the code now calls 'a (transaction)'"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(effects.count("old-1:a"), 1) << "the transaction's body ran in place of the recorded step";
}

// Rows written before kinds were recorded (kind NULL after the migration)
// are matched by name only: histories of an older Keel still replay.
TEST_F(UpgradeTest, ARecordWithoutAKindMatchesByNameOnly) {
  deploy(Build::V1);
  start_and_park("old-1");
  rt->run_sql_write([](keel::Sql& sql) {
    sql.execute(sql.dialect() == "sqlite" ? "UPDATE keel_operation_outputs SET kind = NULL"
                                          : "UPDATE keel.operation_outputs SET kind = NULL");
  });
  EXPECT_EQ(rt->list_steps("old-1")[0].kind, keel::OperationKind::Unknown);
  auto checks = check_with(Build::V2Transaction);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_TRUE(checks[0].ok) << checks[0].message;
  deploy(Build::V2Transaction);
  EXPECT_EQ(finish("old-1"), "old");
  EXPECT_EQ(effects.count("old-1:a"), 1);
}

TEST_F(UpgradeTest, ThePatchedChangeIsCleanAndNothingRunsOrChanges) {
  deploy(Build::V1);
  start_and_park("old-1");
  auto before = rt->get_workflow("old-1");
  auto steps_before = rt->list_steps("old-1");
  auto checks = check_with(Build::V2Patched);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_TRUE(checks[0].ok) << checks[0].message;
  EXPECT_EQ(checks[0].replayed, 3) << "a, the recv's deadline, the recv";  // history ends at the recv
  EXPECT_EQ(effects.count("old-1:c"), 0);
  EXPECT_EQ(effects.count("old-1:a"), 1) << "the check ran a step body";
  auto after = rt->get_workflow("old-1");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, keel::WorkflowStatus::Pending);
  EXPECT_EQ(after->updated_at_ms, before->updated_at_ms);
  EXPECT_EQ(rt->list_steps("old-1").size(), steps_before.size());
}

TEST_F(UpgradeTest, TheCheckReportsRemovedOperationsAndUnknownNames) {
  deploy(Build::V1);
  start_and_park("old-1");
  auto shortened = check_with(Build::V2Shortened);
  ASSERT_EQ(shortened.size(), 1u);
  EXPECT_FALSE(shortened[0].ok);
  EXPECT_EQ(shortened[0].recorded, "keel.deadline");
  EXPECT_EQ(shortened[0].called, "(the workflow ends)");
  // A build that no longer registers "order" at all.
  rt.reset();
  rt = std::make_unique<keel::Runtime>(keel::testing::test_config(dir, "upgrade-check"));
  auto unknown = keel::verify_histories(*rt);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_FALSE(unknown[0].ok);
  EXPECT_EQ(unknown[0].position, 0);
}

TEST_F(UpgradeTest, TheCommandLineFormGatesOnAnyMismatch) {
  deploy(Build::V1);
  start_and_park("old-1");
  rt.reset();
  rt = std::make_unique<keel::Runtime>(keel::testing::test_config(dir, "upgrade-check"));
  register_order(*rt, Build::V2Reordered);
  std::ostringstream bad;
  EXPECT_EQ(keel::run_upgrade_check(*rt, {}, bad), 1);
  EXPECT_NE(bad.str().find("MISMATCH old-1 (order, PENDING)"), std::string::npos) << bad.str();
  rt.reset();
  rt = std::make_unique<keel::Runtime>(keel::testing::test_config(dir, "upgrade-check"));
  register_order(*rt, Build::V2Patched);
  std::ostringstream good;
  EXPECT_EQ(keel::run_upgrade_check(*rt, {}, good), 0) << good.str();
  EXPECT_NE(good.str().find("1 workflow(s) checked, 0 would not replay"), std::string::npos) << good.str();
}

TEST_F(UpgradeTest, FinishedWorkflowsAreCheckedWhenAsked) {
  deploy(Build::V1);
  start_and_park("done-1");
  EXPECT_EQ(finish("done-1"), "old");
  auto none = check_with(Build::V2Reordered);
  EXPECT_TRUE(none.empty()) << "finished workflows are checked only when asked";
  auto recent = keel::verify_histories(*rt, {.recent_finished = 5});
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_FALSE(recent[0].ok);
  EXPECT_EQ(recent[0].status, keel::WorkflowStatus::Success);
}

TEST_F(UpgradeTest, PatchesAreWorkflowCodeOnly) {
  auto wf = rt->register_workflow("misplaced", [](keel::Context& ctx) {
    return ctx.step("s", [&] { return ctx.patched("x"); });
  });
  auto empty = rt->register_workflow("unnamed", [](keel::Context& ctx) { return ctx.patched(""); });
  rt->launch();
  EXPECT_THROW(rt->start(wf, {}).result_for(20s), keel::UsageError);
  EXPECT_THROW(rt->start(empty, {}).result_for(20s), keel::UsageError);
}

}  // namespace
