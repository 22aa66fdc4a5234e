// What the engine throws through a workflow's stack to stop running it
// without ending it. Neither is a std::exception, so that workflow code's
// `catch (const std::exception&)` does not swallow them (its `catch (...)`
// must rethrow: docs/guarantees.md).
#pragma once

#include <string>

namespace keel::detail {

// Stops the execution without changing its status (shutdown, the system
// database failing, another execution recorded its position).
struct ExecutionInterrupted {
  std::string reason;
  bool database_unavailable = false;  // the engine runs it again later (Engine::park_for_retry)
  bool storage_full = false;          // ... because the database's filesystem is full (its log line says so)
};

// The execution parked (Execution::wait): the thread is given back, the
// workflow stays PENDING and is resumed by replay.
struct ExecutionParked {};

// The run ended by ctx.continue_as_new, whose commit went in: the engine
// starts the next run (same workflow ID, the new inputs, the history from the
// hand-over's marker on).
struct ContinuedAsNew {};

// A verifying execution (the upgrade check, keel/upgrade_check.hpp) reached
// the end of its recorded history: the next operation would do real work
// (run a body, write, wait). The check stops there: all before matched.
struct HistoryEnd {};

}  // namespace keel::detail
