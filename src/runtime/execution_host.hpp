// What one workflow's execution (execution.hpp) needs from the engine that
// runs it: the narrow interface between the two. The engine implements it;
// an execution, and the Context operations on top of it, see nothing else of
// the engine (its registry, its threads, its other executions).
// Thread-safety: every method may be called from any workflow thread.
#pragma once

#include <string>

#include "keel/config.hpp"
#include "keel/serialization.hpp"
#include "keel/workflow.hpp"
#include "metrics/catalog.hpp"
#include "runtime/notifier.hpp"
#include "runtime/parking.hpp"
#include "sysdb/system_database.hpp"

namespace keel {
class Runtime;
}

namespace keel::detail {

class Execution;

class ExecutionHost {
 public:
  virtual sysdb::SystemDatabase& db() = 0;
  virtual Notifier& notifier() = 0;
  virtual const RuntimeConfig& config() const = 0;
  // Shutdown has begun: operations stop, waits end.
  virtual bool stopping() const = 0;
  // Workflows wait for a pool thread now: a waiting execution parks at once.
  virtual bool threads_scarce() const = 0;
  // The execution on this (pool) thread waits suspended from now until its
  // task ends: its thread stays, outside the pool's limit. False when the
  // suspended workflows are at their limit (RuntimeConfig::
  // max_suspended_workflows): the wait parks instead.
  [[nodiscard]] virtual bool suspend_current_thread() = 0;
  virtual ParkingLot& parking() = 0;
  // Starts the child workflow `name` of parent at its position function_id,
  // recording that operation in the same commit; exactly once (the child's
  // ID is derived from the parent's and the position). Returns the child's ID.
  virtual std::string start_child(Execution& parent, int function_id, const std::string& name,
                                  const ChildOptions& options, Json inputs) = 0;
  // The Runtime the handles of started children refer to.
  virtual Runtime& runtime() = 0;
  // Where the workflow `name` was registered ("file:line"; empty if unknown).
  virtual std::string registered_at(const std::string& name) const = 0;
  // The engine's instruments (metrics/catalog.hpp).
  virtual metrics::RuntimeMetrics& metrics() = 0;

 protected:
  ~ExecutionHost() = default;
};

}  // namespace keel::detail
