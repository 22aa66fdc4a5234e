// Group commit on PostgreSQL, with as few round trips as the units allow.
//
// Like GroupCommitter (group_commit.hpp), concurrent callers' units share one
// commit and each caller returns once the commit holding its unit is durable.
// Two kinds of unit:
//  * a statement unit (run_statement): one SQL statement; the caller gets its
//    result once committed and reads anything more on a connection of its own;
//  * a general unit (run): a function running statements one at a time on the
//    writer connection, inside its own savepoint; or, when it names a BEGIN
//    statement of its own (an isolation level), alone in a transaction
//    opened with that statement.
// A leader (batcher.hpp) takes every queued unit (up to max_batch) and
//  * runs one statement unit alone as its own transaction (autocommit): one
//    round trip, no BEGIN/COMMIT;
//  * otherwise runs the general units one by one (BEGIN and their savepoint
//    verbs travel with their statements), then sends what they deferred,
//    every statement unit's statement and COMMIT in one libpq pipeline: one
//    round trip for all the statement units and the commit.
// A statement that fails aborts the transaction: it is rolled back and every
// unit of that batch runs again alone, so only the failing unit sees its
// error. So does a refused deferred check (Connection::defer_check: a user
// transaction's claim, sent unanswered with whatever follows it). A failed
// COMMIT or a lost connection fails every unit of the batch (the outcome of a
// COMMIT whose answer was lost is unknown: the runtime's claims read it
// back). The fault points "checkpoint.before_commit" and
// "checkpoint.after_commit" fire around every commit, as in GroupCommitter.
// Thread-safe.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "metrics/catalog.hpp"
#include "sysdb/batcher.hpp"
#include "sysdb/postgres/connection.hpp"

namespace keel::sysdb::postgres {

class PipelineCommitter {
 public:
  using Unit = std::function<void(Connection&)>;
  using FaultHook = std::function<void(std::string_view)>;

  PipelineCommitter(Connection& conn, FaultHook hook, size_t max_batch = 256)
      : PipelineCommitter(std::vector<Connection*>{&conn}, std::move(hook), max_batch) {}
  // One lane per connection: as many batches in flight at once. General
  // units run on the first lane only (batcher.hpp: they hold the locks of
  // user transactions until their batch commits; on one lane they cannot
  // deadlock with one another).
  PipelineCommitter(std::vector<Connection*> lanes, FaultHook hook, size_t max_batch = 256)
      : lanes_(std::move(lanes)),
        hook_(std::move(hook)),
        batcher_(max_batch, lanes_.size(), [](const Pending& p) { return p.unit == nullptr; }) {}

  // Runs one statement in a batch; returns its result once committed.
  Result run_statement(std::string_view sql, const std::vector<SqlValue>& params);
  // Runs unit in a batch (in its own savepoint) and returns once committed.
  // fault_points: as GroupCommitter::run (false for the lease's heartbeats).
  // begin: empty, or the statement that opens a transaction of the unit's
  // own ("BEGIN ISOLATION LEVEL SERIALIZABLE"): then it shares no commit.
  void run(const Unit& unit, bool fault_points = true, std::string_view begin = {});
  // Where each batch's duration and size go; set before the first run.
  void set_metrics(metrics::DatabaseMetrics* m) { metrics_ = m; }
  // Runs before each batch on its lane's connection, outside a transaction
  // (session settings: Connection::set_session). A failure is ignored: the
  // batch then runs on whatever session the connection has. Set before the
  // first run.
  void set_session_hook(std::function<void(Connection&)> hook) { session_hook_ = std::move(hook); }

 private:
  struct Pending {
    const Unit* unit = nullptr;  // a general unit, or
    std::string_view sql;        // a statement unit
    const std::vector<SqlValue>* params = nullptr;
    std::optional<Result> result;
    std::exception_ptr error;
    bool fault_points = true;
    std::string_view begin;  // a general unit's own BEGIN; empty: it shares the batch's
  };
  void submit(Pending& me);
  void execute(std::vector<Pending*>& batch, Connection& conn);
  void execute_alone(Pending& p, Connection& conn);
  void run_general(std::vector<Pending*>& generals, Connection& conn);
  void fail_batch(std::vector<Pending*>& batch, std::exception_ptr err, bool isolate, Connection& conn);
  static void commit(Connection& conn);
  void fault(std::string_view point, bool on) const {
    if (on && hook_) hook_(point);
  }

  std::vector<Connection*> lanes_;
  FaultHook hook_;
  Batcher<Pending> batcher_;
  metrics::DatabaseMetrics* metrics_ = nullptr;
  std::function<void(Connection&)> session_hook_;
};

}  // namespace keel::sysdb::postgres
