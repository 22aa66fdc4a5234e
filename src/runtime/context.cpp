// The durable operations of keel::Context.
#include "keel/context.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/clock.hpp"
#include "common/log_context.hpp"
#include "common/wake_key.hpp"
#include "runtime/execution.hpp"
#include "runtime/operations.hpp"
#include "runtime/queues.hpp"
#include "runtime/runtime_access.hpp"
#include "runtime/streams.hpp"
#include "runtime/transaction_body.hpp"

namespace keel {

using detail::Execution;
using detail::now_ms;
using detail::WakeKey;

namespace {

class InStep {
 public:
  explicit InStep(Execution& execution) : ex_(execution) { ex_.set_in_step(true); }
  ~InStep() { ex_.set_in_step(false); }

 private:
  Execution& ex_;
};

// Every operation is workflow code's: not a step's body, not a transaction's.
void require_workflow_code(Execution& ex, std::string_view call) {
  detail::forbid_in_transaction_body(call);
  if (ex.in_step()) throw UsageError(std::string(call) + " called inside a step of workflow '" + ex.id() + "'");
}

std::chrono::milliseconds retry_delay(const StepOptions& o, int failed_attempt) {
  double ms = static_cast<double>(o.interval.count()) * std::pow(o.backoff_rate, failed_attempt - 1);
  ms = std::min(ms, static_cast<double>(o.max_interval.count()));
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

// Sleeps until epoch ms, waking for cancellation and shutdown. A durable
// sleep may park; a retry delay inside a step may not (its attempt count
// lives only on this stack).
void interruptible_sleep_until(Execution& ex, int64_t wake_ms, bool parkable) {
  detail::Notifier::Waiter w(ex.notifier(), WakeKey::sleep(ex.id()));
  std::optional<int64_t> since;
  if (parkable) since = now_ms();
  while (now_ms() < wake_ms) {
    ex.check_interrupt();
    ex.wait(w, wake_ms, since);
  }
  ex.check_interrupt();
}

// The deadline of a timed wait: recorded at position fid once the wait
// starts, so that after a crash the wait lasts only what is left. The record
// is deferred (Execution::defer_record): it goes in with a received
// message's record, once the wait has lasted park_after, at parking, or
// before the wait's own record.
class DurableDeadline {
 public:
  DurableDeadline(Execution& ex, int fid, std::chrono::milliseconds timeout) : ex_(ex), fid_(fid), timeout_(timeout) {
    if (auto* r = ex.recorded(fid, detail::kDeadline)) fix(detail::replay_output(ex, *r).get<int64_t>());
  }
  bool passed() const { return fixed_ && now_ms() >= at_; }
  // The deadline, fixed (and its record deferred) on first use.
  int64_t get() {
    if (!fixed_) {
      auto op = ex_.make_op(fid_, detail::kDeadline, now_ms());
      fix(op.completed_at_ms + timeout_.count());
      op.output = std::to_string(at_);
      ex_.defer_record(std::move(op), /*replayable=*/true);
    }
    return at_;
  }

 private:
  Execution& ex_;
  int fid_;
  std::chrono::milliseconds timeout_;
  // Not std::optional: GCC 12 warns (maybe-uninitialized) on it here.
  bool fixed_ = false;
  int64_t at_ = 0;
  void fix(int64_t at) {
    fixed_ = true;
    at_ = at;
  }
};

// The message a recv's wake-up carried, when that wake-up was the only one
// since the recv began (Notifier::Waiter::sole_payload).
std::optional<sysdb::WaitingMessage> taken_from_wake_up(const detail::Notifier::Waiter& w) {
  auto payload = w.sole_payload();
  if (!payload) return std::nullopt;
  auto m = detail::MessagePayload::decode(*payload);
  if (!m) return std::nullopt;
  return sysdb::WaitingMessage{m->message_id, std::move(m->message)};
}

std::optional<Json> record_optional(Execution& ex, int fid, std::string_view name, const std::optional<std::string>& v,
                                    int64_t started) {
  ex.flush_deferred();  // the deadline first
  auto op = ex.make_op(fid, name, started);
  op.output = v ? "[" + *v + "]" : "[]";
  return detail::replay_optional(ex, ex.record(op));
}

}  // namespace

const std::string& Context::workflow_id() const { return exec_.id(); }

std::string Context::idempotency_key() const {
  int fid = exec_.in_step() ? exec_.current_function_id() : exec_.current_function_id() + 1;
  return exec_.id() + ":" + std::to_string(fid);
}

Runtime& Context::runtime() { return exec_.runtime(); }

Json Context::run_step(std::string_view name, const StepOptions& options, const std::function<Json()>& body) {
  require_workflow_code(exec_, "ctx.step");
  int fid = exec_.next_step_function_id();
  if (auto* r = exec_.recorded(fid, name, OperationKind::Step)) return detail::replay_output(exec_, *r);
  exec_.begin_unrecorded();
  exec_.check_stop();  // the replayable records deferred may wait through the body
  int64_t started = now_ms();
  metrics::Stopwatch watch;
  exec_.fault("step.before");
  std::optional<Json> out;
  std::optional<RecordedErrorInfo> err;
  const int max_attempts = std::max(1, options.max_attempts);
  int attempt = 0;
  while (!out && !err) {
    ++attempt;
    std::optional<RecordedErrorInfo> failure;
    try {
      InStep guard(exec_);
      detail::LogContextScope log_context(exec_.id(), name, fid);
      exec_.fault("step.body", name);
      out = body();
    } catch (const std::exception& e) {
      failure = detail::describe_exception(e);
    } catch (const detail::ExecutionInterrupted&) {
      throw;
    } catch (...) {
      failure = RecordedErrorInfo{"unknown", "a non-standard exception was thrown"};
    }
    if (!failure) break;
    if (attempt >= max_attempts) {
      err = max_attempts == 1 ? *failure
                              : RecordedErrorInfo{"keel::MaxRetriesExceededError",
                                                  "step '" + std::string(name) + "' failed " +
                                                      std::to_string(max_attempts) + " times; last error: " +
                                                      failure->type_name + ": " + failure->message};
    } else {
      exec_.metrics().step_retries.with({name}).inc();
      interruptible_sleep_until(exec_, now_ms() + retry_delay(options, attempt).count(), false);
    }
  }
  exec_.metrics().operation_seconds.with({"step", name}).observe(watch.seconds());
  exec_.fault("step.after");
  auto op = exec_.make_op(fid, name, started);
  op.kind = OperationKind::Step;
  op.attempts = attempt;
  if (out) op.output = out->dump();
  op.error = err;
  exec_.defer_record(std::move(op), /*replayable=*/false);  // written by the next operation, or with the end
  if (err) throw_recorded_error(err->type_name, err->message);
  return std::move(*out);
}

Json Context::run_transaction(std::string_view name, const TransactionOptions& options,
                              const std::function<Json(Sql&)>& body) {
  require_workflow_code(exec_, "ctx.transaction");
  int fid = exec_.next_function_id();
  if (auto* r = exec_.recorded(fid, name, OperationKind::Transaction)) return detail::replay_output(exec_, *r);
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  auto op = exec_.make_op(fid, name, now_ms());
  op.kind = OperationKind::Transaction;
  std::optional<Json> result;
  std::optional<RecordedErrorInfo> err;
  sysdb::TransactionMode mode{/*probe_first=*/false, options.isolation};
  metrics::Stopwatch watch;
  // A retry (a lost connection, a serialization failure or deadlock) runs
  // the body again; it probes first (sysdb/system_database.hpp).
  auto cp = exec_.with_db([&](sysdb::SystemDatabase& db) {
    result.reset();
    err.reset();
    sysdb::TransactionMode attempt = mode;
    mode.probe_first = true;
    return db.run_transaction(exec_.id(), op, [&](Sql& sql) -> std::string {
      detail::TransactionBodyScope scope(exec_.id(), name);
      // The body may run on another workflow's thread (the batch's leader).
      detail::LogContextScope log_context(exec_.id(), name, fid);
      try {
        result = body(sql);
        return result->dump();
      } catch (const std::exception& e) {
        err = detail::describe_exception(e);
        throw;
      }
    }, attempt);
  });
  exec_.metrics().operation_seconds.with({"transaction", name}).observe(watch.seconds());
  exec_.accept(cp);
  if (cp.existing) return detail::replay_output(exec_, *cp.existing);
  if (err) throw_recorded_error(err->type_name, err->message);
  return *result;
}

void Context::do_set_event(std::string_view key, Json value) {
  require_workflow_code(exec_, "ctx.set_event");
  int fid = exec_.next_function_id();
  if (exec_.recorded(fid, detail::kSetEvent)) return;
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  auto op = exec_.make_op(fid, detail::kSetEvent, now_ms());
  std::string k(key);
  op.output = detail::set_event_output(k, value);
  std::string stored = value.dump();
  auto cp = exec_.with_db([&](sysdb::SystemDatabase& db) { return db.set_event(exec_.id(), k, stored, op); });
  exec_.accept(cp);
  // The value goes with the wake-up only when this call wrote it (a position
  // recorded before, by another run, may have set another value).
  std::optional<std::string> payload;
  if (!cp.existing) payload = std::move(stored);
  exec_.notifier().notify(WakeKey::event(exec_.id(), k), std::move(payload));
}

std::optional<Json> Context::do_get_event(std::string_view workflow_id, std::string_view key,
                                          std::chrono::milliseconds timeout) {
  require_workflow_code(exec_, "ctx.get_event");
  DurableDeadline deadline(exec_, exec_.next_function_id(), timeout);
  int fid = exec_.next_function_id();
  if (auto* r = exec_.recorded(fid, "keel.get_event")) return detail::replay_optional(exec_, *r);
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  int64_t started = now_ms();
  std::string target(workflow_id), k(key);
  detail::Notifier::Waiter w(exec_.notifier(), WakeKey::event(target, k));
  for (;;) {
    auto v = w.payload();  // set here during this call: no read
    if (!v) v = exec_.with_db([&](sysdb::SystemDatabase& db) { return db.get_event(target, k); });
    if (v || deadline.passed() || timeout.count() <= 0) return record_optional(exec_, fid, "keel.get_event", v, started);
    exec_.wait(w, deadline.get(), started);
    exec_.check_interrupt();
  }
}

void Context::do_send(std::string_view destination_id, std::string_view topic, Json message) {
  require_workflow_code(exec_, "ctx.send");
  int fid = exec_.next_function_id();
  if (exec_.recorded(fid, "keel.send")) return;
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  auto op = exec_.make_op(fid, "keel.send", now_ms());
  std::string dest(destination_id), t(topic);
  std::string text = message.dump();
  auto sent = exec_.with_db([&](sysdb::SystemDatabase& db) {
    return db.send_message(dest, t, text, exec_.id() + ":" + std::to_string(fid), exec_.id(), &op);
  });
  exec_.accept(sent.checkpoint);
  exec_.notifier().notify_message(dest, t, sent.message_id, text);
}

std::optional<Json> Context::do_recv(std::string_view topic, std::chrono::milliseconds timeout) {
  require_workflow_code(exec_, "ctx.recv");
  DurableDeadline deadline(exec_, exec_.next_function_id(), timeout);
  int fid = exec_.next_function_id();
  if (auto* r = exec_.recorded(fid, "keel.recv")) return detail::replay_optional(exec_, *r);
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  int64_t started = now_ms();
  std::string t(topic);
  detail::Notifier::Waiter w(exec_.notifier(), WakeKey::message(exec_.id(), t));
  // The consume is deferred (Execution::defer_record): the recv's record,
  // written with the next operation's or the workflow's end, marks the
  // message consumed; until then a crash leaves the message in the inbox,
  // for the replay to receive again. The message comes from a read, or from
  // the wake-up when the wait's only wake-up was its send in this process:
  // the read before the wait found the inbox empty, so it is the oldest —
  // unless the read found it consumed already (its notify came after a
  // poll woke the workflow and an earlier recv took it): such a message is
  // skipped here, or refused at its record (Checkpoint::message_consumed).
  for (bool woken = false;;) {
    std::optional<sysdb::WaitingMessage> m;
    if (woken) m = taken_from_wake_up(w);
    if (m && exec_.received(m->message_id)) m.reset();  // its notify came late: read the inbox
    if (!m) m = exec_.with_db([&](sysdb::SystemDatabase& db) { return db.peek_message(exec_.id(), t); });
    if (m) {
      auto op = exec_.make_op(fid, "keel.recv", started);
      op.output = "[" + m->message + "]";
      op.consumes_message_id = m->message_id;
      exec_.note_received(m->message_id);
      exec_.defer_record(std::move(op), /*replayable=*/true);
      return parse_stored_json(m->message, "message for workflow '" + exec_.id() + "'");
    }
    if (deadline.passed() || timeout.count() <= 0)
      return record_optional(exec_, fid, "keel.recv", std::nullopt, started);
    woken = exec_.wait(w, deadline.get(), started);
    exec_.check_stop();  // the deadline's record may go in with the message's
  }
}

void Context::do_write_stream(std::string_view key, Json value) {
  require_workflow_code(exec_, "ctx.write_stream");
  detail::check_stream_key(key);
  std::string k(key);
  if (exec_.stream_closed(k))
    throw UsageError("stream '" + k + "' of workflow '" + exec_.id() + "' is closed: write_stream after close_stream");
  int fid = exec_.next_function_id();
  if (exec_.recorded(fid, "keel.write_stream")) return;
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  auto op = exec_.make_op(fid, "keel.write_stream", now_ms());
  op.output = Json(k).dump();
  std::string stored = value.dump();
  auto cp = exec_.with_db([&](sysdb::SystemDatabase& db) { return db.write_stream(exec_.id(), k, stored, op); });
  exec_.accept(cp);
  exec_.fault("stream.written", k);
  exec_.notifier().notify(WakeKey::stream(exec_.id(), k));
}

void Context::close_stream(std::string_view key) {
  require_workflow_code(exec_, "ctx.close_stream");
  detail::check_stream_key(key);
  std::string k(key);
  if (exec_.stream_closed(k)) return;  // closed before in this run (or its replay): no position taken
  exec_.note_stream_closed(k);
  int fid = exec_.next_function_id();
  if (exec_.recorded(fid, "keel.close_stream")) return;
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  auto op = exec_.make_op(fid, "keel.close_stream", now_ms());
  op.output = Json(k).dump();
  auto cp = exec_.with_db([&](sysdb::SystemDatabase& db) { return db.write_stream(exec_.id(), k, std::nullopt, op); });
  exec_.accept(cp);
  exec_.notifier().notify(WakeKey::stream(exec_.id(), k));
}

StreamBatch<Json> Context::do_read_stream(std::string_view workflow_id, std::string_view key, int64_t offset,
                                          std::chrono::milliseconds timeout, int max_values) {
  require_workflow_code(exec_, "ctx.read_stream");
  detail::check_stream_read(key, offset, max_values);
  DurableDeadline deadline(exec_, exec_.next_function_id(), timeout);
  int fid = exec_.next_function_id();
  if (auto* r = exec_.recorded(fid, "keel.read_stream"))
    return detail::stream_batch_from_json(detail::replay_output(exec_, *r));
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  int64_t started = now_ms();
  std::string target(workflow_id), k(key);
  detail::Notifier::Waiter w(exec_.notifier(), WakeKey::stream(target, k));
  for (;;) {
    auto read = exec_.with_db([&](sysdb::SystemDatabase& db) { return db.read_stream(target, k, offset, max_values); });
    if (!read.values.empty() || read.ended || deadline.passed() || timeout.count() <= 0) {
      exec_.flush_deferred();  // the deadline first
      auto op = exec_.make_op(fid, "keel.read_stream", started);
      op.output = detail::stream_batch_json(detail::to_stream_batch(read, offset, target, k)).dump();
      return detail::stream_batch_from_json(detail::replay_output(exec_, exec_.record(op)));
    }
    exec_.wait(w, deadline.get(), started);
    exec_.check_interrupt();
  }
}

void Context::sleep(std::chrono::milliseconds duration) {
  require_workflow_code(exec_, "ctx.sleep");
  int fid = exec_.next_function_id();
  int64_t wake = 0;
  if (auto* r = exec_.recorded(fid, "keel.sleep")) {
    wake = detail::replay_output(exec_, *r).get<int64_t>();
  } else {
    exec_.begin_unrecorded();
    exec_.check_interrupt();
    auto op = exec_.make_op(fid, "keel.sleep", now_ms());
    op.output = std::to_string(now_ms() + duration.count());
    wake = detail::replay_output(exec_, exec_.record(op)).get<int64_t>();
  }
  interruptible_sleep_until(exec_, wake, true);
}

std::chrono::system_clock::time_point Context::now() {
  require_workflow_code(exec_, "ctx.now");
  int fid = exec_.next_function_id();
  if (auto* r = exec_.recorded(fid, "keel.now"))
    return detail::from_epoch_ms(detail::replay_output(exec_, *r).get<int64_t>());
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  auto op = exec_.make_op(fid, "keel.now", now_ms());
  op.output = std::to_string(op.started_at_ms);
  return detail::from_epoch_ms(detail::replay_output(exec_, exec_.record(op)).get<int64_t>());
}

namespace {
std::string patch_marker(std::string_view name) { return "keel.patch:" + std::string(name); }
}  // namespace

bool Context::patched(std::string_view name) {
  require_workflow_code(exec_, "ctx.patched");
  if (name.empty()) throw UsageError("a patch name must not be empty");
  const std::string marker = patch_marker(name);
  if (auto* r = exec_.recorded_next()) {
    if (r->name != marker) return false;  // recorded before the patch: the old code, no position taken
    (void)exec_.next_function_id();
    return true;
  }
  // Nothing recorded here: the run reaches this point on patched code.
  exec_.begin_unrecorded();
  int fid = exec_.next_function_id();
  exec_.check_interrupt();
  // Replayable: the same code answers true again after a crash.
  exec_.defer_record(exec_.make_op(fid, marker, now_ms()), /*replayable=*/true);
  return true;
}

bool Context::deprecate_patch(std::string_view name) {
  require_workflow_code(exec_, "ctx.deprecate_patch");
  if (name.empty()) throw UsageError("a patch name must not be empty");
  auto* r = exec_.recorded_next();
  if (r && r->name == patch_marker(name)) (void)exec_.next_function_id();  // recorded by the patched code
  return true;
}

void Context::do_continue_as_new(const std::string& name, Json inputs) {
  require_workflow_code(exec_, "ctx.continue_as_new");
  if (name != exec_.info().name)
    throw UsageError("ctx.continue_as_new in workflow '" + exec_.id() + "' names workflow '" + name +
                     "', not its own '" + exec_.info().name + "'");
  int fid = exec_.next_function_id();  // the deferred records go in first (a recv's consume with them)
  // A marker recorded here is this very hand-over, committed: its history
  // would begin with it, so a run never replays up to one. Anything else
  // recorded here is a NonDeterminismError.
  if (auto* r = exec_.recorded(fid, detail::kContinueAsNew)) exec_.end_run_continuing(detail::replay_output(exec_, *r));
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  auto op = exec_.make_op(fid, detail::kContinueAsNew, now_ms());
  op.output = inputs.dump();
  exec_.fault("continue_as_new.before");
  auto cp = exec_.with_db([&](sysdb::SystemDatabase& db) { return db.continue_as_new(exec_.id(), op, *op.output); });
  exec_.accept(cp);
  // Found at this position: this hand-over's own record (a retry after a
  // lost answer), or another execution's (it runs again by replay).
  if (cp.existing && (cp.existing->name != detail::kContinueAsNew || cp.existing->output != op.output))
    throw exec_.recorded_elsewhere(fid);
  exec_.metrics().workflows_continued.with({exec_.info().name}).inc();
  exec_.fault("continue_as_new.after");
  exec_.end_run_continuing(std::move(inputs));
}

std::string Context::do_start_child(const std::string& name, const ChildOptions& options, Json inputs) {
  require_workflow_code(exec_, "ctx.start_child");
  if (options.timeout && options.timeout->count() <= 0) throw UsageError("a child workflow's timeout must be positive");
  int fid = exec_.next_function_id();
  if (auto* r = exec_.recorded(fid, detail::start_child_operation_name(name))) return r->child_workflow_id;
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  return exec_.start_child(fid, name, options, std::move(inputs));
}

std::string Context::do_enqueue(const std::string& name, const std::string& queue, const EnqueueOptions& options,
                                Json inputs) {
  require_workflow_code(exec_, "ctx.enqueue");
  int fid = exec_.next_function_id();
  if (auto* r = exec_.recorded(fid, detail::enqueue_operation_name(name))) {
    if (r->error) throw_recorded_error(r->error->type_name, r->error->message);
    return r->child_workflow_id;
  }
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  detail::EnqueueParent parent{exec_, fid};
  return detail::RuntimeAccess::queues(exec_.runtime()).enqueue(name, queue, options, std::move(inputs), &parent);
}

}  // namespace keel

// --- wait_all / wait_first: waits on many workflows' ends -------------------

namespace keel {

namespace {

constexpr std::string_view kWaitFirst = "keel.wait_first";
constexpr int64_t kNoDeadline = int64_t{1} << 60;  // an untimed wait: woken by an end, cancel or the sweep
constexpr size_t kStatusBatch = 500;               // workflows per status query

void require_waitable(const Execution& ex, const std::vector<std::string>& ids, std::string_view call) {
  for (const auto& id : ids)
    if (id == ex.id()) throw UsageError(std::string(call) + ": workflow '" + id + "' cannot wait for its own end");
}

// The IDs among ids whose workflows are not terminal, in their order.
std::vector<std::string> unfinished(Execution& ex, const std::vector<std::string>& ids) {
  std::vector<std::string> left;
  for (size_t at = 0; at < ids.size(); at += kStatusBatch) {
    std::vector<std::string> batch(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                   ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), at + kStatusBatch)));
    auto rows = ex.with_db([&](sysdb::SystemDatabase& db) { return db.workflow_statuses(batch); });
    std::unordered_map<std::string, WorkflowStatus> status(rows.begin(), rows.end());
    for (const auto& id : batch) {
      auto it = status.find(id);
      if (it == status.end()) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
      if (!is_terminal(it->second)) left.push_back(id);
    }
  }
  return left;
}

}  // namespace

// Watches the last unfinished workflow only: all must end anyway, and
// children of a queue end roughly in their order, so this wakes (and, when
// parked, replays) about once instead of once per child. Every wake-up of
// the watch re-reads the watched one; its end re-reads the rest.
void Context::do_wait_all(const std::vector<std::string>& ids) {
  require_workflow_code(exec_, "ctx.wait_all");
  require_waitable(exec_, ids, "ctx.wait_all");
  int64_t since = now_ms();
  std::vector<std::string> left = ids;
  while (!left.empty()) {
    std::string watched = left.back();
    // Registered before the read: an end between the read and the sleep wakes it.
    detail::Notifier::Waiter w(exec_.notifier(), WakeKey::done(watched));
    left = unfinished(exec_, left);
    if (left.empty() || left.back() != watched) continue;
    do {
      exec_.wait(w, kNoDeadline, since);
      exec_.check_interrupt();
    } while (!unfinished(exec_, {watched}).empty());
    left.pop_back();
  }
}

std::optional<std::size_t> Context::do_wait_first(const std::vector<std::string>& ids,
                                                  std::optional<std::chrono::milliseconds> timeout) {
  require_workflow_code(exec_, "ctx.wait_first");
  if (ids.empty()) throw UsageError("ctx.wait_first needs at least one workflow to wait for");
  require_waitable(exec_, ids, "ctx.wait_first");
  std::optional<DurableDeadline> deadline;
  if (timeout) deadline.emplace(exec_, exec_.next_function_id(), *timeout);
  int fid = exec_.next_function_id();
  if (auto* r = exec_.recorded(fid, kWaitFirst)) {
    auto v = detail::replay_optional(exec_, *r);
    if (!v) return std::nullopt;
    return v->get<std::size_t>();
  }
  exec_.begin_unrecorded();
  exec_.check_interrupt();
  int64_t started = now_ms();
  std::vector<WakeKey> keys;
  keys.reserve(ids.size());
  for (const auto& id : ids) keys.push_back(WakeKey::done(id));
  detail::Notifier::AnyWaiter w(exec_.notifier(), keys);
  for (;;) {
    auto left = unfinished(exec_, ids);
    std::unordered_set<std::string> running(left.begin(), left.end());
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (!running.count(ids[i]))
        return record_optional(exec_, fid, kWaitFirst, std::to_string(i), started)->get<std::size_t>();
    if (timeout && (timeout->count() <= 0 || deadline->passed())) {
      (void)record_optional(exec_, fid, kWaitFirst, std::nullopt, started);
      return std::nullopt;
    }
    exec_.wait(w, timeout ? deadline->get() : kNoDeadline, started);
    exec_.check_interrupt();
  }
}

}  // namespace keel
