// How Keel retries a failing system database: one policy and one helper,
// used wherever the runtime writes (checkpoints, a workflow's end) or loads
// (a replay's recorded operations). A DatabaseError is retried — a lost
// connection, a server restarting, and TransientDatabaseError (a
// serialization failure or deadlock, whose transaction was rolled back) —
// with exponential backoff and jitter, so that two executors that collided
// do not retry in step. Other errors pass through at once.
//
// What happens when the attempts are spent is the caller's (give_up): a
// workflow's operation stops the execution, which stays PENDING and runs
// again by replay later; nothing is recorded as the operation's outcome.
// Thread-safety: plain values and a reentrant function.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>
#include <utility>

#include "keel/errors.hpp"

namespace keel::detail {

struct RetryPolicy {
  int max_attempts = 6;
  std::chrono::milliseconds first_delay{50};  // after the first failed attempt
  std::chrono::milliseconds max_delay{2000};
  double jitter = 0.25;  // each delay is drawn from [d * (1 - jitter), d]

  // The pause after failed attempt n (1-based): first_delay doubled n-1 times,
  // capped at max_delay, less a random part of up to `jitter`.
  [[nodiscard]] std::chrono::milliseconds delay_after(int failed_attempt) const {
    auto d = first_delay;
    for (int i = 1; i < failed_attempt && d < max_delay; ++i) d *= 2;
    d = std::min(d, max_delay);
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_real_distribution<double> keep(1.0 - jitter, 1.0);
    return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(d.count()) * keep(rng)));
  }
};

// The system database's policy: 6 attempts over about 1.5 s, enough to ride
// out a connection re-established or a failover's first seconds; past it the
// caller parks the workflow (Engine::park_for_retry) instead of spinning.
inline constexpr RetryPolicy kDatabaseRetry{};

// Calls attempt() until it returns. After a DatabaseError, sleeps the
// policy's delay and tries again, unless the attempts are spent or stop()
// says so: then returns give_up(error) (which may throw instead).
// failed(error) sees every failed attempt first (the engine counts them).
template <class Stop, class Attempt, class GiveUp, class Failed>
auto with_retries(const RetryPolicy& policy, Stop&& stop, Attempt&& attempt, GiveUp&& give_up, Failed&& failed)
    -> decltype(attempt()) {
  for (int n = 1;; ++n) {
    try {
      return attempt();
    } catch (const DatabaseError& e) {
      failed(e);
      if (n >= policy.max_attempts || stop()) return give_up(e);
      std::this_thread::sleep_for(policy.delay_after(n));
    }
  }
}

template <class Stop, class Attempt, class GiveUp>
auto with_retries(const RetryPolicy& policy, Stop&& stop, Attempt&& attempt, GiveUp&& give_up) -> decltype(attempt()) {
  return with_retries(policy, std::forward<Stop>(stop), std::forward<Attempt>(attempt),
                      std::forward<GiveUp>(give_up), [](const DatabaseError&) {});
}

}  // namespace keel::detail
