// Times and durations in the units a person reads at a glance, for the
// `keel` command's tables (src/cli/views.hpp). JSON output keeps epoch
// milliseconds: these strings are for eyes, not for scripts.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace keel::cli {

// "0 ms", "12 ms", "1.4 s", "42 s", "4m 12s", "2h 5m", "3d 4h".
// A negative duration (clocks of two machines) reads as its absolute value.
std::string human_duration(int64_t ms);

// How long before now_ms a moment was: "just now", "12s ago", "3m ago",
// "2h ago", "5d ago"; a moment in the future reads "in 3m". Older than
// kIsoAfterDays days, the UTC date and time instead (iso_time).
std::string human_age(int64_t then_ms, int64_t now_ms);

// Epoch milliseconds as an RFC 3339 UTC time to the second,
// "2026-12-06T04:00:00Z" (the form `--created-after` accepts).
std::string iso_time(int64_t ms);

// Beyond this many days, human_age gives the date: "40d ago" says less than
// the date itself.
inline constexpr int64_t kIsoAfterDays = 7;

}  // namespace keel::cli
