// The engine behind keel::Runtime: the registry of workflow functions, the
// set of executions running in this process, and their threads.
//
// Threads: executions run on a bounded pool (worker_pool.hpp), counted by a
// gate; shutdown() closes the gate, wakes every wait and waits for the count
// to reach zero (steps in flight finish; no new operation starts). A waiting
// execution may park (parking.hpp): it leaves the pool and the gate, and is
// resumed by replay.
//
// Who calls what: Runtime the lifecycle, start/cancel/resume and the waits;
// Queues the registry and run_dequeued; ExecutorLease recover and
// interrupt_all; executions only the ExecutionHost interface.
// Thread-safety: thread-safe once launched; register_workflow and launch are
// for start-up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "keel/runtime.hpp"
#include "runtime/execution_host.hpp"
#include "runtime/notifier.hpp"
#include "runtime/outcomes.hpp"
#include "runtime/parking.hpp"
#include "runtime/unwinding.hpp"
#include "runtime/worker_pool.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

class Execution;
class ExecutorLease;
class Retention;

// What the engine holds right now (tests, benchmarks, and later metrics).
struct EngineCounters {
  size_t pool_threads = 0;  // pool threads created so far
  size_t parked = 0;        // workflows parked
  size_t suspended = 0;     // workflows waiting suspended (RuntimeConfig::max_suspended_workflows)
  size_t running = 0;       // executions here, queued or running (a parked one has left)
};

class Engine final : public ExecutionHost {
 public:
  // rt: the Runtime that owns this engine (children's handles refer to it).
  Engine(RuntimeConfig config, Runtime& rt);
  ~Engine();

  // --- lifecycle ---
  // where: the source position of the registration ("file:line").
  void register_workflow(const std::string& name, ErasedWorkflow fn, const std::string& where);
  // after_migrate runs once the schema is current, before anything else
  // (Runtime: the queue declarations); when it throws, nothing was launched.
  LaunchReport launch(const std::function<void()>& after_migrate = {});
  void shutdown();
  // Throws RuntimeStateError unless launched, not stopping and not
  // superseded (supersede()).
  void require_running() const;

  // --- workflows ---
  std::string start(const std::string& name, const StartOptions& options, Json inputs);
  [[nodiscard]] bool cancel(const std::string& id);
  [[nodiscard]] bool resume(const std::string& id);
  // Forks (runtime/fork.hpp); runs the fork here when this launched process
  // is of its version and registers its name. Returns the fork's ID.
  std::string fork(const std::string& id, const ForkOptions& options);
  Json await_result(const std::string& id, std::optional<std::chrono::milliseconds> timeout);
  std::optional<Json> get_event(const std::string& id, const std::string& key, std::chrono::milliseconds timeout);
  StreamBatch<Json> read_stream(const std::string& id, const std::string& key, int64_t offset,
                                std::chrono::milliseconds timeout, int max_values);
  void send(const std::string& dest, const std::string& topic, const Json& message, const std::string& key);

  // --- for the queues (runtime/queues.hpp) ---
  // Throws UnknownWorkflowError when name is not registered here.
  void require_registered(const std::string& name);
  std::vector<std::string> registered_names();
  // Runs a workflow a dequeue moved to PENDING under this executor (from its
  // checkpoints: a resumed one comes back through its queue with some).
  void run_dequeued(const WorkflowInfo& info) { spawn(info, /*replay=*/true); }
  // A new row took id (an enqueue): the outcome kept for an earlier row of
  // the ID, deleted since, is not its own.
  void forget_outcome(const std::string& id) { outcomes_.erase(id); }
  // Returns once no execution of id runs here (a cancelled one unwinding).
  void wait_until_gone(const std::string& id);
  // A PENDING workflow of this executor that does not run here (its start
  // was committed but reported as failed, or it is a child of a crashed
  // execution) is run now, replaying its checkpoints.
  void ensure_running(const WorkflowInfo& info);

  // --- for the executor lease (runtime/executor_lease.hpp) ---
  // Recovers PENDING workflows this executor owns (launch, takeover): counts
  // a recovery attempt, dead-letters past max_recovery_attempts, replays the
  // rest. Workflows already running here are left alone.
  LaunchReport recover(const std::vector<std::string>& ids);
  // recover() for workflows just claimed from no executor (claim_released):
  // first lets a stale execution of each leave this process.
  LaunchReport recover_claimed(const std::vector<std::string>& ids);
  // Stops every execution running here at its next operation without
  // changing its status.
  void interrupt_all();
  // Another live process now holds this executor id (this one stalled past
  // its lease and was replaced): from now on this process starts, dequeues,
  // fires and resumes nothing, since every workflow of the id is the other
  // process's; parked workflows are forgotten and running ones interrupted
  // (all stay PENDING for the holder). Start-like calls throw
  // RuntimeStateError. Irreversible: the process should be stopped.
  void supersede(const std::string& holder);
  // Starts whose insert failed with an unknown outcome (the commit may have
  // gone in before the connection was lost): each is read back, and run
  // here if its row exists, PENDING on this executor, with no execution.
  // Called at every heartbeat; an ID whose read fails stays for the next.
  void settle_unsure_starts();

  // --- for the upgrade check (runtime/upgrade_check.cpp) ---
  // The function registered as name, or none.
  std::optional<ErasedWorkflow> find_registered(const std::string& name);

  [[nodiscard]] EngineCounters counters() const;
  // When one of this process's workflows last parked because the system
  // database's disk was full (wall clock, ms), until one of them next records
  // its end: 0 otherwise (Runtime::storage_full_since).
  [[nodiscard]] int64_t storage_full_since_ms() const { return storage_full_since_ms_.load(); }
  // The metrics text (metrics/exposition.hpp): the instruments, this
  // process's gauges, and the counts of `queues` (one read; left out, and
  // counted as a database error, when the database does not answer).
  std::string metrics_text(const std::vector<std::string>& queues);
  // A workflow this process created (start, child, enqueue, fork).
  void count_started(const std::string& name) { metrics_.workflows_started.with({name}).inc(); }

  // --- ExecutionHost ---
  sysdb::SystemDatabase& db() override { return *db_; }
  Notifier& notifier() override { return notifier_; }
  const RuntimeConfig& config() const override { return config_; }
  bool stopping() const override { return stopping_.load() || superseded_.load(); }
  bool threads_scarce() const override { return pool_->backlog() > 0; }
  bool suspend_current_thread() override { return pool_->suspend_current(); }
  ParkingLot& parking() override { return *parking_; }
  std::string start_child(Execution& parent, int function_id, const std::string& name, const ChildOptions& options,
                          Json inputs) override;
  Runtime& runtime() override { return runtime_; }
  std::string registered_at(const std::string& name) const override;
  metrics::RuntimeMetrics& metrics() override { return metrics_; }

 private:
  // Queues the workflow on the pool unless it already runs (or is parked)
  // here; replay loads its recorded operations first (on the pool thread).
  // woken: info holds only what the parking lot keeps (id, name,
  // created_at_ms); the rest is read from the row with the operations.
  void spawn(const WorkflowInfo& info, bool replay, bool woken = false);
  bool requeue(const WorkflowInfo& before);
  // Loads the recorded operations of a replaying execution (and, when woken,
  // the rest of its row first), retrying a failing database. Gone: the
  // workflow ended or moved since it parked (or its ID is a new row now:
  // newer holds it). Unavailable: the database stayed away (it stays PENDING).
  enum class Loaded { Ok, Gone, Unavailable };
  Loaded load_recorded(Execution& exec, bool woken, std::optional<WorkflowInfo>& newer);
  void release(Execution& exec);
  void leave_parked(Execution& exec);
  void run_next(Execution& exec);
  bool park_for_retry(Execution& exec, bool storage_full = false);
  void run_execution(std::shared_ptr<Execution> exec, ErasedWorkflow fn);
  bool finish(Execution& exec, WorkflowStatus status, std::optional<Json> output,
              const std::optional<RecordedErrorInfo>& error);
  // Whether the workflow runs in this process now (not parked, not cancelled).
  bool runs_here(const std::string& id);
  // Runs the workflow's queued run on this thread if no pool thread has
  // taken it yet (queued_run.hpp): for a caller that waits for its result.
  void run_queued_here(const std::string& id);
  ErasedWorkflow lookup(const std::string& name);
  // Resumes those of `ids` still PENDING with a registered name (one read,
  // one commit counting their recovery attempts); what fails is reported.
  void recover_batch(const std::vector<std::string>& ids, LaunchReport& report);
  // A PENDING workflow whose recovery was just counted: run again by replay,
  // or dead-lettered past max_recovery_attempts.
  void resume_recovered(const WorkflowInfo& info, LaunchReport& report);
  // Version routing at launch (recovery.cpp; docs/upgrades.md).
  void route_versions();
  void start_retention();
  std::vector<WorkflowInfo> pending_of_other_versions();
  void count_finished(const std::string& name, WorkflowStatus status) {
    metrics_.workflows_finished.with({name, to_string(status)}).inc();
  }
  // The engine's retry policy, counted: every failed attempt, and give-ups.
  auto count_db_error() {
    return [this](const DatabaseError&) { metrics_.database_errors.inc(); };
  }
  // The name of a workflow this process cancelled (for its metric).
  std::string name_of_cancelled(const std::string& id);
  void write_gauges(metrics::TextWriter& w);

  RuntimeConfig config_;
  metrics::RuntimeMetrics metrics_;
  std::unique_ptr<sysdb::SystemDatabase> db_;
  Notifier notifier_;
  Runtime& runtime_;
  std::atomic<bool> launched_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> superseded_{false};  // supersede()
  std::string superseded_by_;            // set once, before superseded_
  std::atomic<int64_t> storage_full_since_ms_{0};  // storage_full_since_ms()

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::map<std::string, ErasedWorkflow> registry_;            // guarded by mu_
  std::map<std::string, std::string> registered_at_;          // name -> "file:line"; guarded by mu_
  std::map<std::string, std::shared_ptr<Execution>> running_;  // guarded by mu_
  size_t threads_ = 0;                                          // guarded by mu_; queued + running
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<ParkingLot> parking_;
  std::mutex recover_mu_;                // one recovery pass at a time (launch, takeover)
  std::unique_ptr<ExecutorLease> lease_;  // set by launch(), reset by shutdown()
  std::unique_ptr<Retention> retention_;  // set by launch() when configured, reset first by shutdown()
  RecentOutcomes outcomes_{4096};
  std::set<std::string> unsure_starts_;  // guarded by mu_; see settle_unsure_starts()
};

}  // namespace keel::detail
