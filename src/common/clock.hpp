// Epoch milliseconds of the system clock: the time unit of every timestamp
// Keel records (created_at, deadlines, step start/end, durable sleeps' wake
// times). A leaf utility shared by the runtime, the backends and the Client.
//
// The clock seam: every wall-clock reading of the engine goes through
// now_ms(), so a test can step the wall clock (set_wall_clock_offset) the way
// an NTP correction or an operator's `date -s` would, and check what
// docs/guarantees.md ("The wall clock") promises. Intervals that must not
// jump (poll periods, leases' local deadlines, retention's pauses) use
// std::chrono::steady_clock instead.
#pragma once

#include <chrono>
#include <cstdint>

namespace keel::detail {

// The offset added to the system clock, 0 unless a test set one.
int64_t wall_clock_offset_ms() noexcept;

// Steps every later now_ms() of this process by `offset` from the system
// clock (negative: backwards). For tests only; thread-safe.
void set_wall_clock_offset(std::chrono::milliseconds offset) noexcept;

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count() + wall_clock_offset_ms();
}

inline std::chrono::system_clock::time_point from_epoch_ms(int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace keel::detail
