#include "common/clock.hpp"

#include <atomic>

namespace keel::detail {

namespace {
// Relaxed: a stepped clock is seen by each thread at its next reading, as a
// real clock step would be; nothing else is ordered by it.
std::atomic<int64_t> offset_ms{0};
}  // namespace

int64_t wall_clock_offset_ms() noexcept { return offset_ms.load(std::memory_order_relaxed); }

void set_wall_clock_offset(std::chrono::milliseconds offset) noexcept {
  offset_ms.store(offset.count(), std::memory_order_relaxed);
}

}  // namespace keel::detail
