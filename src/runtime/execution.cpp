#include "runtime/execution.hpp"

#include <algorithm>

#include "common/clock.hpp"
#include "runtime/operations.hpp"

namespace keel::detail {

namespace {
thread_local Execution* t_current = nullptr;

bool same_outcome(const sysdb::OperationRecord& a, const sysdb::OperationRecord& b) {
  if (a.output != b.output || a.error.has_value() != b.error.has_value()) return false;
  return !a.error || (a.error->type_name == b.error->type_name && a.error->message == b.error->message);
}
}  // namespace

Execution* current_execution() { return t_current; }
void set_current_execution(Execution* e) { t_current = e; }

const sysdb::OperationRecord* Execution::recorded(int function_id, std::string_view name, OperationKind kind) const {
  auto it = recorded_.find(function_id);
  if (it == recorded_.end()) return nullptr;
  const sysdb::OperationRecord& r = it->second;
  const bool same_kind = r.kind == OperationKind::Unknown || r.kind == kind;
  if (r.name != name || !same_kind) {
    // The kinds are named only when they are what differs: "charge (step)".
    auto describe = [&](const std::string& n, OperationKind k) {
      return same_kind ? n : n + " (" + to_string(k) + ")";
    };
    mismatch_ = Mismatch{function_id, describe(r.name, r.kind), describe(std::string(name), kind)};
    throw NonDeterminismError("workflow '" + id() + "' at operation " + std::to_string(function_id) +
                              ": the recorded operation is '" + mismatch_->recorded + "' but the code now calls '" +
                              mismatch_->called + "' (the code of workflow '" + info_.name + "', registered at " +
                              host_.registered_at(info_.name) + ")");
  }
  return &r;
}

const sysdb::OperationRecord* Execution::recorded_after_end() const {
  auto it = recorded_.upper_bound(function_id_);
  return it == recorded_.end() ? nullptr : &it->second;
}

const sysdb::OperationRecord* Execution::recorded_next() const {
  auto it = recorded_.find(function_id_ + 1);
  return it == recorded_.end() ? nullptr : &it->second;
}

void Execution::set_recorded(std::map<int, sysdb::OperationRecord> recorded) {
  recorded_ = std::move(recorded);
  auto first = recorded_.begin();
  function_id_ = first != recorded_.end() && first->second.name == kContinueAsNew ? first->first : 0;
  run_start_ = function_id_;
}

void Execution::end_run_continuing(Json inputs) {
  continued_with_ = std::move(inputs);
  throw ContinuedAsNew{};
}

void Execution::check_interrupt() {
  if (verifying_) return;  // nothing runs: no deadline to enforce, nothing to write
  if (parked_) throw ExecutionParked{};  // workflow code swallowed it: keep unwinding
  if (continued_with_) throw ContinuedAsNew{};
  // Waits that are no operation (a child's result) check here first, and
  // may park or be interrupted: the last step's checkpoint goes in before.
  flush_deferred();
  if (host_.stopping()) throw ExecutionInterrupted{"runtime shutting down"};
  if (cancelled_.load()) throw WorkflowCancelledError("workflow '" + id() + "' was cancelled");
  if (cancel_if_past_deadline()) throw WorkflowCancelledError("workflow '" + id() + "' passed its timeout and was cancelled");
}

bool Execution::cancel_if_past_deadline() {
  if (!past_deadline()) return false;
  if (host_.db().transition(id(), {WorkflowStatus::Pending}, WorkflowStatus::Cancelled, now_ms(), false,
                            std::nullopt))
    host_.metrics().workflows_finished.with({info_.name, to_string(WorkflowStatus::Cancelled)}).inc();
  cancelled_.store(true);
  return true;
}

void Execution::check_stop() {
  if (verifying_) return;
  if (parked_) throw ExecutionParked{};
  if (continued_with_) throw ContinuedAsNew{};
  if (host_.stopping() || cancelled_.load() || past_deadline()) check_interrupt();
}

bool Execution::past_deadline() const { return info_.deadline_epoch_ms && now_ms() >= *info_.deadline_epoch_ms; }

std::chrono::steady_clock::time_point Execution::bound(int64_t until_epoch_ms) const {
  int64_t until = until_epoch_ms;
  if (info_.deadline_epoch_ms) until = std::min(until, *info_.deadline_epoch_ms);
  int64_t poll = host_.config().poll_interval.count();
  int64_t delta = std::clamp<int64_t>(until - now_ms(), 0, poll);
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(delta);
}

bool Execution::wait(WaitSource& waiter, int64_t until_epoch_ms, std::optional<int64_t> parkable_since) {
  begin_unrecorded();  // a recorded wait still waiting: its history ends here
  fault("wait.begin");
  int64_t wake = until_epoch_ms;
  if (info_.deadline_epoch_ms) wake = std::min(wake, *info_.deadline_epoch_ms);
  if (parkable_since) park_if_due(waiter, wake, *parkable_since);
  // A deferred deadline is written once the wait has lasted park_after (or
  // at parking): a crash loses at most that much of the wait.
  if (has_deferred() && (!parkable_since || now_ms() - *parkable_since >= host_.config().park_after.count()))
    write_deferred();
  bool notified = waiter.wait_until(bound(until_epoch_ms));
  // A cancel from another process (CLI, admin of another executor) reaches
  // no in-process flag: re-read the status at most once per poll interval.
  auto now = std::chrono::steady_clock::now();
  if (now - last_status_check_ >= host_.config().poll_interval) {
    last_status_check_ = now;
    try {
      auto info = host_.db().get_workflow(id());
      // Cancelled, or taken over by another executor (this one lost its lease): stop.
      if (info && (info->status != WorkflowStatus::Pending || info->executor_id != host_.config().executor_id))
        cancelled_.store(true);
    } catch (const DatabaseError&) {
      // The server is away: the wait goes on, its next read retries, and a
      // cancel is still found at the next check or checkpoint. Letting the
      // error out would record the workflow as failed (ERROR).
    }
  }
  return notified;
}

// Park when the wait still has time left and either this is a replay (it
// waited before, or is part of a recovery burst), workflows are queued for a
// thread, or it has waited park_after in its thread already.
bool Execution::should_park(int64_t since_ms, int64_t wake_ms) const {
  const auto& c = host_.config();
  if (!c.park_waiting_workflows || in_step_) return false;
  int64_t now = now_ms();
  if (wake_ms <= now) return false;
  return replaying_ || now - since_ms >= c.park_after.count() || host_.threads_scarce();
}

void Execution::park_if_due(WaitSource& waiter, int64_t wake_ms, int64_t since_ms) {
  if (!should_park(since_ms, wake_ms)) return;
  if (stays_suspended(since_ms)) return;
  park(waiter, wake_ms);
}

// A wait that would park stays in its thread, suspended outside the pool's
// limit, when a replay would be long (RuntimeConfig::max_suspended_workflows):
// its wake-up then costs no replay. What it wrote is what parking writes
// (the deferred records), so a crash meets the same database either way.
bool Execution::stays_suspended(int64_t since_ms) {
  const auto& c = host_.config();
  if (now_ms() - since_ms >= c.suspended_wait_limit.count()) return false;  // waited long: give the thread back
  if (suspended_) {  // until its task ends (WorkerPool::suspend_current)
    flush_deferred();
    return true;
  }
  if (function_id_ - run_start_ < c.suspend_after_operations) return false;
  if (!host_.suspend_current_thread()) return false;
  flush_deferred();
  suspended_ = true;
  fault("wait.suspended");
  return true;
}

// Registered before unwinding, so that a notify from now on is not lost; a
// notify that came before (since the waiter's last database read) cancels
// the parking: the caller reads the database again instead.
void Execution::park(WaitSource& waiter, int64_t wake_ms) {
  flush_deferred();  // a replay resumes from the records
  if (!host_.parking().begin(info_, waiter.keys(), wake_ms)) return;
  if (waiter.notified()) {
    host_.parking().abort(id());
    return;
  }
  parked_ = true;
  throw ExecutionParked{};
}

sysdb::OperationRecord Execution::make_op(int function_id, std::string_view name, int64_t started_ms) const {
  sysdb::OperationRecord op;
  op.function_id = function_id;
  op.name = std::string(name);
  op.started_at_ms = started_ms;
  op.completed_at_ms = now_ms();
  return op;
}

void Execution::write_deferred() {
  std::vector<sysdb::OperationRecord> ops = take_deferred();
  auto cp = with_db([&](sysdb::SystemDatabase& db) { return db.record_operations(id(), ops); });
  accept(cp);
  if (cp.message_consumed)
    throw ExecutionInterrupted{"a message received by workflow '" + id() +
                                   "' was consumed already (by an earlier receive); running again by replay",
                               /*database_unavailable=*/true};
  if (cp.taken.empty()) return;
  // Found recorded: by this very write when a retry followed a lost answer
  // (every position, with the same outcomes), else by another execution.
  bool all_mine = cp.taken.size() == ops.size();
  for (size_t i = 0; all_mine && i < ops.size(); ++i)
    all_mine = cp.taken[i].function_id == ops[i].function_id && same_outcome(cp.taken[i], ops[i]);
  if (!all_mine) throw recorded_elsewhere(cp.taken.front().function_id);
  for (const auto& op : cp.taken) adopt(op);
}

void Execution::complete_info(const WorkflowInfo& row) {
  info_.status = row.status;
  info_.inputs = row.inputs;
  info_.executor_id = row.executor_id;
  info_.application_version = row.application_version;
  info_.parent_id = row.parent_id;
  info_.queue_name = row.queue_name;
  info_.recovery_attempts = row.recovery_attempts;
  info_.deadline_epoch_ms = row.deadline_epoch_ms;
  info_.updated_at_ms = row.updated_at_ms;
}

ExecutionInterrupted Execution::recorded_elsewhere(int function_id) const {
  return ExecutionInterrupted{"operation " + std::to_string(function_id) + " of workflow '" + id() +
                                  "' was recorded by another execution; running again by replay",
                              /*database_unavailable=*/true};
}

sysdb::OperationRecord Execution::record(const sysdb::OperationRecord& op) {
  auto cp = with_db([&](sysdb::SystemDatabase& db) { return db.record_operation(id(), op); });
  accept(cp);
  return cp.existing ? *cp.existing : op;
}

ExecutionInterrupted Execution::unavailable(const DatabaseError& e) const {
  return ExecutionInterrupted{std::string("system database unavailable: ") + e.what(), !host_.stopping(),
                              dynamic_cast<const StorageFullError*>(&e) != nullptr};
}

void Execution::accept(const sysdb::Checkpoint& cp) {
  if (!cp.workflow_active) {
    cancelled_.store(true);
    throw WorkflowCancelledError("workflow '" + id() +
                                 "' is no longer pending here (cancelled, or taken over by another executor)");
  }
  if (cp.existing) adopt(*cp.existing);
}

}  // namespace keel::detail
