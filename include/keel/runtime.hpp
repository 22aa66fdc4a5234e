/// @file
/// keel/runtime.hpp — the entry point: one Runtime per process and database.
///
/// Contract:
///  * Construction opens (creating if needed) the system database named by the
///    config and checks it is usable: a file that is not a database, a
///    database with a newer Keel schema, or an unwritable path throws
///    DatabaseError / IncompatibleDatabaseError and writes nothing.
///  * register_workflow must be called before launch(), once per name.
///  * launch() migrates the schema (numbered, idempotent migrations) and
///    recovers: every PENDING workflow recorded under this executor id by
///    this application version runs again from the top. Those of other
///    versions are released to their own version's executors and listed in
///    the LaunchReport (docs/upgrades.md). A workflow whose name is not registered is left
///    untouched (PENDING, inputs intact) and reported in the LaunchReport.
///  * start() with an ID that exists returns a handle to that workflow and runs
///    nothing twice, also when many threads start the ID at once; the same ID
///    under another workflow name throws WorkflowConflictError.
///  * shutdown() (also run by the destructor) refuses new work, interrupts
///    waits (recv, sleep, get_event, read_stream) and waits for the steps and transactions in
///    flight; interrupted workflows stay PENDING and resume at the next launch.
///  * register_queue / enqueue: see keel/queue.hpp. A launched Runtime with
///    queues runs one dequeuer thread, stopped first by shutdown().
///  * schedule: see keel/schedule.hpp. A launched Runtime with schedules runs
///    one scheduler thread, stopped first by shutdown().
///  * debounce: see keel/debounce.hpp. A launched Runtime runs one debouncer
///    thread, which fires the due bursts of its registered workflows, stopped
///    first by shutdown().
///  * Running workflows execute on a pool of at most
///    config.max_workflow_threads threads (a run queue holds the rest). A
///    workflow waiting in recv, sleep, get_event, read_stream or a child's result() parks
///    (config.park_after): it holds no thread and is resumed by replay from its
///    checkpoints when its message/event arrives or its deadline passes; one
///    whose run has recorded a long history waits suspended instead, in a
///    thread outside the pool's limit, and resumes without a replay
///    (config.max_suspended_workflows bounds them). A
///    workflow blocked inside a step (user code) does hold its thread: with
///    every pool thread blocked so, queued workflows wait.
///  * Inside a transaction body (Context::transaction) every method but
///    config() throws UsageError at once: the body runs inside a commit that
///    would wait for the call.
///
/// Thread-safety: all methods are thread-safe once launched, except
/// register_workflow and launch, which are for start-up.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include "keel/bulk.hpp"
#include "keel/config.hpp"
#include "keel/context.hpp"
#include "keel/debounce.hpp"
#include "keel/errors.hpp"
#include "keel/handle.hpp"
#include "keel/messaging.hpp"
#include "keel/queue.hpp"
#include "keel/schedule.hpp"
#include "keel/serialization.hpp"
#include "keel/sql.hpp"
#include "keel/status.hpp"
#include "keel/workflow.hpp"

namespace keel {

/// @cond
namespace detail {
class Engine;
class Queues;
class Scheduler;
class Debouncer;
struct RuntimeAccess;
using ErasedWorkflow = std::function<Json(Context&, const Json& inputs)>;

template <class Args, class F, size_t... I>
Json invoke_with_json(F& fn, Context& ctx, const Json& in, std::index_sequence<I...>) {
  using R = decltype(fn(ctx, std::declval<std::tuple_element_t<I, Args>>()...));
  if constexpr (std::is_void_v<R>) {
    fn(ctx, from_json_value<std::tuple_element_t<I, Args>>(in.at(I))...);
    return nullptr;
  } else {
    return to_json_value<R>(fn(ctx, from_json_value<std::tuple_element_t<I, Args>>(in.at(I))...));
  }
}
void check_arity(const Json& inputs, size_t expected);
}  // namespace detail
/// @endcond

/// A PENDING workflow that launch() could not recover, and why.
struct RecoveryFailure {
  /// The workflow's ID; it stays PENDING, inputs intact.
  std::string workflow_id;
  /// The message of the error that stopped its recovery (e.g.\ an unregistered name).
  std::string reason;
};

/// What launch() did with the PENDING workflows recorded under this executor id.
struct LaunchReport {
  std::vector<std::string> recovered;          ///< resumed in this process
  std::vector<std::string> dead_lettered;      ///< moved to MAX_RECOVERY_ATTEMPTS_EXCEEDED
  std::vector<RecoveryFailure> not_recovered;  ///< left PENDING, e.g.\ unknown name
  /// PENDING workflows recorded by other application versions that no
  /// executor holds: this one does not run them (an executor of their version
  /// takes them; or cancel them). At most kMaxReportedOtherVersions listed.
  std::vector<WorkflowInfo> other_versions;
};

/// How many LaunchReport::other_versions lists at most.
inline constexpr int kMaxReportedOtherVersions = 1000;

/// The entry point: one per process and database (the contract of
/// keel/runtime.hpp).
class Runtime : public detail::TypedMessaging<Runtime> {
 public:
  /// Checks `config` (ConfigError) and opens the system database, creating it
  /// if needed; throws DatabaseError / IncompatibleDatabaseError when it is not
  /// usable, and then writes nothing.
  explicit Runtime(RuntimeConfig config);
  /// Shuts down as shutdown() does.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Registers `fn`, of the shape R fn(keel::Context&, Args...), as the
  /// workflow `name`, and returns its typed name (keel::Workflow<R, Args...>).
  /// Before launch(); throws UsageError for an empty or duplicate name or a
  /// call after launch. `where` (the caller's source position, by default)
  /// is named by NonDeterminismError and the upgrade check when a history no
  /// longer matches the code.
  template <class F>
  auto register_workflow(std::string name, F fn, std::source_location where = std::source_location::current())
      -> typename detail::workflow_traits<F>::workflow {
    using Traits = detail::workflow_traits<F>;
    using Args = typename Traits::args;
    register_erased(name, [fn = std::move(fn)](Context& ctx, const Json& in) mutable -> Json {
      detail::check_arity(in, std::tuple_size_v<Args>);
      return detail::invoke_with_json<Args>(fn, ctx, in, std::make_index_sequence<std::tuple_size_v<Args>>{});
    }, std::string(where.file_name()) + ":" + std::to_string(where.line()));
    return typename Traits::workflow(std::move(name));
  }

  /// Declares a queue (keel/queue.hpp) whose workflows this process runs.
  /// Before launch(); throws UsageError for an empty or duplicate name or a
  /// call after launch, ConfigError for a limit that is not positive (or a
  /// worker_concurrency above concurrency). launch() stores the declaration,
  /// or compares it with the stored one (keel/queue.hpp).
  void register_queue(const QueueOptions& options);

  /// Declares a cron schedule (keel/schedule.hpp, docs/schedules.md): each
  /// tick starts `wf` once, with ID schedule_workflow_id(options.name, tick),
  /// in whichever process that declares it sees the tick first. Before
  /// launch(), after wf's registration; throws UsageError (an empty name or
  /// one with ':', a duplicate, max_catch_up < 1, a negative grace, a call
  /// after launch), CronSyntaxError, UnknownTimeZoneError,
  /// UnknownWorkflowError. Every process declaring a schedule should declare
  /// it alike: the last launched one's declaration is the stored one.
  template <class R>
  void schedule(const Workflow<R, ScheduledTick>& wf, const ScheduleOptions& options) {
    schedule_erased(wf.name(), options);
  }

  /// Migrates the schema, takes this executor id's lease (unless
  /// config.executor_lease is false; ConfigError when a live process holds it)
  /// and recovers its PENDING workflows; throws RuntimeStateError when called twice.
  /// Before the lease, stores or checks each registered queue's declaration:
  /// ConfigError when one differs from the stored one (keel/queue.hpp).
  LaunchReport launch();
  /// Refuses new work, interrupts waits and waits for the steps and
  /// transactions in flight; interrupted workflows stay PENDING.
  void shutdown();

  /// Starts the workflow with `args`, converted to its parameter types, and
  /// returns its handle; an existing ID is not started again (under another
  /// workflow name: WorkflowConflictError). Throws UnknownWorkflowError for a
  /// name not registered here, RuntimeStateError unless launched and not
  /// shutting down.
  template <class R, class... Args, class... A>
  [[nodiscard]] Handle<R> start(const Workflow<R, Args...>& wf, const StartOptions& options, A&&... args) {
    Json inputs = Json::array({to_json_value<Args>(Args(std::forward<A>(args)))...});
    return Handle<R>(*this, start_erased(wf.name(), options, std::move(inputs)));
  }

  /// Enqueues the workflow in a queue registered here (see keel/queue.hpp).
  /// Throws UnknownQueueError, UnknownWorkflowError, UsageError (bad
  /// options), DeduplicatedError; WorkflowConflictError as start().
  template <class R, class... Args, class... A>
  [[nodiscard]] Handle<R> enqueue(const Workflow<R, Args...>& wf, const std::string& queue_name, const EnqueueOptions& options,
                    A&&... args) {
    Json inputs = Json::array({to_json_value<Args>(Args(std::forward<A>(args)))...});
    return Handle<R>(*this, enqueue_erased(wf.name(), queue_name, options, std::move(inputs)));
  }

  /// Records a call of the burst options.key (keel/debounce.hpp): the burst
  /// starts (or enqueues) `wf` once, with the last call's `args`, when no call
  /// came for options.window (or options.max_wait after its first call).
  /// Returns a handle to the burst's target workflow: the same for every call
  /// of a burst. Throws UsageError (bad options, a partitioned queue),
  /// UnknownWorkflowError, UnknownQueueError, WorkflowConflictError (the
  /// key's burst is of another workflow), RuntimeStateError unless launched.
  template <class R, class... Args, class... A>
  [[nodiscard]] Handle<R> debounce(const Workflow<R, Args...>& wf, const DebounceOptions& options, A&&... args) {
    Json inputs = Json::array({to_json_value<Args>(Args(std::forward<A>(args)))...});
    return Handle<R>(*this, debounce_erased(wf.name(), options, std::move(inputs)));
  }

  /// A handle to an existing workflow; throws WorkflowNotFoundError.
  template <class R = Json>
  [[nodiscard]] Handle<R> retrieve(const std::string& workflow_id) {
    (void)detail::describe_workflow(*this, workflow_id);
    return Handle<R>(*this, workflow_id);
  }

  // send<T>, get_event<T>, read_stream<T> and stream_reader<T> come from detail::TypedMessaging
  // (keel/messaging.hpp), shared with Client.

  /// Cancel: a PENDING or ENQUEUED workflow becomes CANCELLED; a running one
  /// stops at its next operation. Returns false when it was already terminal.
  [[nodiscard]] bool cancel(const std::string& workflow_id);
  /// Resume: a CANCELLED or dead-lettered workflow becomes PENDING again and
  /// runs in this process from its last checkpoint. A workflow of a queue goes
  /// back to its queue instead (ENQUEUED; keel/queue.hpp). One recorded by
  /// another application version becomes PENDING under no executor, for an
  /// executor of its version to claim (docs/upgrades.md). Returns false otherwise.
  [[nodiscard]] bool resume(const std::string& workflow_id);

  /// Fork: a new workflow of the same name and inputs that keeps the
  /// original's recorded outcomes before options.start_step and runs from
  /// there (keel/workflow.hpp, ForkOptions; docs/operations.md). It runs in
  /// this process when this launched Runtime is of the fork's version and
  /// registers its name; otherwise it waits, PENDING under no executor, for
  /// an executor of its version to claim it (within a heartbeat). Returns the
  /// fork's ID. Throws WorkflowNotFoundError, WorkflowConflictError (the new
  /// ID exists), UsageError (a negative start step or one past the last
  /// recorded position plus one, the original's own ID).
  std::string fork_workflow(const std::string& workflow_id, const ForkOptions& options = {});
  /// Restart: fork_workflow from the beginning (no record kept), as
  /// new_workflow_id (empty: a fresh UUID).
  std::string restart_workflow(const std::string& workflow_id, const std::string& new_workflow_id = "");

  /// Deletes a finished workflow and everything recorded for it (its
  /// operations, events, the messages sent to it); its ID may then be used
  /// again. Throws WorkflowNotFoundError, WorkflowConflictError when it is
  /// not finished (cancel it first).
  void delete_workflow(const std::string& workflow_id);
  /// cancel for every workflow `filter` matches (keel/bulk.hpp).
  BulkResult cancel_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options = {});
  /// resume for every workflow `filter` matches (keel/bulk.hpp).
  BulkResult resume_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options = {});
  /// delete_workflow for every finished workflow `filter` matches
  /// (keel/bulk.hpp); a page at a time, one commit per page. Throws
  /// UsageError when filter.statuses names a status that is not finished.
  BulkResult delete_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options = {});

  /// The workflow's row, or nullopt when no workflow has this ID.
  std::optional<WorkflowInfo> get_workflow(const std::string& workflow_id);
  /// The first page of list_workflows_page(query): the workflows that match,
  /// in its order, at most query.limit. Throws UsageError for a limit outside
  /// 1..kMaxListLimit or a cursor no page of this order returned.
  std::vector<WorkflowInfo> list_workflows(const ListWorkflowsQuery& query = {});
  /// One page of the workflows that match `query` (keel/status.hpp), with the
  /// cursor of the next page and, when asked, the count of all matches.
  WorkflowPage list_workflows_page(const ListWorkflowsQuery& query);
  /// The workflow's recorded operations in function-id order; empty for an unknown ID.
  std::vector<StepInfo> list_steps(const std::string& workflow_id);
  /// Every event the workflow set (the latest value per key), by key; empty
  /// for an unknown ID.
  std::vector<EventInfo> get_all_events(const std::string& workflow_id);
  /// The messages sent to the workflow, consumed or not, oldest first: at
  /// most `limit` (1..10000; UsageError otherwise) with a message_id above
  /// after_message_id (page on with the last one's). Empty for an unknown ID.
  std::vector<MessageInfo> list_messages(const std::string& workflow_id, int64_t after_message_id = 0,
                                         int limit = 100);
  /// The executors' leases on this database (live and not yet taken over).
  std::vector<ExecutorInfo> list_executors();
  /// The queues registered in this process (register_queue), by name, with
  /// their depth and running counts (keel/queue.hpp, QueueInfo).
  [[nodiscard]] std::vector<QueueInfo> list_queues();

  /// Every schedule stored in the system database (declared by any process),
  /// by name, with its state and next tick.
  [[nodiscard]] std::vector<ScheduleInfo> list_schedules();
  /// Pauses a stored schedule: no tick starts until resume_schedule (in
  /// every process, within a second). Throws UnknownScheduleError.
  void pause_schedule(const std::string& name);
  /// Resumes a paused schedule; the ticks of the pause do not run (the
  /// missed-tick policy does not apply to them). Throws UnknownScheduleError.
  void resume_schedule(const std::string& name);
  /// Starts the schedule's workflow now, outside its ticks (paused or not),
  /// with ID schedule_workflow_id(name, now, true) and ScheduledTick::manual
  /// set; returns the ID. Throws UnknownScheduleError, UnknownWorkflowError
  /// (its workflow is not registered here), RuntimeStateError.
  [[nodiscard]] std::string trigger_schedule(const std::string& name);
  /// Forgets a stored schedule: for one no process declares any more (it is
  /// listed until deleted). A process that still declares it starts none of
  /// its ticks from then on, and stores it again, with no past ticks due, at
  /// its next launch. Started workflows are kept. Throws UnknownScheduleError.
  void delete_schedule(const std::string& name);

  /// The application's own SQL on the system database, outside any workflow
  /// (migrations, reads for HTTP handlers). run_sql_write is one transaction,
  /// committed when fn returns, rolled back when it throws.
  void run_sql_write(const std::function<void(Sql&)>& fn);
  /// Runs fn in one read-only transaction: all its statements see one snapshot.
  void run_sql_read(const std::function<void(Sql&)>& fn);

  /// The configuration this Runtime was constructed with; callable anywhere,
  /// also inside a transaction body.
  const RuntimeConfig& config() const;

  /// Since when workflows of this process are parked because the system
  /// database's disk is full (the time the first of them parked), or nothing.
  /// Cleared when one of this process's workflows next records its end (a
  /// commit went through). A hint for answers and health checks, not a
  /// guarantee: it does not see other processes, and a disk freed while no
  /// workflow finishes keeps it set until one does. An HTTP handler waiting
  /// on a workflow may answer "storage full, retry later" instead of waiting
  /// on (the shop and the payment service do). Also the gauge
  /// keel_storage_full. Thread-safe; callable before launch (nothing then).
  [[nodiscard]] std::optional<std::chrono::system_clock::time_point> storage_full_since() const;

 private:
  friend class detail::TypedMessaging<Runtime>;
  friend struct detail::RuntimeAccess;  // the engine, for Keel's own tests and benchmarks
  void register_erased(const std::string& name, detail::ErasedWorkflow fn, const std::string& where);
  void stop();  // shutdown() without its misuse check (the destructor's)
  void schedule_erased(const std::string& workflow_name, const ScheduleOptions& options);
  std::string start_erased(const std::string& name, const StartOptions& options, Json inputs);
  std::string enqueue_erased(const std::string& name, const std::string& queue, const EnqueueOptions& options,
                             Json inputs);
  std::string debounce_erased(const std::string& name, const DebounceOptions& options, Json inputs);
  void send_erased(const std::string& dest, const std::string& topic, Json message, const std::string& key);
  std::optional<Json> get_event_erased(const std::string& id, const std::string& key,
                                       std::chrono::milliseconds timeout);
  StreamBatch<Json> read_stream_erased(const std::string& id, const std::string& key, int64_t offset,
                                       std::chrono::milliseconds timeout, int max_values);

  std::unique_ptr<detail::Engine> engine_;
  std::unique_ptr<detail::Queues> queues_;  // after engine_: stopped and destroyed first
  std::unique_ptr<detail::Scheduler> scheduler_;  // after queues_: stopped and destroyed before them
  std::unique_ptr<detail::Debouncer> debouncer_;  // after scheduler_: stopped and destroyed before it
};

}  // namespace keel
