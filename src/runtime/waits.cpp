// Waits from outside any workflow: results, events, and sending messages.
#include <thread>

#include "common/clock.hpp"
#include "common/wake_key.hpp"
#include "runtime/engine.hpp"
#include "runtime/execution.hpp"
#include "runtime/results.hpp"
#include "runtime/streams.hpp"

namespace keel::detail {

namespace {

// Bounded sleep for a waiter outside or inside a workflow: inside, it also
// stops for cancellation and shutdown, and an untimed wait (a child's result)
// may park: its replay reads the result again (parkable_since: when it began).
void wait_once(Engine& engine, Notifier::Waiter& w, std::chrono::steady_clock::time_point until,
               std::optional<int64_t> parkable_since = std::nullopt) {
  auto poll = std::chrono::steady_clock::now() + engine.config().poll_interval;
  if (Execution* ex = current_execution()) {
    ex->begin_unrecorded();  // a verifying run stops where it would wait
    ex->check_interrupt();
    if (parkable_since && !ex->in_step()) {
      constexpr int64_t kNever = int64_t{1} << 60;  // woken by the child's end or the sweep
      int64_t wake = ex->info().deadline_epoch_ms.value_or(kNever);
      ex->park_if_due(w, wake, *parkable_since);
    }
  } else if (engine.stopping()) {
    throw RuntimeStateError("the runtime is shutting down");
  }
  w.wait_until(std::min(until, poll));
}

}  // namespace

// Shared with the Client (runtime/results.hpp).
Json result_of(const WorkflowInfo& info) {
  switch (info.status) {
    case WorkflowStatus::Success: return info.output.value_or(Json(nullptr));
    case WorkflowStatus::Error:
      throw_recorded_error(info.error ? info.error->type_name : "unknown",
                           info.error ? info.error->message : "workflow failed");
    case WorkflowStatus::Cancelled: throw WorkflowCancelledError("workflow '" + info.id + "' was cancelled");
    case WorkflowStatus::MaxRecoveryAttemptsExceeded:
      throw DeadLetterError("workflow '" + info.id + "' exceeded its maximum recovery attempts");
    default: throw UsageError("workflow '" + info.id + "' is not finished");
  }
}

Json Engine::await_result(const std::string& id, std::optional<std::chrono::milliseconds> timeout) {
  auto until = timeout ? std::chrono::steady_clock::now() + *timeout : std::chrono::steady_clock::time_point::max();
  Notifier::Waiter w(notifier_, WakeKey::done(id));
  std::optional<int64_t> parkable_since;
  if (!timeout) parkable_since = now_ms();
  // A workflow running here records its outcome here before it leaves:
  // until then its status is read only every kPollsPerRead polls (for a
  // cancel from another process, which the execution itself sees only at
  // its next operation). Not on a wake-up by a notify: PostgreSQL's NOTIFY
  // of the end may come before this process has stored the outcome.
  constexpr int kPollsPerRead = 10;
  // An untimed wait outside any workflow runs the workflow itself if no
  // pool thread has taken it yet (queued_run.hpp): start(...).result()
  // then hands nothing to a pool thread and back. Not a timed wait (it must
  // return at its deadline), nor a workflow's (its thread is its own).
  if (!timeout && current_execution() == nullptr) run_queued_here(id);
  for (int polls = 0;; ++polls) {
    if (auto done = outcomes_.get(id)) return result_of(*done);
    if (polls >= kPollsPerRead || !runs_here(id)) {
      polls = 0;
      auto info = db_->get_workflow(id);
      // A debounced burst's target exists only once the burst fired
      // (keel/debounce.hpp); the fire deletes the burst and inserts the
      // workflow in one commit, so a second read after the burst is gone
      // finds the workflow if it fired.
      if (!info && !db_->debounce_targets(id)) {
        info = db_->get_workflow(id);
        if (!info) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
      }
      if (info && is_terminal(info->status)) return result_of(*info);
    }
    if (std::chrono::steady_clock::now() >= until)
      throw TimeoutError("workflow '" + id + "' did not finish within the timeout");
    wait_once(*this, w, until, parkable_since);
  }
}

std::optional<Json> Engine::get_event(const std::string& id, const std::string& key,
                                      std::chrono::milliseconds timeout) {
  require_running();
  auto until = std::chrono::steady_clock::now() + timeout;
  Notifier::Waiter w(notifier_, WakeKey::event(id, key));
  for (;;) {
    auto v = w.payload();  // set here during this call: no read
    if (!v) v = db_->get_event(id, key);
    if (v) return parse_stored_json(*v, "event '" + key + "' of workflow '" + id + "'");
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    wait_once(*this, w, until);
  }
}

StreamBatch<Json> Engine::read_stream(const std::string& id, const std::string& key, int64_t offset,
                                      std::chrono::milliseconds timeout, int max_values) {
  check_stream_read(key, offset, max_values);
  require_running();
  return read_stream_waiting([&] { return db_->read_stream(id, key, offset, max_values); }, notifier_, id, key, offset,
                             timeout, [&](Notifier::Waiter& w, auto until) { wait_once(*this, w, until); });
}

void Engine::send(const std::string& dest, const std::string& topic, const Json& message, const std::string& key) {
  require_running();
  std::string text = message.dump();
  auto sent = db_->send_message(dest, topic, text, key, "", nullptr);
  notifier_.notify_message(dest, topic, sent.message_id, text);
}

}  // namespace keel::detail
