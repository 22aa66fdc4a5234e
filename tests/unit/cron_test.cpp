// The cron parser, next-tick computation and time zones (keel/schedule.hpp).
// Time zones are the system's (/usr/share/zoneinfo, Debian's tzdata).
#include <gtest/gtest.h>

#include "keel/errors.hpp"
#include "keel/schedule.hpp"
#include "schedule/tick_plan.hpp"

namespace keel {
namespace {

using namespace std::chrono;

// "YYYY-MM-DDTHH:MM:SSZ" of a UTC instant, for readable expectations.
std::string iso(SysSeconds t) {
  auto id = schedule_workflow_id("x", duration_cast<milliseconds>(t.time_since_epoch()).count());
  return id.substr(8, 19) + "Z";
}

SysSeconds utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days(year(y) / mo / d) + hours(h) + minutes(mi) + seconds(s);
}

std::string next(const std::string& cron, SysSeconds after, const std::string& zone = "UTC") {
  return iso(CronSchedule(CronExpression::parse(cron), TimeZone::locate(zone)).next_after(after));
}

TEST(CronTest, FiveFieldsFireOnWholeMinutes) {
  EXPECT_EQ(next("* * * * *", utc(2026, 12, 6, 11, 0, 30)), "2026-12-06T11:01:00Z");
  EXPECT_EQ(next("*/15 * * * *", utc(2026, 12, 6, 11, 0, 0)), "2026-12-06T11:15:00Z");
  EXPECT_EQ(next("0 9 * * MON-FRI", utc(2026, 12, 5, 12)), "2026-12-07T09:00:00Z");  // Sat -> Mon
  EXPECT_EQ(next("30 4 1,15 * *", utc(2026, 12, 6)), "2026-12-15T04:30:00Z");
  EXPECT_EQ(next("0 0 1 jan *", utc(2026, 12, 6)), "2027-01-01T00:00:00Z");
}

TEST(CronTest, SixFieldsHaveSecondsFirst) {
  EXPECT_EQ(next("* * * * * *", utc(2026, 12, 6, 11, 0, 30)), "2026-12-06T11:00:31Z");
  EXPECT_EQ(next("*/20 * * * * *", utc(2026, 12, 6, 11, 0, 40)), "2026-12-06T11:01:00Z");
  EXPECT_EQ(next("5/10 * * * * *", utc(2026, 12, 6, 11, 0, 5)), "2026-12-06T11:00:15Z");
  EXPECT_EQ(next("59 59 23 31 12 *", utc(2026, 12, 6)), "2026-12-31T23:59:59Z");
}

TEST(CronTest, DayOfMonthAndDayOfWeekFollowTheOrRule) {
  // Both restricted: the 13th OR any Friday.
  EXPECT_EQ(next("0 0 13 * FRI", utc(2026, 12, 6)), "2026-12-11T00:00:00Z");
  EXPECT_EQ(next("0 0 13 * FRI", utc(2026, 12, 11, 1)), "2026-12-13T00:00:00Z");
  // A star day-of-month (also */n): both must match.
  EXPECT_EQ(next("0 0 */2 * FRI", utc(2026, 12, 6)), "2026-12-11T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 7", utc(2026, 12, 6, 1)), "2026-12-13T00:00:00Z");  // 7 is Sunday
}

// fuzz_cron's finding: a starred-with-step day of month ANDed with a weekday
// may fire more than nine years apart (the 1st of February on a Monday: 2027,
// 2038, 2044); it used to throw "never fires" at the second tick.
TEST(CronTest, AMonthDayOnAWeekdayFiresEvenYearsApart) {
  EXPECT_EQ(next("8 0 */50 2/55 1/8", utc(2025, 12, 6)), "2027-02-01T00:08:00Z");
  EXPECT_EQ(next("8 0 */50 2/55 1/8", utc(2027, 2, 2)), "2038-02-01T00:08:00Z");
  EXPECT_EQ(next("8 0 */50 2/55 1/8", utc(2038, 2, 2)), "2044-02-01T00:08:00Z");
}

TEST(CronTest, LeapDaysAndMacros) {
  EXPECT_EQ(next("0 0 29 2 *", utc(2026, 12, 6)), "2028-02-29T00:00:00Z");
  EXPECT_EQ(next("0 0 29 2 *", utc(2096, 3, 1)), "2104-02-29T00:00:00Z");
  EXPECT_EQ(next("@hourly", utc(2026, 12, 6, 11, 5)), "2026-12-06T12:00:00Z");
  EXPECT_EQ(next("@weekly", utc(2026, 12, 6, 11)), "2026-12-13T00:00:00Z");
  EXPECT_EQ(next("@yearly", utc(2026, 12, 6)), "2027-01-01T00:00:00Z");
}

TEST(CronTest, BadExpressionsThrowCronSyntaxError) {
  for (const char* bad : {"", "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *",
                          "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "FRI-MON * * * *",
                          "* * * * FRI-MON", "1,,2 * * * *", "a * * * *", "1-2-3 * * * *", "*/1/2 * * * *",
                          "0 0 30 2 *", "0 0 31 4,6,9,11 *", "@often", "-1 * * * *", "1000 * * * *"})
    EXPECT_THROW((void)CronExpression::parse(bad), CronSyntaxError) << bad;
  EXPECT_NO_THROW((void)CronExpression::parse("0 0 30 2 MON"));  // OR rule: every Monday
}

TEST(TimeZoneTest, UnknownZonesThrow) {
  for (const char* bad : {"", "Mars/Olympus", "../etc/passwd", "/etc/localtime", "Europe/../UTC", "Europe//Paris"})
    EXPECT_THROW((void)TimeZone::locate(bad), UnknownTimeZoneError) << bad;
  EXPECT_THROW((void)TimeZone::locate("Europe"), UnknownTimeZoneError);  // a directory
}

TEST(TimeZoneTest, OffsetsFollowTheZone) {
  auto paris = TimeZone::locate("Europe/Paris");
  EXPECT_EQ(paris.offset_at(utc(2026, 1, 15)), hours(1));
  EXPECT_EQ(paris.offset_at(utc(2026, 7, 15)), hours(2));
  // Past the file's last transition (2037 in a "fat" file): the footer rule.
  EXPECT_EQ(paris.offset_at(utc(2100, 7, 15)), hours(2));
  EXPECT_EQ(paris.offset_at(utc(2100, 12, 15)), hours(1));
  auto sydney = TimeZone::locate("Australia/Sydney");  // southern: DST across the new year
  EXPECT_EQ(sydney.offset_at(utc(2090, 1, 15)), hours(11));
  EXPECT_EQ(sydney.offset_at(utc(2090, 7, 15)), hours(10));
  EXPECT_EQ(TimeZone::locate("Asia/Kolkata").offset_at(utc(2026, 1, 1)), hours(5) + minutes(30));
}

TEST(TimeZoneTest, DailyTickFollowsWallTime) {
  EXPECT_EQ(next("0 9 * * *", utc(2026, 1, 10), "Europe/Paris"), "2026-01-10T08:00:00Z");
  EXPECT_EQ(next("0 9 * * *", utc(2026, 7, 10), "Europe/Paris"), "2026-07-10T07:00:00Z");
  EXPECT_EQ(next("0 9 * * *", utc(2026, 7, 10), "America/New_York"), "2026-07-10T13:00:00Z");
}

TEST(TimeZoneTest, SkippedWallTimeFiresAtTheTransition) {
  // Paris, 29 March 2026: 02:00 CET becomes 03:00 CEST (01:00 UTC).
  EXPECT_EQ(next("30 2 * * *", utc(2026, 3, 28, 12), "Europe/Paris"), "2026-03-29T01:00:00Z");
  EXPECT_EQ(next("30 2 * * *", utc(2026, 3, 29, 1), "Europe/Paris"), "2026-03-30T00:30:00Z");
  // Every minute: the whole skipped hour collapses into one tick at the transition.
  EXPECT_EQ(next("* * * * *", utc(2026, 3, 29, 0, 59), "Europe/Paris"), "2026-03-29T01:00:00Z");
  EXPECT_EQ(next("* * * * *", utc(2026, 3, 29, 1, 0), "Europe/Paris"), "2026-03-29T01:01:00Z");
}

TEST(TimeZoneTest, RepeatedWallTimeFiresOnce) {
  // Paris, 25 October 2026: 03:00 CEST (01:00 UTC) becomes 02:00 CET again.
  EXPECT_EQ(next("30 2 * * *", utc(2026, 10, 24, 12), "Europe/Paris"), "2026-10-25T00:30:00Z");
  EXPECT_EQ(next("30 2 * * *", utc(2026, 10, 25, 0, 30), "Europe/Paris"), "2026-10-26T01:30:00Z");
  // Every 20 minutes: nothing during the second 02:xx pass.
  EXPECT_EQ(next("*/20 * * * *", utc(2026, 10, 25, 0, 40), "Europe/Paris"), "2026-10-25T02:00:00Z");
}

TEST(ScheduleIdTest, OneFormat) {
  EXPECT_EQ(schedule_workflow_id("nightly", 1'765'000'000'123), "sched:nightly:2025-12-06T05:46:40.123Z");
  EXPECT_EQ(schedule_workflow_id("n", 0, true), "sched:n:manual:1970-01-01T00:00:00.000Z");
  EXPECT_EQ(missed_ticks_from_string("run_each"), MissedTicks::RunEach);
  EXPECT_THROW((void)missed_ticks_from_string("each"), UsageError);
}

}  // namespace
}  // namespace keel

namespace keel::detail {
namespace {

// Every second; times in whole seconds from 1000 s.
const CronSchedule kEverySecond(CronExpression::parse("* * * * * *"), TimeZone());
constexpr int64_t s(int64_t sec) { return sec * 1000; }

TickPlan plan(MissedTicks missed, int64_t last, int64_t now, int max_catch_up = 100) {
  return plan_ticks(kEverySecond, last, now, TickPolicy{missed, max_catch_up, /*grace_ms=*/1500});
}

TEST(TickPlanTest, OnTimeTicksStartUnderEveryPolicy) {
  for (auto missed : {MissedTicks::Skip, MissedTicks::RunLatest, MissedTicks::RunEach}) {
    auto p = plan(missed, s(1000), s(1001) + 20);
    EXPECT_EQ(p.fire, std::vector<int64_t>{s(1001)});
    EXPECT_EQ(p.advance_to, s(1001));
  }
  EXPECT_TRUE(plan(MissedTicks::Skip, s(1001), s(1001) + 999).fire.empty());
  EXPECT_FALSE(plan(MissedTicks::Skip, s(1001), s(1001) + 999).advance_to);
}

TEST(TickPlanTest, MissedTicksFollowThePolicy) {
  // Down from 1000 to 1010.2: 1001..1008 missed (older than 1.5 s), 1009 and 1010 on time.
  const int64_t now = s(1010) + 200;
  EXPECT_EQ(plan(MissedTicks::Skip, s(1000), now).fire, (std::vector<int64_t>{s(1009), s(1010)}));
  EXPECT_EQ(plan(MissedTicks::RunLatest, s(1000), now).fire, (std::vector<int64_t>{s(1008), s(1009), s(1010)}));
  auto each = plan(MissedTicks::RunEach, s(1000), now);
  ASSERT_EQ(each.fire.size(), 10u);
  EXPECT_EQ(each.fire.front(), s(1001));
  EXPECT_EQ(plan(MissedTicks::RunEach, s(1000), now, 3).fire,
            (std::vector<int64_t>{s(1006), s(1007), s(1008), s(1009), s(1010)}));
  for (auto missed : {MissedTicks::Skip, MissedTicks::RunLatest, MissedTicks::RunEach})
    EXPECT_EQ(plan(missed, s(1000), now).advance_to, s(1010));
}

TEST(TickPlanTest, ALongDowntimeLooksAtItsEndOnly) {
  // A year of every-second ticks: only the last ones are walked.
  const int64_t year = 365LL * 86400;
  auto p = plan(MissedTicks::RunEach, s(1000), s(1000 + year), 5);
  EXPECT_EQ(p.fire.size(), 7u);  // 5 missed + the 2 on time (within 1.5 s)
  EXPECT_EQ(p.fire.front(), s(1000 + year - 6));
  EXPECT_EQ(p.fire.back(), s(1000 + year));
  EXPECT_EQ(plan(MissedTicks::RunLatest, s(1000), s(1000 + year) + 1600).fire,
            (std::vector<int64_t>{s(1000 + year), s(1001 + year)}));
}

}  // namespace
}  // namespace keel::detail
