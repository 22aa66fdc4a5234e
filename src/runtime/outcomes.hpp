// The outcomes (SUCCESS or ERROR) of the workflows this process finished
// lately, so that a result() of a workflow that ran here needs no database
// read. Only an outcome this process committed itself is kept, and a
// workflow's SUCCESS or ERROR never changes again, so an entry is stale only
// when its row is deleted and the ID started again: a start or enqueue here
// that creates a row erases the entry (a row created by another process
// after such a delete is not seen: see Engine::spawn, which compares
// created_at). Bounded: the oldest entries go first; a miss reads the
// database.
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "keel/status.hpp"

namespace keel::detail {

class RecentOutcomes {
 public:
  explicit RecentOutcomes(size_t capacity) : capacity_(capacity) {}

  // info: id, created_at_ms (which row of the ID), status (SUCCESS or
  // ERROR), output or error.
  void put(WorkflowInfo info) {
    std::lock_guard lock(mu_);
    std::string id = info.id;
    if (!map_.insert_or_assign(id, std::move(info)).second) return;
    order_.push_back(std::move(id));
    if (order_.size() > capacity_) {
      map_.erase(order_.front());
      order_.pop_front();
    }
  }

  // Whether this process recorded the end of id's row created at created_at_ms.
  bool ended(const std::string& id, int64_t created_at_ms) const {
    std::lock_guard lock(mu_);
    auto it = map_.find(id);
    return it != map_.end() && it->second.created_at_ms == created_at_ms;
  }

  // Forgets id's outcome (a new workflow row took the ID). Its old place in
  // the eviction order stays, and may evict a later entry of the ID early
  // (a miss: the database is read).
  void erase(const std::string& id) {
    std::lock_guard lock(mu_);
    map_.erase(id);
  }

  std::optional<WorkflowInfo> get(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = map_.find(id);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, WorkflowInfo> map_;  // guarded by mu_
  std::deque<std::string> order_;                      // guarded by mu_; oldest first
};

}  // namespace keel::detail
