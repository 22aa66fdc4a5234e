// Group commit: concurrent callers' write units share one database commit.
//
// A caller hands in a unit (a function that writes through the connection).
// The first caller to arrive becomes the leader: it opens a transaction, runs
// every queued unit inside its own savepoint, commits once and wakes the
// callers. Callers arriving meanwhile queue for the next batch. Each caller
// returns only when the commit that holds its unit is durable, and sees its
// own unit's exception (its writes rolled back to its savepoint) or the
// commit's exception (nothing of the batch written).
//
// Backend-neutral: the backend supplies the transaction verbs. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string_view>

namespace keel::sysdb {

struct TransactionVerbs {
  std::function<void()> begin;
  std::function<void()> commit;
  std::function<void()> rollback;
  std::function<void()> savepoint;
  std::function<void()> release_savepoint;
  std::function<void()> rollback_to_savepoint;
};

class GroupCommitter {
 public:
  using Unit = std::function<void()>;
  using FaultHook = std::function<void(std::string_view)>;

  GroupCommitter(TransactionVerbs verbs, FaultHook hook, size_t max_batch = 256)
      : verbs_(std::move(verbs)), hook_(std::move(hook)), max_batch_(max_batch) {}

  // Runs unit in a batch and returns once that batch is committed.
  void run(const Unit& unit);

 private:
  struct Pending {
    const Unit* unit;
    std::exception_ptr error;
    bool done = false;
  };
  void lead(std::unique_lock<std::mutex>& lock);
  void execute_batch(std::deque<Pending*>& batch);
  bool run_units(std::deque<Pending*>& batch);
  void fault(std::string_view point) const {
    if (hook_) hook_(point);
  }

  TransactionVerbs verbs_;
  FaultHook hook_;
  size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;  // guarded by mu_
  bool leader_active_ = false;  // guarded by mu_
};

}  // namespace keel::sysdb
