/// @file
/// keel/debounce.hpp — debouncing: run a workflow once after a burst of calls
/// goes quiet (docs/debounce.md).
///
/// Contract:
///  * Runtime::debounce(wf, DebounceOptions{key, window, ...}, args...)
///    records a call of the burst of `key`, in one transaction. The first
///    call of a burst stores the burst (table keel_debounces) with its target
///    workflow ID (options.workflow_id, else a fresh UUID), its queue
///    (options.queue) and its cap (first call + max_wait). Every later call
///    of the burst replaces the inputs with its own and moves the burst's
///    fire time to its own time + its window, never past the cap. Every call
///    of a burst returns a handle to the same target ID; result() waits for
///    the workflow that the burst starts.
///  * Exactly once per burst: when the fire time has passed, one firer
///    deletes the burst and inserts its workflow, with the last call's
///    inputs, in one commit (PENDING under the firer's executor, or ENQUEUED
///    in the burst's queue). Firers racing over the same burst, in this
///    process or others on the same database, fire it once; a crash leaves
///    either the burst (fired later by any firer) or the workflow (run, or
///    recovered as any PENDING workflow). A call that arrives once its burst
///    is fired begins a new burst, with a new target ID.
///  * Firers: each launched Runtime runs one debouncer thread, which fires
///    the due bursts of the workflow names registered in it (a burst of a
///    name no launched process registers waits). It looks at the database
///    at its earliest known fire time and at least every second: a burst
///    fires within about a second of its fire time (sooner when the call was
///    made in the firing process). The fired workflow is recorded with the
///    firer's application version. Fault points (RuntimeConfig::fault_hook):
///    "debounce.fire_started" before a due burst's fire, "debounce.fired"
///    after the fire committed, before its workflow runs.
///  * The target ID is the idempotency key, as for Runtime::start: when a
///    workflow with that ID exists at the fire, nothing is started (use
///    workflow_id only for IDs no other burst or start uses).
///  * Throws UsageError for an empty key, a window that is not positive, a
///    max_wait below the window; UnknownWorkflowError for a workflow not
///    registered here; UnknownQueueError for a queue not registered here;
///    WorkflowConflictError, writing nothing, when the key's open burst is of
///    another workflow.
///
/// Non-guarantees: the fire is not punctual (see Firers; a busy database or
/// no live firer delays it); a burst's queue, target ID and cap come from its
/// first call (later calls' are ignored); the handle's status() and info()
/// throw WorkflowNotFoundError until the burst fires; no fairness between
/// firers.
///
/// Client::debounce records calls the same way (keel/client.hpp) and fires
/// nothing: a launched Runtime registering the workflow fires its bursts.
///
/// Thread-safety: value types; Runtime::debounce is thread-safe once
/// launched, Client::debounce always.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace keel {

/// How a call of Runtime::debounce joins (or begins) its key's burst.
struct DebounceOptions {
  /// The burst's key: calls with the same key (for the same workflow) are
  /// one burst until it fires. Not empty.
  std::string key;
  /// The quiet time: the burst fires this long after its last call. Positive.
  std::chrono::milliseconds window{0};
  /// A cap: the burst fires at the latest this long after its first call,
  /// even while calls keep coming. At least window; nullopt: no cap.
  std::optional<std::chrono::milliseconds> max_wait;
  /// Enqueue the workflow in this queue (registered here) at the fire
  /// instead of starting it. Empty: start it in the firing process.
  std::string queue;
  /// The target workflow ID when this call begins a burst; empty: a fresh UUID.
  std::string workflow_id;
};

/// Throws UsageError unless `options` are valid (see the contract above).
void validate(const DebounceOptions& options);

}  // namespace keel
