/// @file
/// keel/config.hpp — how a Runtime is configured.
///
/// Contract:
///  * database_url selects the system database: "sqlite:PATH" (PATH may be
///    relative; the file is created if absent) or "postgresql://..." (a libpq
///    URL; docs/postgres.md). Anything else throws keel::ConfigError.
///  * validate(config) checks every value and throws keel::ConfigError naming
///    the first invalid one; the Runtime constructor calls it before it opens
///    anything, and an application may call it earlier (after parsing flags).
///  * executor_id names this process in the system database: recovery at launch
///    resumes the PENDING workflows recorded under this executor id. Two live
///    processes must not share one executor id. Each Runtime holds a lease on
///    its executor id (renewed every heartbeat_interval); launch() throws
///    ConfigError when another live process holds it. The default "local"
///    suits one process per database; running several processes on one
///    database (scale-out) needs a distinct executor_id per process (see
///    docs/postgres.md).
///    launch() decides a holder is dead at once when it is a process of this
///    host that no longer exists (a restart after a crash); otherwise it
///    watches the holder's heartbeat for up to lease_timeout.
///  * heartbeat_interval / lease_timeout: an executor whose lease its peers
///    have watched go unrenewed for lease_timeout (their monotonic clocks; a
///    wall-clock step moves nothing) is dead; one live executor takes over its
///    PENDING workflows. lease_timeout must exceed 2 * heartbeat_interval
///    (else ConfigError).
///  * application_version is recorded with every workflow.
///
/// Thread-safety: a plain value type.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace keel {

/// How SQLite makes a commit durable (PRAGMA synchronous).
enum class SqliteSync {
  Normal,  ///< NORMAL: survives a process crash; may lose the last commits on power loss
  Full     ///< FULL: survives power loss
};

/// What the system database keeps (RuntimeConfig::retention;
/// docs/operations.md, "Retention"). Unset fields do nothing: by default
/// every workflow is kept forever. One executor applies it at a time (the
/// live executor with the smallest executor_id; a Runtime without an
/// executor lease never does), every `interval`, deleting batch_size
/// workflows per commit and pausing after each nine times as long as it
/// took, so that the write path keeps the database 90% of the time.
struct RetentionConfig {
  /// Delete the finished workflows (SUCCESS, ERROR, CANCELLED,
  /// MAX_RECOVERY_ATTEMPTS_EXCEEDED) that finished longer ago than this,
  /// with all they recorded (as Runtime::delete_workflows).
  std::optional<std::chrono::milliseconds> finished_older_than;
  /// Keep at most this many finished workflows: delete the oldest (by
  /// creation) beyond it.
  std::optional<int64_t> max_finished_workflows;
  /// Global timeout: cancel the PENDING and ENQUEUED workflows created longer
  /// ago than this (as Runtime::cancel_workflows).
  std::optional<std::chrono::milliseconds> global_timeout;
  /// How often retention runs (the first time one interval after launch).
  std::chrono::milliseconds interval{60'000};
  /// Workflows deleted per commit: 1 to kMaxListLimit (keel/status.hpp).
  int batch_size = 1000;
};

/// How a Runtime is configured (the contract of keel/config.hpp).
struct RuntimeConfig {
  /// The system database: "sqlite:PATH" or a "postgresql://..." URL.
  std::string database_url = "sqlite:keel.db";
  /// This process's name in the system database; one per live process.
  std::string executor_id = "local";
  /// The version of the workflow code this process runs; recorded with every
  /// workflow it starts. An executor runs only workflows of its own version:
  /// recovery, takeover, resume and dequeue route each workflow to an
  /// executor of the version that recorded it (docs/upgrades.md). Set it when
  /// a deploy changes a workflow's operations (a release name, a date); it
  /// stays "0" otherwise, so that a rebuild alone never strands a workflow.
  /// Must not be empty.
  std::string application_version = "0";
  /// Durability of a commit on SQLite: FULL survives power loss, NORMAL (in WAL
  /// mode) survives a process crash but may lose the last commits on power loss.
  SqliteSync sqlite_synchronous = SqliteSync::Full;
  /// A workflow is recovered at most this many times before it is moved to the
  /// MAX_RECOVERY_ATTEMPTS_EXCEEDED status (dead letter).
  int max_recovery_attempts = 50;
  /// Waits (recv, get_event, handle.result) re-read the database at least this
  /// often, so writes by other processes are seen even without a wake-up.
  std::chrono::milliseconds poll_interval{200};
  /// Running workflows execute on a pool of at most this many threads, with a
  /// run queue (at least 1). A workflow blocked inside a step (user code)
  /// holds its thread: with all threads blocked, queued workflows wait —
  /// but one whose untimed result() a thread awaits runs on that thread
  /// instead (keel/handle.hpp), outside this bound.
  int max_workflow_threads = 64;
  /// Parking: a workflow waiting in recv, sleep, get_event or a child's
  /// result gives its thread back and is resumed by replay (like recovery)
  /// when its message/event arrives, its deadline passes or a poll finds the
  /// condition true. It first waits in its thread up to park_after (so that
  /// quick replies cost no replay), unless threads are scarce (workflows
  /// queued) or it is itself a replay; then it parks. Zero parks at once.
  bool park_waiting_workflows = true;
  /// How long a waiting workflow keeps its thread before it parks (see
  /// park_waiting_workflows).
  std::chrono::milliseconds park_after{500};
  /// Suspended workflows: a waiting workflow with a long history (at least
  /// suspend_after_operations recorded in its current run) would pay a long
  /// replay at each wake-up if it parked. Instead of parking it stays
  /// suspended in its thread, outside the pool's max_workflow_threads, and
  /// resumes without a replay: its wake-up costs the same at 1,000 and at
  /// 100,000 recorded operations. At most this many at once (the process's
  /// workflow threads are bounded by max_workflow_threads plus this); beyond
  /// it, and for shorter histories, waits park as above. Zero: none. What
  /// the database holds is the same as for a wait in its thread: a crash
  /// replays the workflow as before.
  int max_suspended_workflows = 32;
  /// The history (operations recorded in the workflow's current run) from
  /// which a wait is suspended instead of parked (at least 1).
  int suspend_after_operations = 1000;
  /// A suspended wait that has lasted this long parks (gives its thread
  /// back; the next wake-up is a replay), so that a workflow waiting for
  /// days does not hold a slot another could use.
  std::chrono::milliseconds suspended_wait_limit{600000};
  /// PostgreSQL: connections that commit checkpoints (at least 1). Each runs
  /// one group commit at a time; with two, one batch executes while another
  /// waits for its WAL flush. A light load keeps to the first (one warm
  /// session); the second takes what arrives while the first is busy. On 2
  /// cores two gave a third more 64-client workflows and checkouts than one
  /// (docs/performance.md, session 18); more gave nothing there. Ignored on
  /// SQLite.
  int postgres_writer_connections = 2;
  /// PostgreSQL: a reader connection left unused this long is closed, so
  /// that a burst of concurrent reads (up to 16 connections) does not hold
  /// the server's connection slots for the process's life. The check runs
  /// when a read ends (no thread of its own): a process that reads nothing
  /// more keeps what it has. Zero keeps every reader open. Ignored on SQLite.
  std::chrono::milliseconds postgres_reader_idle_timeout{60000};
  /// Executor leases (see the contract above and docs/postgres.md).
  /// The lease is renewed this often.
  std::chrono::milliseconds heartbeat_interval{1000};
  /// An executor whose lease is not renewed for this long is dead; must
  /// exceed 2 * heartbeat_interval.
  std::chrono::milliseconds lease_timeout{10000};
  /// false: this Runtime holds no lease and takes over no dead executor (for
  /// tools that run no workflows of their own, such as the keel CLI).
  bool executor_lease = true;
  /// What the system database keeps (RetentionConfig); by default, everything.
  RetentionConfig retention;
  /// Testing seam, in the spirit of LevelDB's Env: called at named points of
  /// the engine ("checkpoint.before_commit", "checkpoint.after_commit",
  /// "step.before", "step.after", "wait.begin", "wait.suspended" when a
  /// wait has just been suspended (max_suspended_workflows), "step.body:NAME" before
  /// each attempt of step NAME's body, "schedule.tick_started" after a
  /// schedule's tick's start committed and "schedule.advanced" after its
  /// last tick moved, keel/schedule.hpp; "debounce.fire_started" before a
  /// due burst's fire and "debounce.fired" after it committed,
  /// keel/debounce.hpp). A crash test raises SIGKILL from here
  /// (keel/crash_sweep.hpp does). Must be cheap and must not call back into
  /// the Runtime.
  std::function<void(std::string_view point)> fault_hook;
};

/// Throws ConfigError naming the first invalid value (see the contract above).
void validate(const RuntimeConfig& config);

}  // namespace keel
