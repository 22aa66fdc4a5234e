// Epoch milliseconds of the system clock: the time unit of every timestamp
// Keel records (created_at, deadlines, step start/end). A leaf utility shared
// by the runtime, the backends and the Client.
#pragma once

#include <chrono>
#include <cstdint>

namespace keel::detail {

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

inline std::chrono::system_clock::time_point from_epoch_ms(int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace keel::detail
