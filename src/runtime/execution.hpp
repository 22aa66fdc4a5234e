// One run of one workflow in this process: its position counter, its
// recorded operations (loaded once when it is recovered), its deferred
// records and its interrupt state — and everything the Context's operations
// (context.cpp) need of the engine, through ExecutionHost: the system
// database with the runtime's retry policy, the notifier, child starts.
// Used by Context on the workflow's own thread; cancel() may be called from
// any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/retry_policy.hpp"
#include "runtime/execution_host.hpp"
#include "runtime/queued_run.hpp"
#include "runtime/unwinding.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

class Execution {
 public:
  Execution(ExecutionHost& host, WorkflowInfo info, std::map<int, sysdb::OperationRecord> recorded)
      : host_(host), info_(std::move(info)) {
    set_recorded(std::move(recorded));
  }

  const WorkflowInfo& info() const { return info_; }
  const std::string& id() const { return info_.id; }

  // --- the engine, as the operations see it ---
  // Calls call(db) on the system database, retrying a DatabaseError under
  // kDatabaseRetry; when the database stays unavailable, stops this
  // execution (ExecutionInterrupted: it stays PENDING and runs again by
  // replay later). Nothing is recorded as the operation's outcome.
  template <class F>
  auto with_db(F&& call) -> decltype(call(std::declval<sysdb::SystemDatabase&>())) {
    using R = decltype(call(std::declval<sysdb::SystemDatabase&>()));
    return with_retries(
        kDatabaseRetry, [this] { return host_.stopping(); }, [&]() -> R { return call(host_.db()); },
        [this](const DatabaseError& e) -> R {
          host_.metrics().database_retries_exhausted.inc();
          throw unavailable(e);
        },
        [this](const DatabaseError&) { host_.metrics().database_errors.inc(); });
  }
  // Records op unless its position is taken (then the outcome found there
  // is adopted); returns the outcome recorded. Throws WorkflowCancelledError
  // when the workflow no longer runs here.
  sysdb::OperationRecord record(const sysdb::OperationRecord& op);
  Notifier& notifier() { return host_.notifier(); }
  // The config's fault hook (crash tests) at a named point.
  void fault(std::string_view point) const {
    if (host_.config().fault_hook) host_.config().fault_hook(point);
  }
  // "<point>:<name>" (e.g. "step.body:charge"): the string is built only
  // when a hook is set, so the hot path pays one test.
  void fault(std::string_view point, std::string_view name) const {
    if (host_.config().fault_hook) host_.config().fault_hook(std::string(point) + ":" + std::string(name));
  }
  // Starts a child at this execution's position function_id (ExecutionHost).
  std::string start_child(int function_id, const std::string& name, const ChildOptions& options, Json inputs) {
    return host_.start_child(*this, function_id, name, options, std::move(inputs));
  }
  Runtime& runtime() { return host_.runtime(); }
  metrics::RuntimeMetrics& metrics() { return host_.metrics(); }

  // Every operation takes its position here, after the deferred records
  // (if any) are written.
  int next_function_id() {
    flush_deferred();
    return ++function_id_;
  }
  // A step's position: the deferred records go on waiting through its body
  // when they are all replayable (defer_record), since a crash in the body
  // replays them the same way; a step's own record never waits through
  // another step's body (that step's effects would then repeat).
  int next_step_function_id() {
    if (!deferred_replayable_) flush_deferred();
    return ++function_id_;
  }
  int current_function_id() const { return function_id_; }
  bool in_step() const { return in_step_; }
  void set_in_step(bool v) { in_step_ = v; }

  // The outcome recorded at this position, after checking its name and
  // kind (a record without a kind, written before kinds were, matches any).
  // Throws NonDeterminismError when another operation was recorded there.
  const sysdb::OperationRecord* recorded(int function_id, std::string_view name,
                                         OperationKind kind = OperationKind::Keel) const;
  // The outcome recorded at the next position, whatever its name (patches
  // look before they take a position); null when none is.
  const sysdb::OperationRecord* recorded_next() const;

  // --- verifying (the upgrade check): replay only ---
  // A verifying execution replays its recorded operations against the
  // current code and stops where its history ends: no body runs, nothing is
  // written, nothing waits.
  void set_verifying() { verifying_ = true; }
  bool verifying() const { return verifying_; }
  // Called by an operation whose position holds no record, before it does
  // anything: real work starts here, so a verifying execution stops
  // (throws HistoryEnd).
  void begin_unrecorded() const {
    if (verifying_) throw HistoryEnd{};
  }
  // What the last NonDeterminismError of recorded() found: the position, the
  // operation recorded there and the one the code called.
  struct Mismatch {
    int position = 0;
    std::string recorded;
    std::string called;
  };
  const std::optional<Mismatch>& mismatch() const { return mismatch_; }
  // The highest position this run took so far.
  int positions_taken() const { return function_id_; }
  // The recorded positions after the last one taken (a run that ended while
  // its history goes on: the code no longer calls them).
  const sysdb::OperationRecord* recorded_after_end() const;
  // The recorded operations of a replaying execution, set before it runs.
  // A history that begins with a continue_as_new marker is a later run of
  // the workflow: its positions go on after the marker's.
  void set_recorded(std::map<int, sysdb::OperationRecord> recorded);
  // A replay (recovered, or resumed from parking) parks at its first wait
  // that blocks, without waiting park_after in its thread first.
  void set_replaying(bool v) { replaying_ = v; }
  // A woken execution's info held only id, name and created_at_ms (the
  // parking lot keeps no more): the rest comes from its row, before it runs.
  // Leaves those three as they are: other threads read them (Engine::spawn).
  void complete_info(const WorkflowInfo& row);
  // Whether this execution parked (threw ExecutionParked); it does nothing more.
  bool parked() const { return parked_; }
  // ctx.continue_as_new committed: throws ContinuedAsNew; the next run
  // takes `inputs`. The execution does nothing more.
  [[noreturn]] void end_run_continuing(Json inputs);
  // The inputs of the next run, once end_run_continuing was called.
  const std::optional<Json>& continued_with() const { return continued_with_; }
  // Parked or continued: the run left without an outcome of its own, even
  // if workflow code swallowed what unwound it and returned.
  bool unwound() const { return parked_ || continued_with_.has_value(); }
  // Parks (throws ExecutionParked) when should_park says so: for waits that
  // do not go through wait(), e.g. a child's result (waits.cpp).
  void park_if_due(WaitSource& waiter, int64_t wake_ms, int64_t since_ms);
  // Adopt an outcome found at write time (another execution recorded it).
  void adopt(const sysdb::OperationRecord& op) { recorded_[op.function_id] = op; }
  // Records not written yet, in position order: the last step's, a timed
  // wait's deadline, a recv's (whose consume goes in with it,
  // consumes_message_id). The next operation writes them in one commit
  // before it takes its position (next_function_id), a wait before it may
  // park (check_interrupt, park), and the workflow's end in its own commit
  // (finish_workflow's last_ops), which saves commits. Nothing reaches the
  // world in between: workflow code is deterministic and acts only through
  // operations. A crash in between runs the step again, starts the deadline
  // anew, or receives the message again (it stays in the inbox until its
  // record is written), as a crash before its checkpoint always did.
  // replayable: the record's operation gives the same outcome when run again
  // after a crash (a deadline, a recv), so it may wait through a step's body.
  void defer_record(sysdb::OperationRecord op, bool replayable) {
    deferred_replayable_ = deferred_replayable_ && replayable;
    deferred_.push_back(std::move(op));
  }
  std::vector<sysdb::OperationRecord> take_deferred() {
    deferred_replayable_ = true;
    return std::exchange(deferred_, {});
  }
  bool has_deferred() const { return !deferred_.empty(); }
  // The last messages this execution's recvs took. A wake-up's message may
  // be one of them: the sender's notify can come after a poll woke the
  // workflow and a recv read that message (Context::recv skips it). Older
  // ones are forgotten; the recv's record then finds the message consumed
  // (Checkpoint::message_consumed) and the workflow runs again by replay.
  void note_received(int64_t message_id) {
    constexpr size_t kRemembered = 16;
    if (received_.size() == kRemembered) received_.erase(received_.begin());
    received_.push_back(message_id);
  }
  bool received(int64_t message_id) const {
    return std::find(received_.begin(), received_.end(), message_id) != received_.end();
  }
  // The streams this run closed (ctx.close_stream, replayed or not): a
  // write to one of them is refused, the same way on every replay.
  void note_stream_closed(const std::string& key) { closed_streams_.insert(key); }
  bool stream_closed(const std::string& key) const { return closed_streams_.count(key) != 0; }
  // Writes the deferred records, if any, in one commit.
  void flush_deferred() {
    if (!deferred_.empty()) write_deferred();
  }

  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  // The queued run that executes this execution, until a thread takes it
  // (queued_run.hpp). Set once, before the execution is shared.
  void set_queued_run(std::weak_ptr<QueuedRun> run) { queued_run_ = std::move(run); }
  std::shared_ptr<QueuedRun> queued_run() const { return queued_run_.lock(); }
  // Past the workflow's deadline: records CANCELLED (if still PENDING), marks
  // this execution cancelled and returns true.
  bool cancel_if_past_deadline();
  // Writes the deferred record, if any, then throws WorkflowCancelledError
  // (cancelled, or past its deadline) or ExecutionInterrupted (shutdown).
  // Called before every operation and every wait.
  void check_interrupt();
  // check_interrupt that writes the deferred records only when it is about
  // to throw: for a wait whose deadline's record may go in with its own
  // (recv's), and a step whose body the records wait through.
  void check_stop();
  bool past_deadline() const;  // the workflow's timeout
  // The earliest of `until` and the workflow deadline, as a steady time.
  std::chrono::steady_clock::time_point bound(int64_t until_epoch_ms) const;
  // Sleeps (interruptibly) until epoch ms, waking early on a notify of key.
  // A parkable wait (recv, get_event, sleep, a child's result: waits whose
  // operation is replayable from the top; parkable_since = when the wait
  // began) may park instead: it registers with the parking lot and throws
  // ExecutionParked (see should_park for when). True when woken by a notify
  // (or wake_all), false by the time.
  bool wait(WaitSource& waiter, int64_t until_epoch_ms, std::optional<int64_t> parkable_since = std::nullopt);

  sysdb::OperationRecord make_op(int function_id, std::string_view name, int64_t started_ms) const;

  // Handles a checkpoint result: throws if the workflow was cancelled meanwhile.
  void accept(const sysdb::Checkpoint& cp);

  // The interruption for a position found recorded with another outcome: it
  // was recorded by another execution, so this one ends and runs again by
  // replay (shared by every writer that can meet such a record).
  ExecutionInterrupted recorded_elsewhere(int function_id) const;

 private:
  ExecutionInterrupted unavailable(const DatabaseError& e) const;

  ExecutionHost& host_;
  WorkflowInfo info_;
  std::map<int, sysdb::OperationRecord> recorded_;
  int function_id_ = 0;
  int run_start_ = 0;  // the position this run's history starts after (a continue_as_new marker's)
  bool should_park(int64_t since_ms, int64_t wake_ms) const;
  bool stays_suspended(int64_t since_ms);
  void park(WaitSource& waiter, int64_t wake_ms);

  // Writes deferred_. A position found recorded with another outcome (only
  // possible if two executions ran it) ends this run with
  // ExecutionInterrupted: it runs again by replay, with the recorded outcome.
  void write_deferred();

  std::vector<sysdb::OperationRecord> deferred_;
  std::vector<int64_t> received_;  // message ids, oldest first (note_received)
  std::set<std::string> closed_streams_;  // note_stream_closed
  bool deferred_replayable_ = true;  // every deferred record is replayable (or none is deferred)
  bool in_step_ = false;
  bool replaying_ = false;
  bool verifying_ = false;
  mutable std::optional<Mismatch> mismatch_;
  bool parked_ = false;
  bool suspended_ = false;  // counted as suspended by the pool until this execution's task ends
  std::optional<Json> continued_with_;
  std::atomic<bool> cancelled_{false};
  std::weak_ptr<QueuedRun> queued_run_;
  std::chrono::steady_clock::time_point last_status_check_ = std::chrono::steady_clock::now();
};

// The execution whose workflow runs on this thread, if any.
Execution* current_execution();
void set_current_execution(Execution* e);

}  // namespace keel::detail
