// The engine and queues behind a Runtime, for the Context (ctx.enqueue goes
// through its Runtime's queues) and for Keel's own tests and benchmarks
// (counters of pool threads and parked workflows). Not part of the public API:
// Runtime::engine() is gone, and applications cannot reach the engine.
#pragma once

#include "keel/runtime.hpp"
#include "runtime/engine.hpp"
#include "runtime/queues.hpp"

namespace keel::detail {

struct RuntimeAccess {
  static Engine& engine(Runtime& rt) { return *rt.engine_; }
  // For Context::enqueue (a workflow enqueues through its Runtime's queues).
  static Queues& queues(Runtime& rt) { return *rt.queues_; }
  // The metrics text of rt (GET /metrics of the admin server), its
  // registered queues' counts included.
  static std::string metrics_text(Runtime& rt);
};

}  // namespace keel::detail
