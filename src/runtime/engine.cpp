// Workflow lifecycle: registry, start, execution threads, finish, shutdown.
#include "runtime/engine.hpp"

#include <spdlog/spdlog.h>

#include <thread>

#include "common/clock.hpp"
#include "common/log_context.hpp"
#include "common/retry_policy.hpp"
#include "common/wake_key.hpp"
#include "runtime/bulk.hpp"
#include "runtime/execution.hpp"
#include "runtime/executor_lease.hpp"
#include "runtime/retention.hpp"
#include "runtime/operations.hpp"
#include "runtime/uuid.hpp"

namespace keel::detail {

Engine::Engine(RuntimeConfig config, Runtime& rt) : config_(std::move(config)), runtime_(rt) {
  validate(config_);
  db_ = sysdb::open_system_database(config_);
  pool_ = std::make_unique<WorkerPool>(static_cast<size_t>(config_.max_workflow_threads),
                                       static_cast<size_t>(config_.max_suspended_workflows));
  // Parked waits are swept (statuses, inboxes) every 25 poll intervals.
  parking_ = std::make_unique<ParkingLot>(
      *db_, notifier_, [this](const WorkflowInfo& woken) { spawn(woken, /*replay=*/true, /*woken=*/true); },
      config_.poll_interval,
      config_.poll_interval * 25);
  notifier_.set_listener([this](const std::string& key) { parking_->on_notify(key); });
  // spdlog creates its registry on first use; do it here, before any
  // workflow thread exists, so that threads never race to construct it.
  (void)spdlog::default_logger_raw();
}

Engine::~Engine() { shutdown(); }

void Engine::require_running() const {
  if (!launched_.load()) throw RuntimeStateError("the runtime is not launched: call launch() first");
  if (stopping_.load()) throw RuntimeStateError("the runtime is shutting down");
  if (superseded_.load())
    throw RuntimeStateError("executor '" + config_.executor_id + "' is now held by another process (" +
                            superseded_by_ + "): this process runs no more workflows; stop it");
}

void Engine::register_workflow(const std::string& name, ErasedWorkflow fn, const std::string& where) {
  if (name.empty()) throw UsageError("a workflow name must not be empty");
  if (launched_.load()) throw UsageError("register_workflow('" + name + "') after launch()");
  std::lock_guard lock(mu_);
  if (!registry_.emplace(name, std::move(fn)).second)
    throw UsageError("workflow '" + name + "' is registered twice (first at " + registered_at_[name] + ")");
  registered_at_[name] = where;
}

std::string Engine::registered_at(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = registered_at_.find(name);
  return it == registered_at_.end() ? std::string() : it->second;
}

void Engine::require_registered(const std::string& name) { (void)lookup(name); }

std::vector<std::string> Engine::registered_names() {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, fn] : registry_) names.push_back(name);
  return names;
}

std::optional<ErasedWorkflow> Engine::find_registered(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = registry_.find(name);
  if (it == registry_.end()) return std::nullopt;
  return it->second;
}

EngineCounters Engine::counters() const {
  size_t running = 0;
  {
    std::lock_guard lock(mu_);
    running = running_.size();
  }
  return {pool_->threads(), parking_->size(), pool_->load().suspended, running};
}

std::string Engine::metrics_text(const std::vector<std::string>& queues) {
  metrics::TextWriter w;
  metrics_.write(w);
  db_->metrics().write(w);
  write_gauges(w);
  std::map<std::string, sysdb::QueueCounts> counts;
  try {
    counts = db_->queue_counts(queues);
  } catch (const DatabaseError& e) {
    metrics_.database_errors.inc();
    spdlog::warn("metrics: the queue counts are left out of this scrape: {}", e.what());
    return w.text();
  }
  w.header(metrics::defs::kQueueEnqueued);
  for (const auto& [queue, c] : counts)
    w.sample(metrics::defs::kQueueEnqueued.name, {{"queue", queue}}, static_cast<double>(c.enqueued));
  w.header(metrics::defs::kQueueRunning);
  for (const auto& [queue, c] : counts)
    w.sample(metrics::defs::kQueueRunning.name, {{"queue", queue}}, static_cast<double>(c.pending));
  return w.text();
}

void Engine::write_gauges(metrics::TextWriter& w) {
  size_t running = 0;
  {
    std::lock_guard lock(mu_);
    running = running_.size();
  }
  const WorkerPool::Load load = pool_->load();
  w.gauge(metrics::defs::kWorkflowsRunning, static_cast<double>(running));
  w.gauge(metrics::defs::kWorkflowsParked, static_cast<double>(parking_->size()));
  w.gauge(metrics::defs::kWorkflowsSuspended, static_cast<double>(load.suspended));
  w.gauge(metrics::defs::kStorageFull, storage_full_since_ms_.load() != 0 ? 1.0 : 0.0);
  w.gauge(metrics::defs::kWorkerThreads, static_cast<double>(load.threads));
  w.gauge(metrics::defs::kWorkerThreadsBusy, static_cast<double>(load.busy));
  w.gauge(metrics::defs::kWorkerThreadsMax, static_cast<double>(pool_->max_threads()));
  w.gauge(metrics::defs::kWorkerBacklog, static_cast<double>(load.backlog));
}

ErasedWorkflow Engine::lookup(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = registry_.find(name);
  if (it == registry_.end()) throw UnknownWorkflowError("workflow '" + name + "' is not registered in this process");
  return it->second;
}

std::string Engine::start(const std::string& name, const StartOptions& options, Json inputs) {
  require_running();
  (void)lookup(name);
  if (options.timeout && options.timeout->count() <= 0) throw UsageError("a workflow timeout must be positive");
  sysdb::NewWorkflow wf{options.workflow_id.empty() ? new_uuid() : options.workflow_id, name, inputs.dump(),
                        config_.executor_id, config_.application_version, "", std::nullopt, now_ms()};
  if (options.timeout) wf.deadline_epoch_ms = wf.now_ms + options.timeout->count();
  sysdb::InsertWorkflowResult result;
  try {
    result = db_->insert_workflow(wf, "", nullptr);
  } catch (const ConstraintError&) {
    throw;  // refused: nothing went in
  } catch (const DatabaseError&) {
    // Unknown outcome: the row may have been committed just before the
    // connection died (a failover). Nobody may ask for this ID again, so the
    // heartbeat reads it back and runs it if it is there.
    std::lock_guard lock(mu_);
    unsure_starts_.insert(wf.id);
    throw;
  }
  if (!result.created) {
    if (result.existing && result.existing->name != name)
      throw WorkflowConflictError("workflow ID '" + wf.id + "' already belongs to workflow '" +
                                  result.existing->name + "', not '" + name + "'");
    if (result.existing) ensure_running(*result.existing);
    return wf.id;
  }
  WorkflowInfo info;
  info.id = wf.id;
  info.name = name;
  info.inputs = std::move(inputs);
  info.executor_id = config_.executor_id;
  info.deadline_epoch_ms = wf.deadline_epoch_ms;
  info.created_at_ms = wf.now_ms;
  outcomes_.erase(wf.id);  // a new row: an outcome kept for an ID deleted since is not its own
  count_started(name);
  spawn(info, /*replay=*/false);
  return wf.id;
}

namespace {

// ChildOptions' deadline rule: its own timeout, else the parent's deadline
// unless told not to inherit it.
std::optional<int64_t> child_deadline(const Execution& parent, const ChildOptions& options, int64_t now) {
  if (options.timeout) return now + options.timeout->count();
  if (options.inherit_deadline) return parent.info().deadline_epoch_ms;
  return std::nullopt;
}

}  // namespace

std::string Engine::start_child(Execution& parent, int function_id, const std::string& name,
                                const ChildOptions& options, Json inputs) {
  (void)lookup(name);
  const int64_t now = now_ms();
  sysdb::NewWorkflow wf{options.workflow_id.empty() ? child_workflow_id(parent.id(), function_id) : options.workflow_id,
                        name, inputs.dump(), config_.executor_id, config_.application_version, parent.id(),
                        child_deadline(parent, options, now), now};
  auto op = parent.make_op(function_id, start_child_operation_name(name), wf.now_ms);
  op.child_workflow_id = wf.id;
  auto result = parent.with_db([&](sysdb::SystemDatabase& db) { return db.insert_workflow(wf, parent.id(), &op); });
  if (result.parent_op_existing) {
    // Started by an earlier attempt whose commit was reported as failed, or
    // by an execution that crashed: make sure the child runs.
    if (auto child = db_->get_workflow(wf.id)) ensure_running(*child);
    return wf.id;
  }
  if (result.created) {
    WorkflowInfo info;
    info.id = wf.id;
    info.name = name;
    info.inputs = std::move(inputs);
    info.executor_id = config_.executor_id;
    info.parent_id = parent.id();
    info.deadline_epoch_ms = wf.deadline_epoch_ms;
    info.created_at_ms = wf.now_ms;
    outcomes_.erase(wf.id);
    count_started(name);
    spawn(info, false);
  } else if (result.existing && result.existing->name != name) {
    throw WorkflowConflictError("child workflow ID '" + wf.id + "' already belongs to workflow '" +
                                result.existing->name + "'");
  } else if (result.existing) {
    ensure_running(*result.existing);
  }
  return wf.id;
}

void Engine::settle_unsure_starts() {
  std::set<std::string> taken;  // a start that fails meanwhile adds its ID anew: kept for the next pass
  {
    std::lock_guard lock(mu_);
    taken.swap(unsure_starts_);
  }
  std::vector<std::string> ids(taken.begin(), taken.end());
  std::set<std::string> unsettled;
  // In batches of one read each. The first read that fails ends the pass:
  // the database is most likely still away, and one failed read (and one
  // warning) per heartbeat is enough to learn it, however many starts wait.
  for (size_t from = 0; from < ids.size(); from += sysdb::kMaxBatchIds) {
    const auto first = ids.begin() + static_cast<std::ptrdiff_t>(from);
    const std::vector<std::string> batch(first, first + static_cast<std::ptrdiff_t>(
                                                            std::min(sysdb::kMaxBatchIds, ids.size() - from)));
    try {
      for (const auto& info : db_->get_workflows(batch)) ensure_running(info);
    } catch (const std::exception& e) {
      spdlog::warn("cannot yet read back {} workflow(s) whose start had an unknown outcome: {}", ids.size() - from,
                   e.what());
      unsettled.insert(first, ids.end());
      break;
    }
  }
  std::lock_guard lock(mu_);
  unsure_starts_.merge(unsettled);
}

void Engine::ensure_running(const WorkflowInfo& info) {
  if (info.status != WorkflowStatus::Pending || info.executor_id != config_.executor_id) return;
  {
    std::lock_guard lock(mu_);
    if (running_.count(info.id)) return;
  }
  spawn(info, /*replay=*/true);  // refuses a parked one: it resumes by itself
}

void Engine::spawn(const WorkflowInfo& info, bool replay, bool woken) {
  ErasedWorkflow fn = lookup(info.name);
  auto exec = std::make_shared<Execution>(*this, info, std::map<int, sysdb::OperationRecord>{});
  exec->set_replaying(replay);
  // Run by a pool thread, or by a thread waiting for the result that takes it first.
  auto run = std::make_shared<QueuedRun>([this, exec, fn = std::move(fn), replay, woken]() mutable {
    LogContextScope log_context(exec->id());  // every line of this run names the workflow
    if (stopping()) return release(*exec);  // queued at shutdown: stays PENDING
    std::optional<WorkflowInfo> newer;
    const Loaded loaded = replay ? load_recorded(*exec, woken, newer) : Loaded::Ok;
    if (loaded == Loaded::Gone) {
      release(*exec);
      if (newer) ensure_running(*newer);  // deleted and started again while parked: the new row runs as itself
      return;
    }
    if (loaded == Loaded::Unavailable) {
      if (!park_for_retry(*exec)) release(*exec);
      return;
    }
    run_execution(exec, std::move(fn));  // exec outlives the log context
  });
  exec->set_queued_run(run);
  for (;;) {
    std::unique_lock lock(mu_);
    if (stopping()) return;  // stays PENDING; recovered at the next launch (or by the id's new holder)
    if (parking_->contains(info.id)) return;  // parked here: resumes by itself
    // Ended here already: a start or dequeue that read it PENDING came after
    // an ensure_running() of the same ID had run it to its end. (The same
    // row: an ID deleted and started again is a new row, created later.)
    if (outcomes_.ended(info.id, info.created_at_ms)) return;
    auto [it, added] = running_.emplace(info.id, exec);
    if (added) {
      ++threads_;
      break;
    }
    if (it->second->info().created_at_ms == info.created_at_ms) return;  // already running here
    // The execution of a deleted row of this ID is still unwinding: the new
    // row runs once it has left.
    lock.unlock();
    wait_until_gone(info.id);
  }
  try {
    pool_->submit([run] { run->take_and_run(); });
  } catch (const RuntimeStateError&) {
    // No thread: the workflow stays PENDING and is recovered at the next
    // launch (unless a waiting thread took the run meanwhile: it runs there).
    if (run->take()) release(*exec);
    throw;
  }
}

Engine::Loaded Engine::load_recorded(Execution& exec, bool woken, std::optional<WorkflowInfo>& newer) {
  return with_retries(
      kDatabaseRetry, [this] { return stopping(); },
      [&] {
        if (woken) {
          auto row = db_->get_workflow(exec.id());
          // Ended or taken elsewhere since it parked: nothing to run here.
          if (!row || row->status != WorkflowStatus::Pending || row->executor_id != config_.executor_id) {
            notifier_.notify(WakeKey::done(exec.id()));
            return Loaded::Gone;
          }
          if (row->created_at_ms != exec.info().created_at_ms) {
            newer = std::move(row);
            return Loaded::Gone;
          }
          exec.complete_info(*row);
        }
        std::map<int, sysdb::OperationRecord> recorded;
        for (auto& op : db_->load_operations(exec.id())) recorded.emplace(op.function_id, std::move(op));
        exec.set_recorded(std::move(recorded));
        return Loaded::Ok;
      },
      [&](const DatabaseError& e) {
        spdlog::error("cannot load the checkpoints, the workflow stays PENDING: {}", e.what());
        metrics_.database_retries_exhausted.inc();
        return Loaded::Unavailable;
      },
      count_db_error());
}

// The execution leaves running_ and the gate.
void Engine::release(Execution& exec) {
  std::lock_guard lock(mu_);
  running_.erase(exec.id());
  if (--threads_ == 0) idle_cv_.notify_all();
}

// A parked execution (registered with parking_->begin) has unwound: it leaves
// running_ and the gate, and runs again at once if woken meanwhile.
void Engine::leave_parked(Execution& exec) {
  bool wake_now = false;
  {
    std::lock_guard lock(mu_);
    running_.erase(exec.id());
    wake_now = parking_->settle(exec.id());  // woken while unwinding: run it again now
    if (--threads_ == 0) idle_cv_.notify_all();
  }
  if (wake_now) spawn(exec.info(), /*replay=*/true);
}

// ctx.continue_as_new committed: this run leaves running_ and the next one
// starts like a resumed one (its history is the hand-over's marker). At
// shutdown it stays PENDING and the next launch recovers the new run.
void Engine::run_next(Execution& exec) {
  WorkflowInfo next = exec.info();
  next.inputs = *exec.continued_with();
  next.recovery_attempts = 0;
  release(exec);
  spawn(next, /*replay=*/true);
}

// The system database stayed unavailable through an operation's retries. The
// workflow is PENDING with its checkpoints intact: it runs again by replay
// after a pause, parked without a thread meanwhile (a start() of its ID does
// not run it twice). False at shutdown: it is recovered at the next launch.
bool Engine::park_for_retry(Execution& exec, bool storage_full) {
  int64_t delay = std::max<int64_t>(1000, 5 * config_.poll_interval.count());
  if (!parking_->begin(exec.info(), {WakeKey::retry(exec.id()).encode()}, now_ms() + delay)) return false;
  // A full disk needs the operator (free space), not patience: say so.
  if (storage_full) {
    int64_t unset = 0;  // the first to park on it sets the time
    storage_full_since_ms_.compare_exchange_strong(unset, now_ms());
    spdlog::warn("system database's disk is full (no space left): the workflow runs again in {} ms, "
                 "and resumes by itself once space is freed",
                 delay);
  } else {
    spdlog::warn("system database unavailable: the workflow runs again in {} ms", delay);
  }
  leave_parked(exec);
  return true;
}

void Engine::run_execution(std::shared_ptr<Execution> exec, ErasedWorkflow fn) {
  set_current_execution(exec.get());
  const std::string& id = exec->id();
  bool retry = false;  // the database was away: run it again later
  bool storage_full = false;  // ... because its disk is full
  // Workflow code that swallowed ExecutionParked (catch (...)) must not end
  // the workflow: the parked execution's outcome is no outcome.
  try {
    Context ctx(*exec);
    Json out = fn(ctx, exec->info().inputs);
    if (!exec->unwound()) retry = !finish(*exec, WorkflowStatus::Success, std::move(out), std::nullopt);
  } catch (const ExecutionParked&) {
  } catch (const ContinuedAsNew&) {
  } catch (const ExecutionInterrupted& e) {
    spdlog::info("workflow interrupted, stays PENDING: {}", e.reason);
    retry = e.database_unavailable;
    storage_full = e.storage_full;
  } catch (const WorkflowCancelledError& e) {
    bool own = exec->cancelled();
    if (!own) {
      try {
        own = exec->cancel_if_past_deadline();
      } catch (const DatabaseError&) {
        own = retry = true;  // cannot tell yet: run again by replay later, which decides
      }
    }
    if (own) {
      // The status is already CANCELLED: set by cancel(), by the timeout
      // check, or found at a checkpoint.
      spdlog::info("workflow cancelled: {}", e.what());
    } else if (!exec->unwound()) {
      // Another workflow's cancellation (a child's result) that the code let
      // through: this workflow fails with it. Treated as its own, it would
      // stay PENDING for ever.
      spdlog::warn("workflow failed: {}", e.what());
      retry = !finish(*exec, WorkflowStatus::Error, std::nullopt, describe_exception(e));
    }
  } catch (const std::exception& e) {
    if (!exec->unwound()) {
      spdlog::warn("workflow failed: {}", e.what());
      retry = !finish(*exec, WorkflowStatus::Error, std::nullopt, describe_exception(e));
    }
  } catch (...) {
    if (!exec->unwound())
      retry = !finish(*exec, WorkflowStatus::Error, std::nullopt,
                      RecordedErrorInfo{"unknown", "a non-standard exception"});
  }
  set_current_execution(nullptr);
  if (exec->parked()) return leave_parked(*exec);
  if (exec->continued_with()) return run_next(*exec);
  if (retry && !stopping() && park_for_retry(*exec, storage_full)) return;
  notifier_.notify(WakeKey::done(id));
  if (!exec->info().queue_name.empty()) notifier_.notify(WakeKey::queues());  // a slot is free
  release(*exec);
}

// False when the workflow stays PENDING and must run again by replay: the
// database stayed unavailable, or a deferred record's position was taken.
bool Engine::finish(Execution& exec, WorkflowStatus status, std::optional<Json> output,
                    const std::optional<RecordedErrorInfo>& error) {
  std::optional<std::string> stored;
  if (output) stored = output->dump();
  // The deferred records (the last step's, a recv's) go in the same commit.
  std::vector<sysdb::OperationRecord> last_ops = exec.take_deferred();
  // A retry after a commit whose outcome was unknown finds the workflow no
  // longer PENDING and changes nothing: retrying is safe.
  auto result = with_retries(
      kDatabaseRetry, [this] { return stopping(); },
      [&] { return std::optional(db_->finish_workflow(exec.id(), status, stored, error, now_ms(), last_ops)); },
      [&](const DatabaseError& e) -> std::optional<sysdb::FinishResult> {
        spdlog::error("cannot record the workflow's end, it stays PENDING: {}", e.what());
        metrics_.database_retries_exhausted.inc();
        return std::nullopt;
      },
      count_db_error());
  if (!result) return false;
  // A commit went through: the disk has room again. (Read first: no write to
  // a shared cache line at every workflow's end.)
  if (storage_full_since_ms_.load(std::memory_order_relaxed) != 0) storage_full_since_ms_.store(0);
  if (*result == sysdb::FinishResult::PositionTaken) {
    // Another execution recorded a deferred record's position: run again by replay.
    spdlog::warn("a deferred record's position was taken by another execution; running again by replay");
    return false;
  }
  if (*result == sysdb::FinishResult::Finished) {
    // This commit recorded the outcome: result() may take it from here.
    WorkflowInfo done;
    done.id = exec.id();
    done.created_at_ms = exec.info().created_at_ms;
    done.status = status;
    done.output = std::move(output);
    done.error = error;
    count_finished(exec.info().name, status);  // before result() can see the outcome
    outcomes_.put(std::move(done));
  }
  return true;
}

bool Engine::runs_here(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = running_.find(id);
  return it != running_.end() && !it->second->cancelled();
}

void Engine::run_queued_here(const std::string& id) {
  std::shared_ptr<QueuedRun> run;
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(id);
    if (it == running_.end()) return;
    run = it->second->queued_run();
  }
  if (run) run->take_and_run();
}

bool Engine::cancel(const std::string& id) {
  bool changed =
      db_->transition(id, {WorkflowStatus::Pending, WorkflowStatus::Enqueued}, WorkflowStatus::Cancelled, now_ms(),
                      false, std::nullopt);
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(id);
    if (it != running_.end()) it->second->cancel();
  }
  parking_->drop(id);  // a parked workflow has nothing left to run
  notifier_.wake_all();
  notifier_.notify(WakeKey::done(id));
  if (changed) count_finished(name_of_cancelled(id), WorkflowStatus::Cancelled);
  return changed;
}

// One read, on a cancel that changed something (rare: an operator's act).
std::string Engine::name_of_cancelled(const std::string& id) {
  try {
    if (auto info = db_->get_workflow(id)) return info->name;
  } catch (const DatabaseError&) {
    metrics_.database_errors.inc();  // the cancel itself is done: only its metric's label is lost
  }
  return "unknown";
}

bool Engine::resume(const std::string& id) {
  require_running();
  // A cancelled execution may still be unwinding here; let it leave first so
  // that it cannot race with the new one.
  wait_until_gone(id);
  // Refuse before changing anything when this process cannot run it.
  auto before = db_->get_workflow(id);
  if (!before) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  if (!before->queue_name.empty()) return requeue(*before);
  // Another version's workflow is released (executor_id '') for an executor
  // of its version to claim: this code would not replay its history.
  const bool ours = before->application_version == config_.application_version;
  if (ours) (void)lookup(before->name);
  parking_->drop(id);  // cancelled elsewhere while parked here: this resume runs it
  bool changed = db_->transition(id, {WorkflowStatus::Cancelled, WorkflowStatus::MaxRecoveryAttemptsExceeded},
                                 WorkflowStatus::Pending, now_ms(), /*reset_recovery=*/true,
                                 ours ? config_.executor_id : std::string());
  if (!changed || !ours) return changed;
  if (auto info = db_->get_workflow(id)) spawn(*info, /*replay=*/true);
  return true;
}

// A workflow of a queue resumes by going back to its queue (ENQUEUED), so
// that it counts against the queue's limits again; any process dequeuing the
// queue runs it from its checkpoints.
bool Engine::requeue(const WorkflowInfo& before) {
  bool changed = detail::release_for_resume(*db_, before, now_ms());
  if (changed) notifier_.notify(WakeKey::queues());
  return changed;
}

void Engine::wait_until_gone(const std::string& id) {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (!running_.count(id)) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Engine::shutdown() {
  if (stopping_.exchange(true)) {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return threads_ == 0; });
    return;
  }
  retention_.reset();  // between two batches; nothing half done
  parking_->stop();  // parked workflows stay PENDING: recovered at the next launch
  notifier_.wake_all();
  {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return threads_ == 0; });
  }
  // Heartbeats ran while executions drained; now stop them and release the
  // lease, so that a live peer takes over what stays PENDING.
  lease_.reset();
  db_->set_wakeup_sink(nullptr);  // no wake-up reaches the notifier after this
  pool_->stop();
}

}  // namespace keel::detail
