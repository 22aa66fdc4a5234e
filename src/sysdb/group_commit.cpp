#include "sysdb/group_commit.hpp"

#include <algorithm>

namespace keel::sysdb {

void GroupCommitter::run(const Unit& unit, bool fault_points) {
  Pending me{&unit, nullptr, fault_points};
  batcher_.submit(me, [this](std::vector<Pending*>& batch, size_t) {
    metrics::Stopwatch watch;
    execute_batch(batch);
    if (metrics_) metrics_->observe_batch(watch.seconds(), batch.size());
  });
  if (me.error) std::rethrow_exception(me.error);
}

void GroupCommitter::execute_batch(std::vector<Pending*>& batch) {
  try {
    verbs_.begin();
  } catch (...) {
    for (Pending* p : batch) p->error = std::current_exception();
    return;
  }
  if (!run_units(batch)) return;
  bool hooks = std::any_of(batch.begin(), batch.end(), [](const Pending* p) { return p->fault_points; });
  try {
    fault("checkpoint.before_commit", hooks);
    verbs_.commit();
    fault("checkpoint.after_commit", hooks);
  } catch (...) {
    auto err = std::current_exception();
    try { verbs_.rollback(); } catch (...) {}
    for (Pending* p : batch) p->error = err;
  }
}

// Runs the units inside the open transaction; false when it was rolled back
// (nothing left to commit).
bool GroupCommitter::run_units(std::vector<Pending*>& batch) {
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
