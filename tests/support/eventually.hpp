// Waiting for a condition in a test instead of sleeping: polls pred() every
// 5 ms until it holds (true) or `timeout` passes (then pred()'s last answer).
#pragma once

#include <chrono>
#include <thread>

namespace keel::testing {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace keel::testing
