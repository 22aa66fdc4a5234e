/// @file
/// keel/client.hpp — a client of a Keel system database, for a process that
/// runs no workflows: it enqueues them, sends them messages, reads their
/// events, status and results.
///
/// Contract:
///  * A Client opens the database named by its URL but does not migrate it,
///    recover anything or dequeue, and runs no thread of its own except, on
///    PostgreSQL, one LISTEN connection's (wake-ups): the schema must already be
///    at this build's version (a Runtime of this version has launched on it),
///    else the constructor throws IncompatibleDatabaseError. Bad URL:
///    ConfigError; unreachable database: DatabaseError.
///  * enqueue records the workflow as ENQUEUED in the named queue (see
///    keel/queue.hpp); a Runtime that registered that queue and that workflow
///    name runs it. A queue no process registers leaves the workflow
///    ENQUEUED, and a priority on a queue without priorities is ignored. The
///    partition key is checked against the queue's stored declaration, when
///    one is stored (UsageError: missing in a partitioned queue, given to a
///    plain one). The arguments are converted to JSON
///    as Runtime::start does; they must match the workflow's parameters
///    (checked when it runs: a mismatch ends it in ERROR). Same idempotency
///    (workflow ID), deduplication (DeduplicatedError) and bad-input errors
///    (UsageError) as Runtime::enqueue.
///  * send, get_event, read_stream, stream_reader, get_workflow, cancel,
///    and list/pause/resume/delete_schedule behave as the Runtime's methods
///    (keel/stream.hpp for the streams, keel/schedule.hpp for schedules).
///  * Waits (ClientHandle::result, get_event, read_stream) re-read the database every
///    poll_interval; on PostgreSQL a NOTIFY from the writer ends them sooner.
///  * debounce records a call of a burst as Runtime::debounce does
///    (keel/debounce.hpp); a Client fires nothing: a launched Runtime that
///    registers the workflow fires the burst. The workflow name and the queue
///    are not checked (the queue's stored declaration is, when one is
///    stored: a partitioned queue is UsageError).
///  * Called inside a transaction body (Context::transaction), every method
///    throws UsageError at once, as the Runtime's do.
///
/// Thread-safety: all methods are thread-safe. A ClientHandle stays valid as
/// long as the Client that made it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keel/bulk.hpp"
#include "keel/config.hpp"
#include "keel/debounce.hpp"
#include "keel/errors.hpp"
#include "keel/messaging.hpp"
#include "keel/queue.hpp"
#include "keel/schedule.hpp"
#include "keel/serialization.hpp"
#include "keel/status.hpp"
#include "keel/workflow.hpp"

namespace keel {

/// How a Client is configured.
struct ClientConfig {
  /// The system database, as RuntimeConfig::database_url.
  std::string database_url;
  /// Waits re-read the database at least this often (keel/client.hpp).
  std::chrono::milliseconds poll_interval{200};
  /// As RuntimeConfig::sqlite_synchronous, for this client's writes.
  SqliteSync sqlite_synchronous = SqliteSync::Full;
  /// The application version of the workflows this client enqueues: only an
  /// executor of that version dequeues them. Empty (the default): any
  /// executor may, and the workflow takes that executor's version.
  std::string application_version;
  /// Recorded as the executor of enqueued workflows until one dequeues them.
  std::string executor_id = "client";
};

/// Throws ConfigError naming the first invalid value (a bad URL, a poll
/// interval that is not positive, an empty executor id).
void validate(const ClientConfig& config);

class Client;

/// A handle to a workflow, through a Client (Client::enqueue, Client::retrieve):
/// the Handle of a process that runs no workflows. R is the type result() decodes.
template <class R>
class ClientHandle {
 public:
  /// Names the workflow `id`; checks nothing (Client::retrieve does).
  ClientHandle(Client& client, std::string id) : client_(&client), id_(std::move(id)) {}
  /// The workflow ID this handle names.
  const std::string& id() const { return id_; }
  /// The workflow's status now; throws WorkflowNotFoundError when it does not exist.
  WorkflowStatus status() const { return info().status; }
  /// The workflow's row now; throws WorkflowNotFoundError when it does not exist.
  WorkflowInfo info() const;
  /// As Handle::result / result_for (keel/handle.hpp).
  R result() const { return decode(wait(std::nullopt)); }
  /// As Handle::result_for: throws TimeoutError when `timeout` passes first.
  R result_for(std::chrono::milliseconds timeout) const { return decode(wait(timeout)); }

 private:
  Json wait(std::optional<std::chrono::milliseconds> timeout) const;
  static R decode(const Json& j) {
    if constexpr (std::is_void_v<R>) {
      (void)j;
    } else {
      return from_json_value<R>(j);
    }
  }
  Client* client_;
  std::string id_;
};

/// A client of a Keel system database for a process that runs no workflows
/// (the contract of keel/client.hpp).
class Client : public detail::TypedMessaging<Client> {
 public:
  /// Opens the database named by config.database_url, which must be migrated
  /// already; throws ConfigError, DatabaseError or IncompatibleDatabaseError.
  explicit Client(ClientConfig config);
  /// The same, with every other setting at its default.
  explicit Client(std::string database_url) : Client(ClientConfig{std::move(database_url)}) {}
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Enqueues the workflow registered (in some Runtime) as workflow_name.
  /// R is the result type the handle decodes (Json by default).
  template <class R = Json, class... A>
  [[nodiscard]] ClientHandle<R> enqueue(const std::string& queue, const std::string& workflow_name, const EnqueueOptions& options,
                          A&&... args) {
    Json inputs = Json::array();
    (inputs.push_back(to_json_value(args)), ...);
    return ClientHandle<R>(*this, enqueue_erased(queue, workflow_name, options, std::move(inputs)));
  }
  /// The same with a typed name (keel::Workflow<R, Args...>{"name"}): the
  /// arguments are converted to the declared parameter types.
  template <class R, class... Args, class... A>
  [[nodiscard]] ClientHandle<R> enqueue(const std::string& queue, const Workflow<R, Args...>& wf, const EnqueueOptions& options,
                          A&&... args) {
    Json inputs = Json::array({to_json_value<Args>(Args(std::forward<A>(args)))...});
    return ClientHandle<R>(*this, enqueue_erased(queue, wf.name(), options, std::move(inputs)));
  }

  /// Records a call of the burst options.key of the workflow registered (in
  /// some Runtime) as wf's name (keel/debounce.hpp): the burst starts it once,
  /// with the last call's arguments, fired by a launched Runtime that
  /// registers it. Returns a handle to the burst's target. Throws UsageError
  /// (bad options, a partitioned queue), WorkflowConflictError (the key's
  /// burst is of another workflow).
  template <class R, class... Args, class... A>
  [[nodiscard]] ClientHandle<R> debounce(const Workflow<R, Args...>& wf, const DebounceOptions& options, A&&... args) {
    Json inputs = Json::array({to_json_value<Args>(Args(std::forward<A>(args)))...});
    return ClientHandle<R>(*this, debounce_erased(wf.name(), options, std::move(inputs)));
  }

  /// A handle to an existing workflow; throws WorkflowNotFoundError.
  template <class R = Json>
  [[nodiscard]] ClientHandle<R> retrieve(const std::string& workflow_id) {
    if (!get_workflow(workflow_id)) throw WorkflowNotFoundError("no workflow with ID '" + workflow_id + "'");
    return ClientHandle<R>(*this, workflow_id);
  }

  // send<T>, get_event<T>, read_stream<T> and stream_reader<T> come from detail::TypedMessaging
  // (keel/messaging.hpp), shared with Runtime.

  /// The workflow's row, or nullopt when no workflow has this ID.
  std::optional<WorkflowInfo> get_workflow(const std::string& workflow_id);
  /// As Runtime::list_workflows.
  std::vector<WorkflowInfo> list_workflows(const ListWorkflowsQuery& query = {});
  /// As Runtime::list_workflows_page.
  WorkflowPage list_workflows_page(const ListWorkflowsQuery& query);
  /// As Runtime::cancel; a workflow running in another process stops at its
  /// next operation.
  [[nodiscard]] bool cancel(const std::string& workflow_id);
  /// As Runtime::list_steps.
  std::vector<StepInfo> list_steps(const std::string& workflow_id);
  /// As Runtime::get_all_events.
  std::vector<EventInfo> get_all_events(const std::string& workflow_id);
  /// As Runtime::list_messages.
  std::vector<MessageInfo> list_messages(const std::string& workflow_id, int64_t after_message_id = 0,
                                         int limit = 100);
  /// As Runtime::fork_workflow; the fork waits, PENDING under no executor,
  /// for an executor of its version to claim it (within a heartbeat).
  std::string fork_workflow(const std::string& workflow_id, const ForkOptions& options = {});
  /// As Runtime::restart_workflow.
  std::string restart_workflow(const std::string& workflow_id, const std::string& new_workflow_id = "");
  /// Resume without running it here (a Client runs no workflow): a
  /// CANCELLED or dead-lettered workflow becomes PENDING under no executor,
  /// for an executor of its version to claim (within a heartbeat), or goes
  /// back to its queue. Returns false when it was in neither status. Throws
  /// WorkflowNotFoundError, DeduplicatedError.
  [[nodiscard]] bool resume(const std::string& workflow_id);
  /// As Runtime::delete_workflow.
  void delete_workflow(const std::string& workflow_id);
  /// As Runtime::cancel_workflows.
  BulkResult cancel_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options = {});
  /// resume (this Client's: released, not run here) for every match.
  BulkResult resume_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options = {});
  /// As Runtime::delete_workflows.
  BulkResult delete_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options = {});

  /// As Runtime::list_schedules: every schedule stored in the database.
  [[nodiscard]] std::vector<ScheduleInfo> list_schedules();
  /// As Runtime::pause_schedule (every process's scheduler sees it within a
  /// second). Throws UnknownScheduleError.
  void pause_schedule(const std::string& name);
  /// As Runtime::resume_schedule. Throws UnknownScheduleError.
  void resume_schedule(const std::string& name);
  /// As Runtime::delete_schedule. Throws UnknownScheduleError.
  void delete_schedule(const std::string& name);
  // No trigger_schedule: a manual run starts the schedule's workflow now,
  // which only a Runtime does (a Client enqueues).

  /// Waits for the workflow to be terminal and returns its output as JSON (or
  /// throws its error, as Handle::result); TimeoutError when timeout passes.
  Json await_result(const std::string& workflow_id, std::optional<std::chrono::milliseconds> timeout);

 private:
  friend class detail::TypedMessaging<Client>;
  struct State;
  std::string enqueue_erased(const std::string& queue, const std::string& name, const EnqueueOptions& options,
                             Json inputs);
  std::string debounce_erased(const std::string& name, const DebounceOptions& options, Json inputs);
  void send_erased(const std::string& dest, const std::string& topic, Json message, const std::string& key);
  std::optional<Json> get_event_erased(const std::string& id, const std::string& key,
                                       std::chrono::milliseconds timeout);
  StreamBatch<Json> read_stream_erased(const std::string& id, const std::string& key, int64_t offset,
                                       std::chrono::milliseconds timeout, int max_values);
  std::unique_ptr<State> state_;
};

template <class R>
WorkflowInfo ClientHandle<R>::info() const {
  auto i = client_->get_workflow(id_);
  if (!i) throw WorkflowNotFoundError("no workflow with ID '" + id_ + "'");
  return *i;
}

template <class R>
Json ClientHandle<R>::wait(std::optional<std::chrono::milliseconds> timeout) const {
  return client_->await_result(id_, timeout);
}

}  // namespace keel
