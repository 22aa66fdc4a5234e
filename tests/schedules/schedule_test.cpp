// Schedules in a Runtime (keel/schedule.hpp, docs/schedules.md), on SQLite
// and, through tests/postgres, on PostgreSQL: every-second ticks run once,
// two runtimes share a schedule, the missed-tick policies after a downtime,
// pause / resume / trigger / list, and misuse.
#include <gtest/gtest.h>

#include <thread>

#include "support/runtime_fixture.hpp"
#include "support/schedule_support.hpp"

namespace keel::testing {
namespace {

using namespace std::chrono_literals;

int64_t now_epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ScheduleOptions every_second(MissedTicks missed = MissedTicks::RunEach) {
  ScheduleOptions o;
  o.name = "every";
  o.cron = "* * * * * *";
  o.missed = missed;
  o.grace = 300ms;
  return o;
}

int successes(Runtime& rt, const std::string& schedule = "every") {
  int n = 0;
  for (const auto& [id, status] : tick_workflows(rt, schedule)) n += status == WorkflowStatus::Success;
  return n;
}

// Every tick workflow of "every" succeeded and left exactly one row; returns the ticks.
std::vector<int64_t> check_each_tick_once(Runtime& rt) {
  auto rows = tick_rows(rt);
  auto workflows = tick_workflows(rt, "every");
  EXPECT_EQ(rows.size(), workflows.size());
  std::vector<int64_t> ticks;
  for (const auto& [tick, n] : rows) {
    EXPECT_EQ(n, 1) << "tick " << tick << " ran " << n << " times";
    EXPECT_EQ(workflows.count(schedule_workflow_id("every", tick)), 1u) << tick;
    ticks.push_back(tick);
  }
  for (const auto& [id, status] : workflows) EXPECT_EQ(status, WorkflowStatus::Success) << id;
  return ticks;
}

void expect_contiguous(const std::vector<int64_t>& ticks) {
  ASSERT_FALSE(ticks.empty());
  EXPECT_EQ(ticks, ticks_between("* * * * * *", ticks.front(), ticks.back()));
}

class ScheduleTest : public RuntimeTest {
 protected:
  Workflow<int64_t, ScheduledTick> setup(Runtime& r, const ScheduleOptions& o) {
    create_tick_table(r);
    auto wf = register_tick_workflow(r);
    r.schedule(wf, o);
    return wf;
  }
};

TEST_F(ScheduleTest, EverySecondRunsEachTickOnce) {
  setup(*rt, every_second());
  (void)rt->launch();
  ASSERT_TRUE(eventually([&] { return successes(*rt) >= 3; }));
  rt->shutdown();
  expect_contiguous(check_each_tick_once(*rt));
}

TEST_F(ScheduleTest, TwoRuntimesStartEachTickOnce) {
  setup(*rt, every_second());
  Runtime other(test_config(dir, "other"));
  setup(other, every_second());
  (void)rt->launch();
  (void)other.launch();
  ASSERT_TRUE(eventually([&] { return successes(*rt) >= 4; }));
  other.shutdown();
  rt->shutdown();
  expect_contiguous(check_each_tick_once(*rt));
}

// Runs "every" with `missed` for a tick, stops for ~3 s, runs again until a
// tick after the restart; returns (ticks that ran, last tick before the
// stop, launch time of the restart).
struct Downtime {
  std::vector<int64_t> ran;
  int64_t before = 0;
  int64_t relaunched_at = 0;
};

class PolicyTest : public ScheduleTest {
 protected:
  Downtime run_with_downtime(MissedTicks missed) {
    setup(*rt, every_second(missed));
    (void)rt->launch();
    EXPECT_TRUE(eventually([&] { return successes(*rt) >= 1; }));
    rt->shutdown();
    Downtime d;
    d.before = check_each_tick_once(*rt).back();
    std::this_thread::sleep_for(3s);
    restart();
    setup(*rt, every_second(missed));
    d.relaunched_at = now_epoch_ms();
    (void)rt->launch();
    EXPECT_TRUE(eventually([&] {
      auto rows = tick_rows(*rt);
      return !rows.empty() && rows.rbegin()->first > d.relaunched_at && successes(*rt) == int(rows.size());
    }));
    rt->shutdown();
    d.ran = check_each_tick_once(*rt);
    return d;
  }
};

// The ticks of (before, relaunched_at - grace): missed by any pass of the restart.
std::vector<int64_t> surely_missed(const Downtime& d) {
  return ticks_between("* * * * * *", d.before + 1, d.relaunched_at - 300 - 1);
}

std::vector<int64_t> ran_after(const Downtime& d) {
  std::vector<int64_t> out;
  for (int64_t t : d.ran)
    if (t > d.before) out.push_back(t);
  return out;
}

TEST_F(PolicyTest, SkipRunsNoMissedTick) {
  Downtime d = run_with_downtime(MissedTicks::Skip);
  auto missed = surely_missed(d);
  ASSERT_GE(missed.size(), 2u);
  auto after = ran_after(d);
  ASSERT_FALSE(after.empty());
  EXPECT_GT(after.front(), missed.back());
  expect_contiguous(after);
}

TEST_F(PolicyTest, RunLatestRunsTheLatestMissedTickOnce) {
  Downtime d = run_with_downtime(MissedTicks::RunLatest);
  auto missed = surely_missed(d);
  ASSERT_GE(missed.size(), 2u);
  auto after = ran_after(d);
  ASSERT_FALSE(after.empty());
  // The earlier missed ticks did not run; one at or after the last surely
  // missed one did, and every tick from there on.
  EXPECT_GE(after.front(), missed.back());
  EXPECT_LE(after.front(), missed.back() + 1000);  // at most one more tick was still within grace
  expect_contiguous(after);
}

TEST_F(PolicyTest, RunEachRunsEveryMissedTick) {
  Downtime d = run_with_downtime(MissedTicks::RunEach);
  ASSERT_GE(surely_missed(d).size(), 2u);
  expect_contiguous(d.ran);  // from before the stop to after the restart, none left out
}

TEST_F(PolicyTest, RunEachIsBounded) {
  ScheduleOptions o = every_second(MissedTicks::RunEach);
  o.max_catch_up = 1;
  setup(*rt, o);
  (void)rt->launch();
  ASSERT_TRUE(eventually([&] { return successes(*rt) >= 1; }));
  rt->shutdown();
  const int64_t before = check_each_tick_once(*rt).back();
  std::this_thread::sleep_for(3s);
  restart();
  setup(*rt, o);
  const int64_t relaunched_at = now_epoch_ms();
  (void)rt->launch();
  ASSERT_TRUE(eventually([&] { return successes(*rt) >= 3; }));
  rt->shutdown();
  auto missed = ticks_between("* * * * * *", before + 1, relaunched_at - 300 - 1);
  ASSERT_GE(missed.size(), 2u);
  for (int64_t t : check_each_tick_once(*rt)) {
    if (t > before) {
      EXPECT_GE(t, missed.back()) << "a missed tick beyond max_catch_up ran";
    }
  }
}

TEST_F(ScheduleTest, PauseResumeTriggerAndList) {
  ScheduleOptions o = every_second();
  o.time_zone = "Europe/Paris";
  setup(*rt, o);
  (void)rt->launch();
  auto listed = rt->list_schedules();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "every");
  EXPECT_EQ(listed[0].workflow_name, "tick");
  EXPECT_EQ(listed[0].time_zone, "Europe/Paris");
  EXPECT_EQ(listed[0].missed, MissedTicks::RunEach);
  EXPECT_FALSE(listed[0].paused);
  ASSERT_TRUE(listed[0].next_tick_epoch_ms);
  EXPECT_GT(*listed[0].next_tick_epoch_ms, listed[0].last_tick_epoch_ms);

  ASSERT_TRUE(eventually([&] { return successes(*rt) >= 1; }));
  const int64_t paused_at = now_epoch_ms();
  rt->pause_schedule("every");
  EXPECT_TRUE(rt->list_schedules()[0].paused);
  std::this_thread::sleep_for(1500ms);  // a pass that read the row before the pause may still start one
  const size_t during = tick_workflows(*rt, "every").size();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(tick_workflows(*rt, "every").size(), during) << "a tick started while paused";

  // A manual run, paused or not; its ID says so.
  const std::string id = rt->trigger_schedule("every");
  EXPECT_NE(id.find("sched:every:manual:"), std::string::npos);
  EXPECT_GT(rt->retrieve<int64_t>(id).result_for(30s), paused_at);
  int manual = 0;
  rt->run_sql_read([&](Sql& sql) {
    manual = static_cast<int>(std::get<int64_t>(sql.query("SELECT count(*) FROM sched_ticks WHERE manual = 1")[0].at(0)));
  });
  EXPECT_EQ(manual, 1);

  const int64_t resumed_at = now_epoch_ms();
  rt->resume_schedule("every");
  EXPECT_FALSE(rt->list_schedules()[0].paused);
  ASSERT_TRUE(eventually([&] { return tick_workflows(*rt, "every").size() > during; }));
  rt->shutdown();
  // No tick of the pause ran, then or after the resume (the policy, RunEach,
  // does not apply to them); a pass that read the row just before the pause
  // may have started one within a second of it.
  for (int64_t t : check_each_tick_once(*rt)) {
    EXPECT_FALSE(t > paused_at + 1000 && t <= resumed_at) << "tick " << t << " of the pause ran";
  }
}

TEST_F(ScheduleTest, MisuseThrowsAtOnce) {
  create_tick_table(*rt);
  auto wf = register_tick_workflow(*rt);
  auto with = [](auto change) {
    ScheduleOptions o = every_second();
    change(o);
    return o;
  };
  EXPECT_THROW(rt->schedule(wf, with([](auto& o) { o.name = ""; })), UsageError);
  EXPECT_THROW(rt->schedule(wf, with([](auto& o) { o.name = "a:b"; })), UsageError);
  EXPECT_THROW(rt->schedule(wf, with([](auto& o) { o.max_catch_up = 0; })), UsageError);
  EXPECT_THROW(rt->schedule(wf, with([](auto& o) { o.grace = -1ms; })), UsageError);
  EXPECT_THROW(rt->schedule(wf, with([](auto& o) { o.cron = "* * *"; })), CronSyntaxError);
  EXPECT_THROW(rt->schedule(wf, with([](auto& o) { o.time_zone = "Mars/Olympus"; })), UnknownTimeZoneError);
  EXPECT_THROW(rt->schedule(Workflow<int, ScheduledTick>("unregistered"), every_second()), UnknownWorkflowError);
  rt->schedule(wf, every_second());
  EXPECT_THROW(rt->schedule(wf, every_second()), UsageError);  // twice
  (void)rt->launch();
  EXPECT_THROW(rt->schedule(wf, with([](auto& o) { o.name = "late"; })), UsageError);
  EXPECT_THROW(rt->pause_schedule("nope"), UnknownScheduleError);
  EXPECT_THROW(rt->resume_schedule("nope"), UnknownScheduleError);
  EXPECT_THROW((void)rt->trigger_schedule("nope"), UnknownScheduleError);
  EXPECT_THROW(rt->delete_schedule("nope"), UnknownScheduleError);
}

// A Client (a process that runs no scheduler) manages the stored schedules
// as a Runtime does; the Runtime's scheduler obeys.
TEST_F(ScheduleTest, AClientListsPausesResumesAndDeletesSchedules) {
  setup(*rt, every_second());
  (void)rt->launch();
  Client client(ClientConfig{test_config(dir).database_url});
  auto listed = client.list_schedules();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "every");
  EXPECT_EQ(listed[0].workflow_name, "tick");
  ASSERT_TRUE(listed[0].next_tick_epoch_ms.has_value());
  client.pause_schedule("every");
  EXPECT_TRUE(rt->list_schedules().at(0).paused);
  std::this_thread::sleep_for(1500ms);  // a pass that read the row before the pause may still start one
  const size_t during = tick_workflows(*rt, "every").size();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(tick_workflows(*rt, "every").size(), during) << "a tick started while paused by the client";
  client.resume_schedule("every");
  EXPECT_FALSE(client.list_schedules().at(0).paused);
  ASSERT_TRUE(eventually([&] { return tick_workflows(*rt, "every").size() > during; }));
  client.delete_schedule("every");
  EXPECT_TRUE(rt->list_schedules().empty());
  EXPECT_THROW(client.pause_schedule("every"), UnknownScheduleError);
  EXPECT_THROW(client.delete_schedule("every"), UnknownScheduleError);
}

// A schedule no process declares any more is listed until deleted; a
// process still declaring it starts no tick once it is deleted, and stores
// it again at its next launch, with no past tick due.
TEST_F(ScheduleTest, DeleteForgetsAScheduleUntilADeclaringProcessLaunchesAgain) {
  setup(*rt, every_second());
  (void)rt->launch();
  ASSERT_TRUE(eventually([&] { return successes(*rt) >= 1; }));
  rt->delete_schedule("every");
  EXPECT_TRUE(rt->list_schedules().empty());
  std::this_thread::sleep_for(1500ms);  // a pass that read the row before the delete may still start one
  const size_t after_delete = tick_workflows(*rt, "every").size();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(tick_workflows(*rt, "every").size(), after_delete) << "a tick started after the delete";
  EXPECT_THROW(rt->delete_schedule("every"), UnknownScheduleError);

  restart();
  const int64_t relaunched_at = now_epoch_ms();
  setup(*rt, every_second());
  (void)rt->launch();
  ASSERT_EQ(rt->list_schedules().size(), 1u);
  EXPECT_GE(rt->list_schedules()[0].last_tick_epoch_ms, relaunched_at - 1000) << "stored anew: no past tick due";
  ASSERT_TRUE(eventually([&] { return tick_workflows(*rt, "every").size() > after_delete; }));
}

}  // namespace
}  // namespace keel::testing
