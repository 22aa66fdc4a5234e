// Matching and the next matching wall time of a cron expression. The search
// walks the civil calendar from the largest field down: a month that does
// not match jumps to the next month's first second, a day to the next
// day's, and so on, so each step either matches a field or carries.
#include "keel/errors.hpp"
#include "keel/schedule.hpp"

namespace keel {

namespace {

using namespace std::chrono;

// The first value >= from set in bits, or -1.
template <size_t N>
int next_set(const std::bitset<N>& bits, int from) {
  for (int v = from; v < static_cast<int>(N); ++v)
    if (bits[static_cast<size_t>(v)]) return v;
  return -1;
}

// A wall time split into its fields.
struct Wall {
  year_month_day ymd;
  int h, m, s;
  explicit Wall(local_seconds t) : ymd(floor<days>(t)) {
    auto tod = t - floor<days>(t);
    h = static_cast<int>(tod.count() / 3600);
    m = static_cast<int>(tod.count() / 60 % 60);
    s = static_cast<int>(tod.count() % 60);
  }
  local_seconds day_start() const { return local_days(ymd); }
};

local_seconds next_month_start(const year_month_day& ymd) {
  year_month ym = ymd.year() / ymd.month() + months(1);
  return local_days(ym / day(1));
}

// Past this many years without a match the expression cannot match: the
// Gregorian calendar repeats every 400 years, and a day of a month on a given
// weekday (the AND of a starred-with-step day-of-month and a weekday, e.g.
// "*/50" = the 1st of February on a Monday: 2027, then 2038) recurs within
// it. (Nine years, as before, threw "never fires" for such expressions:
// found by fuzz_cron.) The search skips whole months and days, so even 400
// years is a few thousand steps.
constexpr int kHorizonYears = 400;

}  // namespace

bool CronExpression::day_matches(year_month_day ymd) const {
  bool dom = days_[static_cast<unsigned>(ymd.day())];
  bool dow = weekdays_[weekday(sys_days(ymd.year() / ymd.month() / ymd.day())).c_encoding()];
  if (!days_star_ && !weekdays_star_) return dom || dow;  // Vixie's OR rule
  return dom && dow;
}

bool CronExpression::matches(local_seconds wall) const {
  Wall w(wall);
  return months_[static_cast<unsigned>(w.ymd.month())] && day_matches(w.ymd) && hours_[static_cast<size_t>(w.h)] &&
         minutes_[static_cast<size_t>(w.m)] && seconds_[static_cast<size_t>(w.s)];
}

local_seconds CronExpression::next_wall_after(local_seconds wall) const {
  local_seconds t = wall + seconds(1);
  const year limit = Wall(t).ymd.year() + years(kHorizonYears);
  for (;;) {
    Wall w(t);
    if (w.ymd.year() > limit) throw CronSyntaxError("cron expression '" + text_ + "' never fires");
    if (!months_[static_cast<unsigned>(w.ymd.month())]) {
      t = next_month_start(w.ymd);
      continue;
    }
    if (!day_matches(w.ymd)) {
      t = w.day_start() + days(1);
      continue;
    }
    int h = next_set(hours_, w.h);
    if (h < 0) {
      t = w.day_start() + days(1);
      continue;
    }
    if (h != w.h) {
      t = w.day_start() + hours(h);
      continue;
    }
    int m = next_set(minutes_, w.m);
    if (m < 0) {
      t = w.day_start() + hours(h + 1);
      continue;
    }
    if (m != w.m) {
      t = w.day_start() + hours(h) + minutes(m);
      continue;
    }
    int s = next_set(seconds_, w.s);
    if (s < 0) {
      t = w.day_start() + hours(h) + minutes(m + 1);
      continue;
    }
    return w.day_start() + hours(h) + minutes(m) + seconds(s);
  }
}

}  // namespace keel
