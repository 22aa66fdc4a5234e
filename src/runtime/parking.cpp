#include "runtime/parking.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/clock.hpp"
#include "common/log_context.hpp"
#include "common/wake_key.hpp"

namespace keel::detail {

namespace {

constexpr int kPollBatch = 1000;    // messages read per cursor query
constexpr size_t kSweepBatch = 500;  // workflows per status / inbox query


}  // namespace

ParkingLot::ParkingLot(sysdb::SystemDatabase& db, Notifier& notifier, Wake wake,
                       std::chrono::milliseconds poll_interval, std::chrono::milliseconds sweep_interval)
    : db_(db), notifier_(notifier), wake_(std::move(wake)), poll_interval_(poll_interval),
      sweep_interval_(sweep_interval) {}

ParkingLot::~ParkingLot() { stop(); }

void ParkingLot::start() {
  std::lock_guard lock(mu_);
  if (!thread_.joinable() && !stopped_) thread_ = std::thread([this] { run(); });
}

void ParkingLot::stop() {
  std::thread thread;  // taken under the lock: a second stop() (supersede, then shutdown) finds none to join
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    entries_.clear();
    by_key_.clear();
    timers_.clear();
    thread.swap(thread_);
  }
  cv_.notify_all();
  if (thread.joinable()) thread.join();
}

bool ParkingLot::begin(const WorkflowInfo& info, std::vector<std::string> keys, int64_t wake_at_ms) {
  std::lock_guard lock(mu_);
  if (stopped_ || entries_.count(info.id)) return false;
  for (const auto& key : keys) by_key_[key].insert(info.id);
  entries_.emplace(info.id, Entry{info.name, info.created_at_ms, std::move(keys), wake_at_ms, false, false});
  bool earliest = timers_.empty() || wake_at_ms < timers_.begin()->first;
  timers_.emplace(wake_at_ms, info.id);
  if (earliest) cv_.notify_all();
  return true;
}

void ParkingLot::erase_locked(std::unordered_map<std::string, Entry>::iterator it) {
  timers_.erase({it->second.wake_at_ms, it->first});
  for (const auto& key : it->second.keys) {
    auto k = by_key_.find(key);
    if (k == by_key_.end()) continue;
    k->second.erase(it->first);
    if (k->second.empty()) by_key_.erase(k);
  }
  entries_.erase(it);
}

void ParkingLot::abort(const std::string& id) { drop(id); }

void ParkingLot::drop(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) erase_locked(it);
}

bool ParkingLot::settle(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;  // dropped while unwinding (cancel, shutdown)
  if (it->second.wake_requested) {
    erase_locked(it);
    return true;
  }
  it->second.settled = true;
  return false;
}

bool ParkingLot::contains(const std::string& id) const {
  std::lock_guard lock(mu_);
  return entries_.count(id) > 0;
}

size_t ParkingLot::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void ParkingLot::wake_locked(const std::string& id, std::vector<WorkflowInfo>& out) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (!it->second.settled) {  // still unwinding: settle() resumes it
    it->second.wake_requested = true;
    timers_.erase({it->second.wake_at_ms, id});
    return;
  }
  WorkflowInfo& woken = out.emplace_back();
  woken.id = id;
  woken.name = std::move(it->second.name);
  woken.created_at_ms = it->second.created_at_ms;
  erase_locked(it);
}

void ParkingLot::resume_all(const std::vector<WorkflowInfo>& infos) {
  for (const auto& info : infos) {
    LogContextScope log_context(info.id);  // its lines name it
    try {
      wake_(info);
    } catch (const std::exception& e) {
      spdlog::error("cannot resume the parked workflow (it stays PENDING): {}", e.what());
    }
  }
}

void ParkingLot::on_notify(const std::string& key) {
  std::vector<WorkflowInfo> woken;
  {
    std::lock_guard lock(mu_);
    auto k = by_key_.find(key);
    if (k == by_key_.end()) return;
    std::vector<std::string> ids(k->second.begin(), k->second.end());
    for (const auto& id : ids) wake_locked(id, woken);
  }
  resume_all(woken);
}

void ParkingLot::fire_timers() {
  std::vector<WorkflowInfo> woken;
  {
    std::lock_guard lock(mu_);
    int64_t now = now_ms();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      std::string id = timers_.begin()->second;
      timers_.erase(timers_.begin());
      wake_locked(id, woken);
    }
  }
  resume_all(woken);
}

// New messages since the cursor: notify their keys (which wakes parked
// receivers through on_notify). One query per poll interval, however many
// workflows are parked.
void ParkingLot::poll_messages() {
  for (;;) {
    auto batch = db_.unconsumed_messages_after(message_cursor_, kPollBatch);
    for (const auto& m : batch) {
      message_cursor_ = std::max(message_cursor_, m.message_id);
      notifier_.notify(WakeKey::message(m.destination_id, m.topic));
    }
    if (static_cast<int>(batch.size()) < kPollBatch) return;
  }
}

// Re-reads, in batches, what the cursor cannot see: cancels by other
// processes, messages committed out of id order (PostgreSQL), and events or
// results written by other processes. A parked wait on workflows' ends
// (a child's result, wait_all, wait_first) is woken only when one of them
// is terminal (or gone: its replay then says so); a parked get_event or
// read_stream is resumed at every sweep (rare; the replay re-reads and
// parks again).
void ParkingLot::sweep() {
  std::vector<std::pair<std::string, std::vector<std::string>>> parked;  // (id, keys)
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    parked.reserve(entries_.size());
    for (const auto& [id, e] : entries_)
      if (e.settled) parked.emplace_back(id, e.keys);
  }
  for (size_t at = 0; at < parked.size(); at += kSweepBatch) {
    std::vector<std::string> ids, receivers, polled, awaited;
    size_t end = std::min(parked.size(), at + kSweepBatch);
    for (size_t i = at; i < end; ++i) ids.push_back(parked[i].first);
    std::unordered_set<std::string> pending;
    for (const auto& [id, status] : db_.workflow_statuses(ids))
      if (status == WorkflowStatus::Pending) pending.insert(id);
    for (size_t i = at; i < end; ++i) {
      const auto& [id, keys] = parked[i];
      if (!pending.count(id)) {  // cancelled (or finished) elsewhere: nothing left to run here
        drop(id);
        notifier_.notify(WakeKey::done(id));
        continue;
      }
      for (const auto& key : keys) {
        auto k = WakeKey::decode(key);
        if (!k) continue;
        if (k->kind == WakeKey::Kind::Message) receivers.push_back(id);
        if (k->kind == WakeKey::Kind::Event || k->kind == WakeKey::Kind::Stream) polled.push_back(key);
        if (k->kind == WakeKey::Kind::Done) awaited.push_back(k->workflow_id);
      }
    }
    if (!receivers.empty())
      for (const auto& m : db_.unconsumed_messages_for(receivers))
        notifier_.notify(WakeKey::message(m.destination_id, m.topic));
    for (const auto& key : polled) on_notify(key);
    notify_ended(awaited);
  }
}

// Notifies the ends of those of ids that are terminal or do not exist.
void ParkingLot::notify_ended(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (size_t at = 0; at < ids.size(); at += kSweepBatch) {
    std::vector<std::string> batch(ids.begin() + at, ids.begin() + std::min(ids.size(), at + kSweepBatch));
    std::unordered_set<std::string> running;
    for (const auto& [id, status] : db_.workflow_statuses(batch))
      if (!is_terminal(status)) running.insert(id);
    for (const auto& id : batch)
      if (!running.count(id)) on_notify(WakeKey::done(id).encode());
  }
}

void ParkingLot::run() {
  auto next_poll = std::chrono::steady_clock::now() + poll_interval_;
  auto next_sweep = std::chrono::steady_clock::now() + sweep_interval_;
  std::unique_lock lock(mu_);
  while (!stopped_) {
    auto until = std::min(next_poll, next_sweep);
    if (!timers_.empty()) {
      // Clamped: a wait without deadline has a far-future wake time, whose
      // nanoseconds would overflow; the loop re-evaluates anyway.
      auto left = std::chrono::milliseconds(std::clamp<int64_t>(timers_.begin()->first - now_ms(), 0, 3600000));
      until = std::min(until, std::chrono::steady_clock::now() + left);
    }
    cv_.wait_until(lock, until);
    if (stopped_) break;
    bool any = !entries_.empty();
    lock.unlock();
    try {
      fire_timers();
      auto now = std::chrono::steady_clock::now();
      if (now >= next_poll) {
        if (any) poll_messages();
        next_poll = now + poll_interval_;
      }
      if (now >= next_sweep) {
        if (any) sweep();
        next_sweep = std::chrono::steady_clock::now() + sweep_interval_;
      }
    } catch (const std::exception& e) {
      spdlog::warn("parking lot: a poll of the system database failed (retried next interval): {}", e.what());
    }
    lock.lock();
  }
}

}  // namespace keel::detail
