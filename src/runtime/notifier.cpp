#include "runtime/notifier.hpp"

namespace keel::detail {

Notifier::Waiter::Waiter(Notifier& n, std::string key) : n_(n), key_(std::move(key)) {
  std::lock_guard lock(n_.mu_);
  Slot& s = n_.slots_[key_];
  ++s.waiters;
  seen_ = s.seq;
  seen_epoch_ = n_.epoch_;
}

Notifier::Waiter::~Waiter() {
  std::lock_guard lock(n_.mu_);
  auto it = n_.slots_.find(key_);
  if (it != n_.slots_.end() && --it->second.waiters == 0) n_.slots_.erase(it);
}

void Notifier::Waiter::wait_until(std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(n_.mu_);
  n_.cv_.wait_until(lock, until, [&] { return n_.slots_[key_].seq != seen_ || n_.epoch_ != seen_epoch_; });
  seen_ = n_.slots_[key_].seq;
  seen_epoch_ = n_.epoch_;
}

void Notifier::notify(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    auto it = slots_.find(key);
    if (it == slots_.end()) return;  // nobody waits; a later waiter reads the database first
    ++it->second.seq;
  }
  cv_.notify_all();
}

void Notifier::wake_all() {
  {
    std::lock_guard lock(mu_);
    ++epoch_;
  }
  cv_.notify_all();
}

}  // namespace keel::detail
