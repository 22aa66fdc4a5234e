#include "human.hpp"

#include <ctime>
#include <fmt/format.h>

namespace keel::cli {

namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

// The largest unit only, rounded down: an age needs no more precision.
std::string coarse(int64_t ms) {
  if (ms < kMinute) return fmt::format("{}s", ms / kSecond);
  if (ms < kHour) return fmt::format("{}m", ms / kMinute);
  if (ms < kDay) return fmt::format("{}h", ms / kHour);
  return fmt::format("{}d", ms / kDay);
}

}  // namespace

std::string human_duration(int64_t ms) {
  if (ms < 0) ms = -ms;
  if (ms < kSecond) return fmt::format("{} ms", ms);
  // Tenths of a second below 10 s, where they still matter.
  if (ms < 10 * kSecond) return fmt::format("{}.{} s", ms / kSecond, ms % kSecond / 100);
  if (ms < kMinute) return fmt::format("{} s", ms / kSecond);
  if (ms < kHour) return fmt::format("{}m {}s", ms / kMinute, ms % kMinute / kSecond);
  if (ms < kDay) return fmt::format("{}h {}m", ms / kHour, ms % kHour / kMinute);
  return fmt::format("{}d {}h", ms / kDay, ms % kDay / kHour);
}

std::string human_age(int64_t then_ms, int64_t now_ms) {
  int64_t ago = now_ms - then_ms;
  if (ago > kIsoAfterDays * kDay) return iso_time(then_ms);
  // Within a second either way: another machine's clock may run a little ahead.
  if (ago > -kSecond && ago < kSecond) return "just now";
  if (ago < 0) return "in " + coarse(-ago);
  return coarse(ago) + " ago";
}

std::string iso_time(int64_t ms) {
  // Floor division: a moment before 1970 still lands in the right second.
  int64_t seconds = ms >= 0 ? ms / kSecond : -((-ms + kSecond - 1) / kSecond);
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

}  // namespace keel::cli
