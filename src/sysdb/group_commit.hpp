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
// Backend-neutral: the backend supplies the transaction verbs; the batching
// itself is Batcher's (batcher.hpp). Thread-safe.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <string_view>
#include <vector>

#include "metrics/catalog.hpp"
#include "sysdb/batcher.hpp"

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
      : verbs_(std::move(verbs)), hook_(std::move(hook)), batcher_(max_batch) {}

  // Runs unit in a batch and returns once that batch is committed. The fault
  // points fire around a commit only when one of its units has fault_points
  // (the lease's heartbeats have not: a test arming a checkpoint's commit
  // must not see a heartbeat's instead).
  void run(const Unit& unit, bool fault_points = true);
  // Where each batch's duration and size go; set before the first run().
  void set_metrics(metrics::DatabaseMetrics* m) { metrics_ = m; }

 private:
  struct Pending {
    const Unit* unit;
    std::exception_ptr error;
    bool fault_points;
  };
  void execute_batch(std::vector<Pending*>& batch);
  bool run_units(std::vector<Pending*>& batch);
  void fault(std::string_view point, bool on) const {
    if (on && hook_) hook_(point);
  }

  TransactionVerbs verbs_;
  FaultHook hook_;
  Batcher<Pending> batcher_;
  metrics::DatabaseMetrics* metrics_ = nullptr;
};

}  // namespace keel::sysdb
