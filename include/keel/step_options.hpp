// keel/step_options.hpp — how a step is retried.
//
// Contract: a step is attempted at most max_attempts times. After attempt k
// fails, the next waits interval * backoff_rate^(k-1), capped at max_interval.
// The wait is interruptible by cancellation and shutdown. When every attempt
// failed, the step fails with keel::MaxRetriesExceededError naming the last
// error (with max_attempts == 1 the original error is recorded as is).
#pragma once

#include <chrono>

namespace keel {

struct StepOptions {
  int max_attempts = 1;
  std::chrono::milliseconds interval{1000};
  double backoff_rate = 2.0;
  std::chrono::milliseconds max_interval{std::chrono::hours(1)};
};

}  // namespace keel
