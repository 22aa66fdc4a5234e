// The system database's retry policy (src/common/retry_policy.hpp): delays
// double within their bounds and jitter, attempts are bounded, stop() ends
// the retries at once, and only DatabaseError is retried.
#include "common/retry_policy.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

using keel::detail::RetryPolicy;
using keel::detail::with_retries;
using namespace std::chrono_literals;

TEST(RetryPolicy, DelaysDoubleUpToTheCapLessAtMostTheJitter) {
  RetryPolicy p{.max_attempts = 10, .first_delay = 40ms, .max_delay = 200ms, .jitter = 0.25};
  const int64_t full[] = {40, 80, 160, 200, 200};
  for (int n = 1; n <= 5; ++n) {
    for (int draw = 0; draw < 50; ++draw) {
      auto d = p.delay_after(n).count();
      EXPECT_LE(d, full[n - 1]) << "attempt " << n;
      EXPECT_GE(d, full[n - 1] * 3 / 4) << "attempt " << n;
    }
  }
  RetryPolicy exact{.first_delay = 10ms, .jitter = 0.0};
  EXPECT_EQ(exact.delay_after(3), 40ms);
}

RetryPolicy quick(int attempts) { return {.max_attempts = attempts, .first_delay = 1ms, .max_delay = 2ms}; }

// An attempt that counts its calls and always throws E.
template <class E>
auto always_throwing(int& calls) {
  return [&calls]() -> int {
    ++calls;
    throw E("fails");
  };
}

TEST(WithRetries, RetriesDatabaseErrorsUntilTheAttemptSucceeds) {
  int calls = 0;
  int out = with_retries(
      quick(5), [] { return false; },
      [&] {
        if (++calls < 3) throw keel::TransientDatabaseError("conflict");
        return 7;
      },
      [](const keel::DatabaseError&) -> int { throw std::logic_error("gave up"); });
  EXPECT_EQ(out, 7);
  EXPECT_EQ(calls, 3);
}

TEST(WithRetries, GivesUpAfterTheLastAttempt) {
  int calls = 0;
  int out = with_retries(
      quick(4), [] { return false; }, always_throwing<keel::DatabaseError>(calls),
      [](const keel::DatabaseError&) { return -1; });
  EXPECT_EQ(out, -1);
  EXPECT_EQ(calls, 4);
}

TEST(WithRetries, StopEndsTheRetriesAtOnce) {
  int calls = 0;
  auto give_up = [](const keel::DatabaseError& e) -> int { throw keel::RuntimeStateError(e.what()); };
  EXPECT_THROW(with_retries(quick(100), [] { return true; }, always_throwing<keel::DatabaseError>(calls), give_up),
               keel::RuntimeStateError);
  EXPECT_EQ(calls, 1);
}

TEST(WithRetries, OtherErrorsPassThroughUntried) {
  int calls = 0;
  auto give_up = [](const keel::DatabaseError&) { return -1; };
  EXPECT_THROW(
      with_retries(quick(5), [] { return false; }, always_throwing<keel::WorkflowNotFoundError>(calls), give_up),
      keel::WorkflowNotFoundError);
  EXPECT_EQ(calls, 1);
}

}  // namespace
