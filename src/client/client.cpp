// keel::Client: the system database seam without an engine (no registry, no
// recovery, no dequeuer, no thread). Waits poll; their wake-up keys are the
// engine's, so the database's wake-up sink (LISTEN/NOTIFY on PostgreSQL)
// feeds `notifier` and ends them early.
#include "keel/client.hpp"

#include <algorithm>

#include "runtime/clock.hpp"
#include "runtime/engine.hpp"
#include "runtime/notifier.hpp"
#include "runtime/queues.hpp"
#include "runtime/results.hpp"
#include "runtime/uuid.hpp"
#include "sysdb/system_database.hpp"

namespace keel {

using detail::Engine;
using detail::Notifier;

struct Client::State {
  ClientConfig config;
  std::unique_ptr<sysdb::SystemDatabase> db;
  Notifier notifier;

  // One bounded sleep of a wait: until notified, the next poll, or `until`.
  void wait_once(Notifier::Waiter& w, std::chrono::steady_clock::time_point until) const {
    w.wait_until(std::min(until, std::chrono::steady_clock::now() + config.poll_interval));
  }
};

namespace {

RuntimeConfig database_config(const ClientConfig& c) {
  RuntimeConfig rc;
  rc.database_url = c.database_url;
  rc.sqlite_synchronous = c.sqlite_synchronous;
  rc.executor_id = c.executor_id;
  rc.application_version = c.application_version;
  rc.poll_interval = c.poll_interval;
  return rc;
}

}  // namespace

Client::Client(ClientConfig config) : state_(std::make_unique<State>()) {
  if (config.poll_interval.count() <= 0) throw ConfigError("poll_interval must be positive");
  if (config.executor_id.empty()) throw ConfigError("executor_id must not be empty");
  state_->db = sysdb::open_system_database(database_config(config));
  state_->db->require_current_schema();  // a client never migrates
  state_->config = std::move(config);
  // Other processes' writes wake the waits at once (PostgreSQL LISTEN/NOTIFY;
  // nothing on SQLite, where waits poll).
  state_->db->set_wakeup_sink([state = state_.get()](const std::string& key) {
    if (key.empty()) {
      state->notifier.wake_all();
    } else {
      state->notifier.notify(key);
    }
  });
}

// The sink goes first: the listener must not reach the notifier as it dies.
Client::~Client() { state_->db->set_wakeup_sink(nullptr); }

std::string Client::enqueue_erased(const std::string& queue, const std::string& name, const EnqueueOptions& options,
                                   Json inputs) {
  if (name.empty()) throw UsageError("a workflow name must not be empty");
  sysdb::QueuedFields fields = detail::queued_fields(queue, options);
  detail::validate_enqueue_options(options);
  const ClientConfig& c = state_->config;
  sysdb::NewWorkflow wf{options.workflow_id.empty() ? detail::new_uuid() : options.workflow_id,
                        name,
                        inputs.dump(),
                        c.executor_id,
                        c.application_version,
                        "",
                        std::nullopt,
                        detail::now_ms()};
  auto result = state_->db->enqueue_workflow(wf, fields);
  if (!result.created && result.existing && result.existing->name != name)
    throw WorkflowConflictError("workflow ID '" + wf.id + "' already belongs to workflow '" + result.existing->name +
                                "', not '" + name + "'");
  return wf.id;
}

void Client::send_erased(const std::string& dest, const std::string& topic, Json message, const std::string& key) {
  state_->db->send_message(dest, topic, message.dump(), key, "", nullptr);
}

std::optional<Json> Client::get_event_erased(const std::string& id, const std::string& key,
                                             std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  Notifier::Waiter w(state_->notifier, Engine::event_key(id, key));
  for (;;) {
    if (auto v = state_->db->get_event(id, key))
      return parse_stored_json(*v, "event '" + key + "' of workflow '" + id + "'");
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    state_->wait_once(w, until);
  }
}

Json Client::await_result(const std::string& id, std::optional<std::chrono::milliseconds> timeout) {
  auto until = timeout ? std::chrono::steady_clock::now() + *timeout : std::chrono::steady_clock::time_point::max();
  Notifier::Waiter w(state_->notifier, Engine::done_key(id));
  for (;;) {
    auto info = state_->db->get_workflow(id);
    if (!info) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
    if (is_terminal(info->status)) return detail::result_of(*info);
    if (std::chrono::steady_clock::now() >= until)
      throw TimeoutError("workflow '" + id + "' did not finish within the timeout");
    state_->wait_once(w, until);
  }
}

std::optional<WorkflowInfo> Client::get_workflow(const std::string& id) { return state_->db->get_workflow(id); }

std::vector<WorkflowInfo> Client::list_workflows(const ListWorkflowsQuery& query) {
  return state_->db->list_workflows(query);
}

bool Client::cancel(const std::string& id) {
  return state_->db->transition(id, {WorkflowStatus::Pending, WorkflowStatus::Enqueued}, WorkflowStatus::Cancelled,
                                detail::now_ms(), false, "");
}

}  // namespace keel
