// The outcomes (SUCCESS or ERROR) of the workflows this process finished
// lately, so that a result() of a workflow that ran here needs no database
// read. Only an outcome this process committed itself is kept, and a
// workflow's SUCCESS or ERROR never changes again, so an entry is never
// stale. Bounded: the oldest entries go first; a miss reads the database.
// Thread-safe.
#pragma once

#include <cstddef>
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

  // info: id, status (SUCCESS or ERROR), output or error.
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

  bool contains(const std::string& id) const {
    std::lock_guard lock(mu_);
    return map_.count(id) > 0;
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
