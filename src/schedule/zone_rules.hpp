// A time zone's offsets from UTC, read from a TZif file (RFC 8536) of the
// system's tz database, and its POSIX TZ footer rule for the times past the
// file's last transition. Read by Keel itself: GCC 12 (Debian 12) has no
// std::chrono::tzdb, and Debian's libdate-tz would become a dependency of
// every program that links libkeel for ~250 lines of code.
//
// Thread-safety: immutable once read.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::detail {

// A POSIX TZ rule: "STD offset [DST [offset] [,start[/time],end[/time]]]",
// e.g. "CET-1CEST,M3.5.0,M10.5.0/3". Offsets are stored east-positive.
struct PosixRule {
  // A date of the rule: Mm.w.d (month, week 1..5 with 5 the last, weekday),
  // Jn (1..365, no 29 February) or n (0..365).
  struct When {
    char kind = 'M';  // 'M', 'J', 'D'
    int month = 0, week = 0, weekday = 0, day = 0;
    int64_t time = 7200;  // seconds after local midnight (may be < 0 or > 24 h)
  };
  int64_t std_offset = 0;
  std::optional<int64_t> dst_offset;  // none: no DST
  When start, end;

  // Parses the footer; nullopt when malformed.
  static std::optional<PosixRule> parse(std::string_view text);
  int64_t offset_at(int64_t utc) const;
};

class ZoneRules {
 public:
  // Parses a TZif file's bytes; nullopt when they are not one.
  static std::optional<ZoneRules> parse(std::string_view bytes);
  // Local = utc + offset_at(utc), in seconds.
  int64_t offset_at(int64_t utc) const;

 private:
  std::vector<int64_t> transitions_;  // UTC seconds, increasing
  std::vector<int64_t> offsets_;      // offsets_[i] from transitions_[i] on
  int64_t initial_offset_ = 0;        // before the first transition
  std::optional<PosixRule> footer_;
};

}  // namespace keel::detail
