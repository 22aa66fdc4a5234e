// Group commit on PostgreSQL, with as few round trips as the units allow.
//
// Like GroupCommitter (group_commit.hpp), concurrent callers' units share one
// commit and each caller returns once the commit holding its unit is durable.
// Two kinds of unit:
//  * a statement unit (run_statement): one SQL statement; the caller gets its
//    result once committed and reads anything more on a connection of its own;
//  * a general unit (run): a function running statements one at a time on the
//    writer connection, inside its own savepoint.
// A leader takes every queued unit (up to max_batch) and
//  * runs one statement unit alone as its own transaction (autocommit): one
//    round trip, no BEGIN/COMMIT;
//  * otherwise sends BEGIN, every statement unit's statement and (when there
//    is no general unit) COMMIT in one libpq pipeline: one round trip for the
//    whole batch; general units then run one by one and COMMIT follows.
// A statement that fails aborts the transaction: it is rolled back and every
// unit of that batch runs again alone, so only the failing unit sees its
// error. A failed COMMIT or a lost connection fails every unit of the batch
// (the outcome of a COMMIT whose answer was lost is unknown: the runtime's
// claims read it back). The fault points "checkpoint.before_commit" and
// "checkpoint.after_commit" fire around every commit, as in GroupCommitter.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "sysdb/postgres/connection.hpp"

namespace keel::sysdb::postgres {

class PipelineCommitter {
 public:
  using Unit = std::function<void(Connection&)>;
  using FaultHook = std::function<void(std::string_view)>;

  PipelineCommitter(Connection& conn, FaultHook hook, size_t max_batch = 256)
      : conn_(conn), hook_(std::move(hook)), max_batch_(max_batch) {}

  // Runs one statement in a batch; returns its result once committed.
  Result run_statement(std::string_view sql, const std::vector<SqlValue>& params);
  // Runs unit in a batch (in its own savepoint) and returns once committed.
  void run(const Unit& unit);

 private:
  struct Pending {
    const Unit* unit = nullptr;  // a general unit, or
    std::string_view sql;        // a statement unit
    const std::vector<SqlValue>* params = nullptr;
    std::optional<Result> result;
    std::exception_ptr error;
    bool done = false;
  };
  void submit(Pending& me);
  void lead(std::unique_lock<std::mutex>& lock);
  void execute(std::vector<Pending*>& batch);
  void execute_alone(Pending& p);
  bool run_general(std::vector<Pending*>& generals, std::vector<Pending*>& batch);
  void commit();
  void fault(std::string_view point) const {
    if (hook_) hook_(point);
  }

  Connection& conn_;
  FaultHook hook_;
  size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;  // guarded by mu_
  bool leader_active_ = false;  // guarded by mu_
};

}  // namespace keel::sysdb::postgres
