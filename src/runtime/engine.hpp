// The engine behind keel::Runtime: the registry of workflow functions, the
// set of executions running in this process, and their threads.
//
// Threads: executions run on a bounded pool (worker_pool.hpp), counted by a
// gate; shutdown() closes the gate, wakes every wait and waits for the count
// to reach zero (steps in flight finish; no new operation starts). A waiting
// execution may park (parking.hpp): it leaves the pool and the gate, and is
// resumed by replay.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "keel/runtime.hpp"
#include "runtime/notifier.hpp"
#include "runtime/outcomes.hpp"
#include "runtime/parking.hpp"
#include "runtime/worker_pool.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

class Execution;
class ExecutorLease;

// Thrown through a workflow's stack to stop it without changing its status
// (shutdown, or the system database failing). Deliberately not a
// std::exception, so that `catch (const std::exception&)` in workflow code
// does not swallow it.
struct ExecutionInterrupted {
  std::string reason;
  bool database_unavailable = false;  // the engine retries it later (park_for_retry)
};

// Thrown through a workflow's stack when it parks (Execution::wait): the
// thread is given back, the workflow stays PENDING and is resumed by replay.
// Not a std::exception either.
struct ExecutionParked {};

class Engine {
 public:
  explicit Engine(RuntimeConfig config);
  ~Engine();

  void register_workflow(const std::string& name, ErasedWorkflow fn);
  LaunchReport launch(Runtime& rt);
  void shutdown();

  std::string start(const std::string& name, const StartOptions& options, Json inputs);
  // Starts a child inside a parent execution (see Context::start_child).
  std::string start_child(Execution& parent, int function_id, const std::string& name, Json inputs);
  bool cancel(const std::string& id);
  bool resume(const std::string& id);

  Json await_result(const std::string& id, std::optional<std::chrono::milliseconds> timeout);
  std::optional<Json> get_event(const std::string& id, const std::string& key, std::chrono::milliseconds timeout);
  void send(const std::string& dest, const std::string& topic, const Json& message, const std::string& key);

  sysdb::SystemDatabase& db() { return *db_; }
  Notifier& notifier() { return notifier_; }
  const RuntimeConfig& config() const { return config_; }
  Runtime& runtime() { return *runtime_; }
  bool stopping() const { return stopping_.load(); }
  void fault(std::string_view point) const {
    if (config_.fault_hook) config_.fault_hook(point);
  }
  // Recovers PENDING workflows this executor owns (launch, takeover): counts
  // a recovery attempt, dead-letters past max_recovery_attempts, replays the
  // rest. Workflows already running here are left alone.
  LaunchReport recover(const std::vector<std::string>& ids);
  // Stops every execution running here at its next operation without
  // changing its status (another process now holds this executor id).
  void interrupt_all();
  // Throws RuntimeStateError unless launched and not stopping.
  void require_running() const;

  ParkingLot& parking() { return *parking_; }
  // Workflows queued for a pool thread (parking is preferred when > 0).
  size_t run_queue_backlog() const { return pool_->backlog(); }
  // Test hooks: pool threads created so far, workflows parked now.
  size_t pool_threads() const { return pool_->threads(); }
  size_t parked_count() const { return parking_->size(); }

  static std::string message_key(const std::string& dest, const std::string& topic);
  static std::string event_key(const std::string& id, const std::string& key);
  // A message's notify payload (its ID and JSON text), so that a recv woken
  // by its send takes it without reading it back.
  static std::string message_payload(int64_t message_id, const std::string& message);
  static std::optional<sysdb::WaitingMessage> parse_message_payload(const std::string& payload);
  // Wakes the recvs of (dest, topic); message_id > 0: the message inserted,
  // carried along (message_payload).
  void notify_message(const std::string& dest, const std::string& topic, int64_t message_id, const std::string& text);
  static std::string done_key(const std::string& id);
  // Notified when a queued workflow ends here or is enqueued here: the
  // dequeuer (runtime/queues.hpp) looks for free slots.
  static std::string queue_key() { return "queues"; }

 private:
  friend class Queues;  // dequeued workflows are spawned like started ones
  struct Running {
    std::shared_ptr<Execution> execution;
  };
  // Queues the workflow on the pool unless it already runs (or is parked)
  // here; replay loads its recorded operations first (on the pool thread).
  void spawn(const WorkflowInfo& info, bool replay);
  void ensure_running(const WorkflowInfo& info);
  bool requeue(const std::string& id);
  bool load_recorded(Execution& exec);
  void release(Execution& exec);
  void leave_parked(Execution& exec);
  bool park_for_retry(Execution& exec);
  void run_execution(std::shared_ptr<Execution> exec, ErasedWorkflow fn);
  bool finish(Execution& exec, WorkflowStatus status, std::optional<Json> output,
              const std::optional<RecordedErrorInfo>& error);
  // Whether the workflow runs in this process now (not parked, not cancelled).
  bool runs_here(const std::string& id);
  ErasedWorkflow lookup(const std::string& name);
  void recover_one(const std::string& id, LaunchReport& report);

  RuntimeConfig config_;
  std::unique_ptr<sysdb::SystemDatabase> db_;
  Notifier notifier_;
  Runtime* runtime_ = nullptr;
  std::atomic<bool> launched_{false};
  std::atomic<bool> stopping_{false};

  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::map<std::string, ErasedWorkflow> registry_;            // guarded by mu_
  std::map<std::string, std::shared_ptr<Execution>> running_;  // guarded by mu_
  size_t threads_ = 0;                                          // guarded by mu_; queued + running
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<ParkingLot> parking_;
  std::mutex recover_mu_;                // one recovery pass at a time (launch, takeover)
  std::unique_ptr<ExecutorLease> lease_;  // set by launch(), reset by shutdown()
  RecentOutcomes outcomes_{4096};
};

}  // namespace keel::detail
