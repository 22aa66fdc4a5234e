// Every metric Keel exposes (GET /metrics; docs/operations.md "Metrics"
// lists them for operators): its name, type and help, defined here once, and
// the instruments the engine and the system database update.
//
// Labels are bounded: workflow names (registered in code), operation names
// (code constants; a family caps its label sets, metrics.hpp), statuses,
// kinds and queue names (registered). Never a workflow ID.
#pragma once

#include <chrono>

#include "metrics/exposition.hpp"
#include "metrics/metrics.hpp"

namespace keel::metrics {

// Durations: half a millisecond (a commit on a fast disk) to a minute (a step
// calling a slow service, with its retries).
inline constexpr double kSecondsBounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,   0.5,   1,      2.5,   5,    10,   30,   60};
// Units per batch: up to the committers' max_batch (256).
inline constexpr double kBatchBounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};

namespace defs {
inline constexpr Def kWorkflowsStarted{
    "keel_workflows_started_total", "counter",
    "Workflows created by this process (start, child start, enqueue, fork), by workflow name."};
inline constexpr Def kWorkflowsFinished{
    "keel_workflows_finished_total", "counter",
    "Workflow ends recorded by this process, by workflow name and final status (SUCCESS, ERROR, CANCELLED, "
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED)."};
inline constexpr Def kWorkflowsContinued{
    "keel_workflows_continued_total", "counter",
    "Runs this process ended by ctx.continue_as_new (the workflow goes on with a fresh history), by workflow "
    "name."};
inline constexpr Def kOperationDuration{
    "keel_operation_duration_seconds", "histogram",
    "Duration of the steps (body and retries; not their checkpoint, written by the next operation) and "
    "transactions (body and commit) run by this process, by kind and operation name."};
inline constexpr Def kStepRetries{"keel_step_retries_total", "counter",
                                  "Failed step attempts that were retried, by step name."};
inline constexpr Def kRecoveries{
    "keel_workflow_recoveries_total", "counter",
    "Workflows this process recovered from their checkpoints (launch, takeover, lease lost)."};
inline constexpr Def kTakeovers{"keel_executor_takeovers_total", "counter",
                                "Dead executors whose PENDING workflows this process took over."};
inline constexpr Def kLeaseLost{"keel_executor_lease_lost_total", "counter",
                                "Heartbeats that found this executor's lease lost."};
inline constexpr Def kLeaseHeld{"keel_executor_lease_held", "gauge",
                                "1 while this process holds its executor lease, else 0."};
inline constexpr Def kDatabaseErrors{
    "keel_database_errors_total", "counter",
    "Engine calls to the system database that failed with a database error (each failed attempt)."};
inline constexpr Def kDatabaseRetriesExhausted{
    "keel_database_retries_exhausted_total", "counter",
    "Engine calls to the system database that failed every attempt of the retry policy (the workflow stays "
    "PENDING and runs again later)."};
inline constexpr Def kDatabaseReconnects{"keel_database_reconnects_total", "counter",
                                         "Attempts to connect a PostgreSQL connection again after it was lost."};
inline constexpr Def kDatabaseReaderConnections{
    "keel_database_reader_connections", "gauge",
    "PostgreSQL reader connections this process holds open, idle or in use (at most 16; idle ones are closed "
    "after RuntimeConfig::postgres_reader_idle_timeout). 0 on SQLite."};
inline constexpr Def kDatabaseWakeNotify{
    "keel_database_wake_notify", "gauge",
    "1 while this process's writes send PostgreSQL NOTIFY wake-ups: another process listens, or it is not "
    "known that none does; 0 while none listens (this process wakes its own waiters) and on SQLite."};
inline constexpr Def kCommitDuration{
    "keel_group_commit_duration_seconds", "histogram",
    "Time a group-commit batch takes from its first statement to its durable commit."};
inline constexpr Def kCommitBatchSize{"keel_group_commit_batch_size", "histogram",
                                      "Write units per group-commit batch."};
inline constexpr Def kWorkflowsRunning{"keel_workflows_running", "gauge",
                                       "Workflow executions in this process, running or waiting for a thread."};
inline constexpr Def kWorkflowsParked{"keel_workflows_parked", "gauge",
                                      "Workflows parked in this process (waiting without a thread)."};
inline constexpr Def kWorkflowsSuspended{
    "keel_workflows_suspended", "gauge",
    "Workflows with a long history waiting in a thread of their own instead of parking "
    "(RuntimeConfig::max_suspended_workflows)."};
inline constexpr Def kStorageFull{"keel_storage_full", "gauge",
                                  "1 while workflows of this process are parked on a full system database disk "
                                  "(Runtime::storage_full_since), else 0."};
inline constexpr Def kWorkerThreads{"keel_worker_threads", "gauge", "Threads of the workflow pool."};
inline constexpr Def kWorkerThreadsBusy{"keel_worker_threads_busy", "gauge", "Pool threads running a workflow."};
inline constexpr Def kWorkerThreadsMax{"keel_worker_threads_max", "gauge",
                                       "The pool's limit (RuntimeConfig::max_workflow_threads)."};
inline constexpr Def kWorkerBacklog{"keel_worker_backlog", "gauge",
                                    "Workflow executions waiting for a pool thread."};
inline constexpr Def kQueueEnqueued{"keel_queue_enqueued_workflows", "gauge",
                                    "ENQUEUED workflows of each queue registered here (every process's)."};
inline constexpr Def kQueueRunning{"keel_queue_running_workflows", "gauge",
                                   "PENDING (dequeued) workflows of each queue registered here (every executor's)."};
}  // namespace defs

// The engine's instruments (runtime/engine.hpp owns one).
struct RuntimeMetrics {
  Family<Counter> workflows_started{{"workflow"}};
  Family<Counter> workflows_finished{{"workflow", "status"}};
  Family<Counter> workflows_continued{{"workflow"}};
  Family<Histogram> operation_seconds{{"kind", "operation"}, histograms_of(kSecondsBounds)};
  Family<Counter> step_retries{{"operation"}};
  Counter recoveries;
  Counter takeovers;
  Counter lease_lost;
  Gauge lease_held;
  Counter database_errors;
  Counter database_retries_exhausted;

  void write(TextWriter& w) const;
};

// The system database's instruments (sysdb/system_database.hpp owns one).
struct DatabaseMetrics {
  Histogram commit_seconds{kSecondsBounds};
  Histogram batch_size{kBatchBounds};
  Counter reconnects;
  Gauge reader_connections;
  Gauge wake_notify;

  void observe_batch(double seconds, size_t units) {
    commit_seconds.observe(seconds);
    batch_size.observe(static_cast<double>(units));
  }
  void write(TextWriter& w) const;
};

// Seconds since construction, for a histogram.
class Stopwatch {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace keel::metrics
