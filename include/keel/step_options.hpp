/// @file
/// keel/step_options.hpp — how a step is retried.
///
/// Contract: a step is attempted at most max_attempts times. After attempt k
/// fails, the next waits interval * backoff_rate^(k-1), capped at max_interval.
/// The wait is interruptible by cancellation and shutdown. When every attempt
/// failed, the step fails with keel::MaxRetriesExceededError naming the last
/// error (with max_attempts == 1 the original error is recorded as is).
#pragma once

#include <chrono>

namespace keel {

/// How a step is retried (the contract of keel/step_options.hpp).
struct StepOptions {
  int max_attempts = 1;                       ///< attempts in all; 1 (the default): no retry
  std::chrono::milliseconds interval{1000};   ///< the wait after the first failed attempt
  double backoff_rate = 2.0;                  ///< each further wait is this many times the last
  std::chrono::milliseconds max_interval{std::chrono::hours(1)};  ///< no wait is longer
};

}  // namespace keel
