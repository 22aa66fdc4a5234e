// In-process wake-ups for waits (recv, get_event, workflow results).
//
// A waiter registers on a key *before* it reads the database, then sleeps
// until the key is notified, its deadline passes, or wake_all() is called
// (cancellation, shutdown). A notify between the read and the sleep is not
// lost: it bumps the key's sequence number, which the waiter checks.
// Notifications are hints: the waiter always re-reads the database, and
// polling (the caller's bounded deadline) covers writes by other processes.
// A listener (the parking lot) sees every notified key, also keys nobody
// waits on in a thread: parked workflows wait without a thread.
// A notify may carry a payload: the value its writer committed just before
// (set_event gives the event's value). A waiter may take a payload notified
// after it registered instead of reading the database: that value was the
// committed one at an instant within the waiter's call.
// Keys are WakeKey texts (common/wake_key.hpp): the overloads taking a
// WakeKey encode it; the string forms are for keys that arrive encoded (the
// PostgreSQL wake-up sink) and for the notifier's own tests.
// A wait on several keys at once (AnyWaiter: the first of many workflows to
// end) sleeps on its own condition variable, which every notify of any of
// its keys signals.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/wake_key.hpp"

namespace keel::detail {

// What a wait sleeps on: one key (Notifier::Waiter) or any of several
// (Notifier::AnyWaiter). Execution::wait and parking take either.
class WaitSource {
 public:
  virtual ~WaitSource() = default;
  // Sleeps until notified since construction (or the last wait), until, or
  // wake_all; true when woken by a notify or wake_all (not by the time).
  virtual bool wait_until(std::chrono::steady_clock::time_point until) = 0;
  // Whether wait_until would return at once (notified or woken since).
  virtual bool notified() const = 0;
  // The keys whose notify ends the wait (a parked entry registers them all).
  virtual std::vector<std::string> keys() const = 0;
};

class Notifier {
  struct Group;

 public:
  class Waiter : public WaitSource {
   public:
    Waiter(Notifier& n, std::string key);
    Waiter(Notifier& n, const WakeKey& key) : Waiter(n, key.encode()) {}
    ~Waiter() override;
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    bool wait_until(std::chrono::steady_clock::time_point until) override;
    bool notified() const override;
    std::vector<std::string> keys() const override { return {key_}; }
    // The payload of the latest payload-carrying notify since construction.
    std::optional<std::string> payload() const;
    // The payload of the only notify since construction, if it carried one
    // (and no wake_all came): for a waiter that needs every notified write,
    // not only the latest (a recv: two messages sent, the older must come
    // first), and reads the database otherwise.
    std::optional<std::string> sole_payload() const;
    const std::string& key() const { return key_; }

   private:
    Notifier& n_;
    std::string key_;
    uint64_t seen_;
    uint64_t seen_epoch_;
    uint64_t registered_seq_;  // the key's sequence number at construction
    uint64_t registered_epoch_;
  };

  // Woken by a notify of any of its keys (no payloads: the caller reads the
  // database after every wake-up). Registered on all keys at construction.
  class AnyWaiter : public WaitSource {
   public:
    AnyWaiter(Notifier& n, const std::vector<WakeKey>& keys);
    ~AnyWaiter() override;
    AnyWaiter(const AnyWaiter&) = delete;
    AnyWaiter& operator=(const AnyWaiter&) = delete;
    bool wait_until(std::chrono::steady_clock::time_point until) override;
    bool notified() const override;
    std::vector<std::string> keys() const override { return keys_; }

   private:
    bool woken_locked() const;
    Notifier& n_;
    std::vector<std::string> keys_;
    std::unique_ptr<Group> group_;  // its address is in each key's slot
    uint64_t seen_ = 0;
    uint64_t seen_epoch_;
  };

  void notify(const std::string& key, std::optional<std::string> payload = std::nullopt);
  void notify(const WakeKey& key, std::optional<std::string> payload = std::nullopt) {
    notify(key.encode(), std::move(payload));
  }
  // Wakes the recvs of (destination, topic). message_id > 0: the message
  // just inserted, carried along (MessagePayload) for a recv woken by it.
  void notify_message(const std::string& destination, const std::string& topic, int64_t message_id,
                      const std::string& message) {
    std::optional<std::string> payload;
    if (message_id > 0) payload = MessagePayload{message_id, message}.encode();
    notify(WakeKey::message(destination, topic), std::move(payload));
  }
  // Called with every notified key, after the waiters are woken, outside the
  // notifier's lock. Set once, before any thread uses the notifier.
  void set_listener(std::function<void(const std::string&)> listener) { listener_ = std::move(listener); }
  // Wakes every waiter (cancellation, shutdown).
  void wake_all();
  // How many waiters of key sleep in wait_until now (for tests that must
  // act only once a waiter has read and gone to sleep).
  int sleeping(const WakeKey& key) const;

 private:
  struct Group {
    std::condition_variable cv;
    uint64_t seq = 0;  // bumped by every notify of any of the group's keys
  };
  struct Slot {
    uint64_t seq = 0;
    int waiters = 0;
    int sleeping = 0;  // of the waiters, those inside wait_until
    std::condition_variable cv;  // only this key's waiters sleep here
    std::optional<std::string> payload;
    uint64_t payload_seq = 0;  // the seq its notify made
    std::vector<Group*> groups;  // AnyWaiters on this key (once per registration)
  };
  std::function<void(const std::string&)> listener_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Slot> slots_;  // guarded by mu_
  uint64_t epoch_ = 0;                           // guarded by mu_; bumped by wake_all
};

}  // namespace keel::detail
