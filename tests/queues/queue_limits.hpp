// The queues of the cross-process tests, shared by the worker and the test.
#pragma once

#include <chrono>
#include <vector>

#include "keel/queue.hpp"

namespace keel::queue_tests {

// "capped": global and per-executor concurrency (3 workers x 2 > 3, so both
// limits bind). "rated": at most kRate starts within any kRatePeriod.
constexpr int kGlobal = 3;
constexpr int kPerExecutor = 2;
constexpr int kRate = 8;
constexpr std::chrono::milliseconds kRatePeriod{200};
constexpr std::chrono::milliseconds kWorkTime{15};

inline std::vector<QueueOptions> queues() {
  return {
      QueueOptions{.name = "capped", .concurrency = kGlobal, .worker_concurrency = kPerExecutor},
      QueueOptions{.name = "rated", .rate_limit = RateLimit{kRate, kRatePeriod}},
  };
}

}  // namespace keel::queue_tests
