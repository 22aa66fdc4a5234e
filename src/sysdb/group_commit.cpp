#include "sysdb/group_commit.hpp"

namespace keel::sysdb {

void GroupCommitter::run(const Unit& unit) {
  Pending me{&unit, nullptr, false};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  while (!me.done) {
    if (!leader_active_) {
      lead(lock);
    } else {
      cv_.wait(lock);
    }
  }
  if (me.error) std::rethrow_exception(me.error);
}

// Called with lock held: runs one batch (which holds the caller's own unit
// unless a previous leader took it), then steps down so that no caller leads
// forever under sustained load.
void GroupCommitter::lead(std::unique_lock<std::mutex>& lock) {
  leader_active_ = true;
  std::deque<Pending*> batch;
  while (!queue_.empty() && batch.size() < max_batch_) {
    batch.push_back(queue_.front());
    queue_.pop_front();
  }
  lock.unlock();
  execute_batch(batch);
  lock.lock();
  for (Pending* p : batch) p->done = true;
  leader_active_ = false;
  cv_.notify_all();
}

void GroupCommitter::execute_batch(std::deque<Pending*>& batch) {
  try {
    verbs_.begin();
  } catch (...) {
    for (Pending* p : batch) p->error = std::current_exception();
    return;
  }
  if (!run_units(batch)) return;
  try {
    fault("checkpoint.before_commit");
    verbs_.commit();
    fault("checkpoint.after_commit");
  } catch (...) {
    auto err = std::current_exception();
    try { verbs_.rollback(); } catch (...) {}
    for (Pending* p : batch) p->error = err;
  }
}

// Runs the units inside the open transaction; false when it was rolled back
// (nothing left to commit).
bool GroupCommitter::run_units(std::deque<Pending*>& batch) {
  if (batch.size() == 1) {
    // A batch of one needs no savepoint (the most common case without
    // contention): if the unit fails, rolling back the transaction undoes
    // exactly that unit.
    Pending* p = batch.front();
    try {
      (*p->unit)();
      return true;
    } catch (...) {
      p->error = std::current_exception();
      try { verbs_.rollback(); } catch (...) {}
      return false;
    }
  }
  for (Pending* p : batch) {
    try {
      verbs_.savepoint();
      try {
        (*p->unit)();
      } catch (...) {
        p->error = std::current_exception();
        verbs_.rollback_to_savepoint();
      }
      verbs_.release_savepoint();
    } catch (...) {
      // A savepoint verb itself failed: the transaction is unusable.
      auto err = std::current_exception();
      try { verbs_.rollback(); } catch (...) {}
      for (Pending* q : batch) q->error = err;
      return false;
    }
  }
  return true;
}

}  // namespace keel::sysdb
