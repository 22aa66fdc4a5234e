// In-process wake-ups for waits (recv, get_event, workflow results).
//
// A waiter registers on a key *before* it reads the database, then sleeps
// until the key is notified, its deadline passes, or wake_all() is called
// (cancellation, shutdown). A notify between the read and the sleep is not
// lost: it bumps the key's sequence number, which the waiter checks.
// Notifications are hints: the waiter always re-reads the database, and
// polling (the caller's bounded deadline) covers writes by other processes.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace keel::detail {

class Notifier {
 public:
  class Waiter {
   public:
    Waiter(Notifier& n, std::string key);
    ~Waiter();
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    // Sleeps until notified since construction (or the last wait), until, or wake_all.
    void wait_until(std::chrono::steady_clock::time_point until);

   private:
    Notifier& n_;
    std::string key_;
    uint64_t seen_;
    uint64_t seen_epoch_;
  };

  void notify(const std::string& key);
  // Wakes every waiter (cancellation, shutdown).
  void wake_all();

 private:
  struct Slot {
    uint64_t seq = 0;
    int waiters = 0;
    std::condition_variable cv;  // only this key's waiters sleep here
  };
  std::mutex mu_;
  std::unordered_map<std::string, Slot> slots_;  // guarded by mu_
  uint64_t epoch_ = 0;                           // guarded by mu_; bumped by wake_all
};

}  // namespace keel::detail
