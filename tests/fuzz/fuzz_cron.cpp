// The cron parser and next-tick search (keel/schedule.hpp). Input: the
// expression on the first line, a time zone on the second (empty: UTC).
// An accepted expression must give ticks strictly after the start, whose
// wall time matches it (a transition's collapsed or repeated ticks aside:
// checked in UTC only), and searching again from just before a tick finds
// that tick.
#include <chrono>

#include "fuzz_support.hpp"
#include "keel/errors.hpp"
#include "keel/schedule.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = keel::fuzz::fields(keel::fuzz::text(data, size), 2);
  std::optional<keel::CronExpression> expr;
  if (!keel::fuzz::only<keel::CronSyntaxError>([&] { expr = keel::CronExpression::parse(f[0]); })) return 0;
  keel::TimeZone zone;
  if (!f[1].empty() && !keel::fuzz::only<keel::UnknownTimeZoneError>([&] { zone = keel::TimeZone::locate(f[1]); }))
    return 0;
  const keel::CronSchedule schedule(*expr, zone);
  keel::SysSeconds t{std::chrono::seconds(1'765'000'000 + static_cast<int64_t>(size) * 7919)};
  for (int i = 0; i < 3; ++i) {
    const keel::SysSeconds next = schedule.next_after(t);
    FUZZ_CHECK(next > t);
    FUZZ_CHECK(schedule.next_after(next - std::chrono::seconds(1)) == next);
    if (zone.name() == "UTC") FUZZ_CHECK(expr->matches(std::chrono::local_seconds(next.time_since_epoch())));
    t = next;
  }
  return 0;
}
