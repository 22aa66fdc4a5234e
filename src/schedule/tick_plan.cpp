#include "schedule/tick_plan.hpp"

#include <algorithm>
#include <deque>

namespace keel::detail {

namespace {

using namespace std::chrono;

// The latest `keep` ticks in (from_ms, now_ms], oldest first.
std::deque<int64_t> due_ticks(const CronSchedule& schedule, int64_t from_ms, int64_t now_ms, size_t keep) {
  std::deque<int64_t> out;
  SysSeconds t = floor<seconds>(SysSeconds(seconds(0)) + milliseconds(from_ms));
  for (;;) {
    t = schedule.next_after(t);
    const int64_t ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    if (ms > now_ms) return out;
    if (ms <= from_ms) continue;  // from_ms is not a whole second
    out.push_back(ms);
    if (out.size() > keep) out.pop_front();
  }
}

// due_ticks over (last_ms, now_ms], but after a long downtime only its end
// is walked: windows ending at now grow until they hold `keep` ticks or
// reach last_ms (earlier ticks would be dropped anyway).
std::deque<int64_t> latest_due(const CronSchedule& schedule, int64_t last_ms, int64_t now_ms, size_t keep) {
  for (int64_t window = 3'600'000;; window *= 8) {
    const int64_t from = now_ms - window <= last_ms ? last_ms : now_ms - window;
    auto ticks = due_ticks(schedule, from, now_ms, keep);
    if (from == last_ms || ticks.size() >= keep) return ticks;
  }
}

}  // namespace

TickPlan plan_ticks(const CronSchedule& schedule, int64_t last_ms, int64_t now_ms, const TickPolicy& policy) {
  TickPlan plan;
  if (now_ms <= last_ms) return plan;
  const size_t keep = static_cast<size_t>(std::max(policy.max_catch_up, 64));
  auto due = latest_due(schedule, last_ms, now_ms, keep);
  if (due.empty()) return plan;
  plan.advance_to = due.back();
  auto on_time = std::find_if(due.begin(), due.end(), [&](int64_t t) { return now_ms - t <= policy.grace_ms; });
  switch (policy.missed) {
    case MissedTicks::Skip:
      break;
    case MissedTicks::RunLatest:
      if (on_time != due.begin()) plan.fire.push_back(*(on_time - 1));
      break;
    case MissedTicks::RunEach: {
      const auto missed = on_time - due.begin();
      const auto first = missed > policy.max_catch_up ? on_time - policy.max_catch_up : due.begin();
      plan.fire.assign(first, on_time);
      break;
    }
  }
  plan.fire.insert(plan.fire.end(), on_time, due.end());
  return plan;
}

}  // namespace keel::detail
