// Which ticks of a schedule to start now, and how far its last tick moves:
// the missed-tick policy as a pure function of the stored last tick and the
// clock (docs/schedules.md), so that it is tested without threads.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "keel/schedule.hpp"

namespace keel::detail {

struct TickPlan {
  std::vector<int64_t> fire;           // ticks to start, oldest first (epoch ms)
  std::optional<int64_t> advance_to;   // the new last tick; none: nothing was due
};

struct TickPolicy {
  MissedTicks missed = MissedTicks::Skip;
  int max_catch_up = 100;
  int64_t grace_ms = 2000;
};

// The ticks in (last_ms, now_ms]: those within grace of now are on time and
// start; older ones are missed and start as the policy says. Only the
// latest max(max_catch_up, 64) due ticks are looked at, so a long downtime
// costs no more than that.
[[nodiscard]] TickPlan plan_ticks(const CronSchedule& schedule, int64_t last_ms, int64_t now_ms,
                                  const TickPolicy& policy);

}  // namespace keel::detail
