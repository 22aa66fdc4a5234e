#include "runtime/notifier.hpp"

#include <algorithm>

namespace keel::detail {

Notifier::Waiter::Waiter(Notifier& n, std::string key) : n_(n), key_(std::move(key)) {
  std::lock_guard lock(n_.mu_);
  Slot& s = n_.slots_[key_];
  ++s.waiters;
  seen_ = s.seq;
  seen_epoch_ = n_.epoch_;
  registered_seq_ = s.seq;
  registered_epoch_ = n_.epoch_;
}

Notifier::Waiter::~Waiter() {
  std::lock_guard lock(n_.mu_);
  auto it = n_.slots_.find(key_);
  if (it != n_.slots_.end() && --it->second.waiters == 0) n_.slots_.erase(it);
}

bool Notifier::Waiter::wait_until(std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(n_.mu_);
  Slot& slot = n_.slots_[key_];
  ++slot.sleeping;
  bool woken = slot.cv.wait_until(lock, until, [&] { return slot.seq != seen_ || n_.epoch_ != seen_epoch_; });
  --slot.sleeping;
  seen_ = slot.seq;
  seen_epoch_ = n_.epoch_;
  return woken;
}

int Notifier::sleeping(const WakeKey& key) const {
  std::lock_guard lock(mu_);
  auto it = slots_.find(key.encode());
  return it == slots_.end() ? 0 : it->second.sleeping;
}

bool Notifier::Waiter::notified() const {
  std::lock_guard lock(n_.mu_);
  auto it = n_.slots_.find(key_);
  return n_.epoch_ != seen_epoch_ || (it != n_.slots_.end() && it->second.seq != seen_);
}

std::optional<std::string> Notifier::Waiter::payload() const {
  std::lock_guard lock(n_.mu_);
  auto it = n_.slots_.find(key_);
  if (it == n_.slots_.end() || it->second.payload_seq <= registered_seq_) return std::nullopt;
  return it->second.payload;
}

std::optional<std::string> Notifier::Waiter::sole_payload() const {
  std::lock_guard lock(n_.mu_);
  auto it = n_.slots_.find(key_);
  if (it == n_.slots_.end() || n_.epoch_ != registered_epoch_) return std::nullopt;
  const Slot& s = it->second;
  if (s.seq != registered_seq_ + 1 || s.payload_seq != s.seq) return std::nullopt;
  return s.payload;
}

Notifier::AnyWaiter::AnyWaiter(Notifier& n, const std::vector<WakeKey>& keys)
    : n_(n), group_(std::make_unique<Group>()) {
  keys_.reserve(keys.size());
  for (const auto& k : keys) keys_.push_back(k.encode());
  std::lock_guard lock(n_.mu_);
  for (const auto& k : keys_) {
    Slot& s = n_.slots_[k];
    ++s.waiters;
    s.groups.push_back(group_.get());
  }
  seen_epoch_ = n_.epoch_;
}

Notifier::AnyWaiter::~AnyWaiter() {
  std::lock_guard lock(n_.mu_);
  for (const auto& k : keys_) {
    auto it = n_.slots_.find(k);
    if (it == n_.slots_.end()) continue;
    auto& groups = it->second.groups;
    auto g = std::find(groups.begin(), groups.end(), group_.get());
    if (g != groups.end()) groups.erase(g);
    if (--it->second.waiters == 0) n_.slots_.erase(it);
  }
}

bool Notifier::AnyWaiter::woken_locked() const { return group_->seq != seen_ || n_.epoch_ != seen_epoch_; }

bool Notifier::AnyWaiter::wait_until(std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(n_.mu_);
  bool woken = group_->cv.wait_until(lock, until, [&] { return woken_locked(); });
  seen_ = group_->seq;
  seen_epoch_ = n_.epoch_;
  return woken;
}

bool Notifier::AnyWaiter::notified() const {
  std::lock_guard lock(n_.mu_);
  return woken_locked();
}

void Notifier::notify(const std::string& key, std::optional<std::string> payload) {
  {
    std::lock_guard lock(mu_);
    auto it = slots_.find(key);
    if (it != slots_.end()) {  // else nobody waits here; a later waiter reads the database first
      ++it->second.seq;
      if (payload) {
        it->second.payload = std::move(payload);
        it->second.payload_seq = it->second.seq;
      }
      it->second.cv.notify_all();  // under the lock: the slot may be erased once it is released
      for (Group* g : it->second.groups) {
        ++g->seq;
        g->cv.notify_all();
      }
    }
  }
  if (listener_) listener_(key);
}

void Notifier::wake_all() {
  {
    std::lock_guard lock(mu_);
    ++epoch_;
    for (auto& [key, slot] : slots_) {
      slot.cv.notify_all();
      for (Group* g : slot.groups) g->cv.notify_all();
    }
  }
}

}  // namespace keel::detail
