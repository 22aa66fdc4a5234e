// The engine behind keel::Runtime: the registry of workflow functions, the
// set of executions running in this process, and their threads.
//
// Threads: each execution runs on its own detached thread, counted by a gate;
// shutdown() closes the gate, wakes every wait and waits for the count to
// reach zero (steps in flight finish; no new operation starts).
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "keel/runtime.hpp"
#include "runtime/notifier.hpp"
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
};

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

  static std::string message_key(const std::string& dest, const std::string& topic);
  static std::string event_key(const std::string& id, const std::string& key);
  static std::string done_key(const std::string& id);

 private:
  struct Running {
    std::shared_ptr<Execution> execution;
  };
  // Runs the workflow on a new thread unless it already runs here.
  void spawn(const WorkflowInfo& info, bool replay);
  void ensure_running(const WorkflowInfo& info);
  void run_execution(std::shared_ptr<Execution> exec, ErasedWorkflow fn);
  void finish(Execution& exec, WorkflowStatus status, const std::optional<std::string>& output,
              const std::optional<RecordedErrorInfo>& error);
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
  size_t threads_ = 0;                                          // guarded by mu_
  std::mutex recover_mu_;                // one recovery pass at a time (launch, takeover)
  std::unique_ptr<ExecutorLease> lease_;  // set by launch(), reset by shutdown()
};

}  // namespace keel::detail
