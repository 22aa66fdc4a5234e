/// @file
/// keel/schedule.hpp — cron schedules: the expression, the time zone, the
/// missed-tick policy, and what a scheduled workflow receives.
///
/// Contract:
///  * CronExpression::parse accepts 5 fields (minute hour day-of-month month
///    day-of-week; the second is 0) or 6 (second first), separated by blanks,
///    each `*`, a value, a range `a-b`, a step `*\/n`, `a-b/n` or `a/n` (a to
///    the field's maximum), or a comma list of these. Months take JAN..DEC,
///    days of week SUN..SAT (0 or 7 is Sunday), case-insensitive. The macros
///    `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly` are
///    accepted. Ranges do not wrap (`FRI-MON` is refused). Anything else, and
///    an expression that can never fire ("0 0 30 2 *"), throws CronSyntaxError.
///  * Day rule (Vixie cron's): when both day-of-month and day-of-week are
///    restricted (their text does not start with `*`), a day matches when
///    EITHER matches; otherwise both must ("*\/2" counts as unrestricted).
///  * TimeZone::locate accepts "UTC" and any zone of the system's tz database
///    (TZif files under /usr/share/zoneinfo, or $TZDIR), read by Keel itself
///    (GCC 12 has no std::chrono::tzdb); unknown or unreadable names throw
///    UnknownTimeZoneError. Times past the file's last transition follow its
///    POSIX TZ footer rule.
///  * CronSchedule::next_after(t) is the first tick strictly after t, a whole
///    second, computed in the zone's wall time. Daylight saving time: a wall
///    time skipped by a spring-forward transition fires once, at the
///    transition (all ticks inside the gap collapse into that one); a wall
///    time repeated by a fall-back transition fires once, at its first
///    occurrence (nothing fires during the repeated pass).
///  * A schedule (Runtime::schedule) starts its workflow once per tick with
///    the workflow ID schedule_workflow_id(name, tick): however many
///    executors run it and however often they crash, a tick starts at most
///    one workflow (the ID is the idempotency key of a start). Which ticks
///    run after a time when no executor ran is MissedTicks' choice
///    (docs/schedules.md).
///
/// Non-guarantees: a tick fires when an executor's scheduler thread sees it
/// due, not at its exact instant (typically within milliseconds; later under
/// load). Deleting a tick's workflow (retention) before the schedule moved
/// past that tick lets the tick start again.
///
/// Thread-safety: value types; CronExpression, TimeZone and CronSchedule are
/// immutable after construction and safe to share between threads.
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace keel {

/// @cond
namespace detail {
class ZoneRules;
}
/// @endcond

/// Whole seconds of UTC (std::chrono::sys_seconds).
using SysSeconds = std::chrono::sys_seconds;

/// A parsed cron expression (the contract of keel/schedule.hpp).
class CronExpression {
 public:
  /// Parses `text`; throws CronSyntaxError.
  [[nodiscard]] static CronExpression parse(std::string_view text);
  /// The text it was parsed from.
  [[nodiscard]] const std::string& text() const { return text_; }
  /// Whether a wall time (fields of a civil date and time) matches.
  [[nodiscard]] bool matches(std::chrono::local_seconds wall) const;
  /// The first matching wall time strictly after `wall`.
  [[nodiscard]] std::chrono::local_seconds next_wall_after(std::chrono::local_seconds wall) const;

 private:
  CronExpression() = default;
  bool day_matches(std::chrono::year_month_day ymd) const;
  std::string text_;
  std::bitset<60> seconds_, minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_star_ = false, weekdays_star_ = false;
};

/// A time zone: "UTC" or one of the system's tz database.
class TimeZone {
 public:
  /// UTC.
  TimeZone();
  /// Reads the zone; throws UnknownTimeZoneError.
  [[nodiscard]] static TimeZone locate(const std::string& name);
  /// "UTC" or the tz database name it was located by.
  [[nodiscard]] const std::string& name() const { return name_; }
  /// The offset from UTC (local = utc + offset) in effect at `t`.
  [[nodiscard]] std::chrono::seconds offset_at(SysSeconds t) const;

 private:
  std::string name_;
  std::shared_ptr<const detail::ZoneRules> rules_;  // null: UTC
};

/// A cron expression read in a time zone.
class CronSchedule {
 public:
  /// `expression` read in `zone`.
  CronSchedule(CronExpression expression, TimeZone zone)
      : expression_(std::move(expression)), zone_(std::move(zone)) {}
  /// The first tick strictly after `t` (DST rules in the contract above).
  [[nodiscard]] SysSeconds next_after(SysSeconds t) const;
  /// The expression.
  [[nodiscard]] const CronExpression& expression() const { return expression_; }
  /// The zone.
  [[nodiscard]] const TimeZone& zone() const { return zone_; }

 private:
  CronExpression expression_;
  TimeZone zone_;
};

/// What a schedule does with ticks that passed while no executor ran it
/// (docs/schedules.md). A tick is missed when it is seen due more than
/// ScheduleOptions::grace after its time.
enum class MissedTicks {
  Skip,       ///< missed ticks do not run; the next on-time tick does
  RunLatest,  ///< the latest missed tick runs once, the earlier ones not
  RunEach,    ///< each missed tick runs, oldest first, at most max_catch_up
};

/// "skip", "run_latest", "run_each".
[[nodiscard]] std::string to_string(MissedTicks policy);
/// The inverse of to_string; throws UsageError for another text.
[[nodiscard]] MissedTicks missed_ticks_from_string(const std::string& text);

/// A schedule's declaration (Runtime::schedule).
struct ScheduleOptions {
  /// The schedule's name, part of its workflows' IDs; not empty, no ':'.
  std::string name;
  /// The cron expression (5 or 6 fields).
  std::string cron;
  /// "UTC" or a tz database name ("Europe/Paris").
  std::string time_zone = "UTC";
  /// What runs of the ticks missed while no process ran the schedule.
  MissedTicks missed = MissedTicks::Skip;
  /// RunEach: at most this many missed ticks run (the latest ones); >= 1.
  int max_catch_up = 100;
  /// A tick seen due at most this long after its time is on time, not missed.
  std::chrono::milliseconds grace{2000};
};

/// What a scheduled workflow receives: its schedule and tick.
struct ScheduledTick {
  std::string schedule;       ///< the schedule's name
  int64_t tick_epoch_ms = 0;  ///< the tick's time (UTC), epoch milliseconds
  bool manual = false;        ///< started by Runtime::trigger_schedule, not a tick
};
/// @cond
void to_json(nlohmann::json& j, const ScheduledTick& t);
void from_json(const nlohmann::json& j, ScheduledTick& t);
/// @endcond

/// A schedule as stored and, for those declared here, computed.
struct ScheduleInfo {
  std::string name;           ///< the schedule's name
  std::string workflow_name;  ///< the workflow its ticks start
  std::string cron;           ///< the cron expression
  std::string time_zone;      ///< "UTC" or a tz database name
  MissedTicks missed = MissedTicks::Skip;  ///< its missed-tick policy
  bool paused = false;        ///< pause_schedule'd, not resumed since
  /// The last tick the schedule moved past (started or skipped), epoch ms.
  int64_t last_tick_epoch_ms = 0;
  /// The first tick after the last one and after now; nullopt when this
  /// process cannot compute it (a zone its tz database lacks).
  std::optional<int64_t> next_tick_epoch_ms;
};

/// The ID of the workflow a schedule's tick starts (the one place of its
/// format): "sched:<name>:<UTC time, ISO 8601 with milliseconds>Z"; a manual
/// run (Runtime::trigger_schedule) "sched:<name>:manual:<time of the call>Z".
[[nodiscard]] std::string schedule_workflow_id(const std::string& schedule, int64_t tick_epoch_ms,
                                               bool manual = false);

}  // namespace keel
