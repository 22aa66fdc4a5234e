// keel::Client: the system database seam without an engine (no registry, no
// recovery, no dequeuer, no thread). Waits poll; their wake-up keys are the
// engine's (common/wake_key.hpp), so the database's wake-up sink
// (LISTEN/NOTIFY on PostgreSQL) feeds `notifier` and ends them early.
#include "keel/client.hpp"

#include <algorithm>

#include "common/clock.hpp"
#include "common/wake_key.hpp"
#include "runtime/bulk.hpp"
#include "runtime/fork.hpp"
#include "runtime/inspection.hpp"
#include "runtime/notifier.hpp"
#include "runtime/queues.hpp"
#include "runtime/results.hpp"
#include "runtime/streams.hpp"
#include "runtime/transaction_body.hpp"
#include "runtime/uuid.hpp"
#include "schedule/stored_schedules.hpp"
#include "sysdb/system_database.hpp"

namespace keel {

using detail::forbid_in_transaction_body;
using detail::Notifier;
using detail::WakeKey;

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
  rc.poll_interval = c.poll_interval;
  return rc;
}

}  // namespace

Client::Client(ClientConfig config) : state_(std::make_unique<State>()) {
  validate(config);
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
  forbid_in_transaction_body("Client::enqueue");
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

std::string Client::debounce_erased(const std::string& name, const DebounceOptions& options, Json inputs) {
  forbid_in_transaction_body("Client::debounce");
  if (name.empty()) throw UsageError("a workflow name must not be empty");
  validate(options);
  if (!options.queue.empty()) {
    auto stored = state_->db->stored_queues({options.queue});
    if (auto it = stored.find(options.queue); it != stored.end() && it->second.partitioned)
      throw UsageError("Client::debounce: queue '" + options.queue + "' is partitioned (a burst has no partition key)");
  }
  sysdb::DebounceCall call{options.key,
                           name,
                           inputs.dump(),
                           options.queue,
                           options.workflow_id.empty() ? detail::new_uuid() : options.workflow_id,
                           detail::now_ms(),
                           options.window.count(),
                           std::nullopt};
  if (options.max_wait) call.max_wait_ms = options.max_wait->count();
  return state_->db->debounce(call);
}

void Client::send_erased(const std::string& dest, const std::string& topic, Json message, const std::string& key) {
  forbid_in_transaction_body("Client::send");
  (void)state_->db->send_message(dest, topic, message.dump(), key, "", nullptr);
}

std::optional<Json> Client::get_event_erased(const std::string& id, const std::string& key,
                                             std::chrono::milliseconds timeout) {
  forbid_in_transaction_body("Client::get_event");
  auto until = std::chrono::steady_clock::now() + timeout;
  Notifier::Waiter w(state_->notifier, WakeKey::event(id, key));
  for (;;) {
    if (auto v = state_->db->get_event(id, key))
      return parse_stored_json(*v, "event '" + key + "' of workflow '" + id + "'");
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    state_->wait_once(w, until);
  }
}

StreamBatch<Json> Client::read_stream_erased(const std::string& id, const std::string& key, int64_t offset,
                                             std::chrono::milliseconds timeout, int max_values) {
  forbid_in_transaction_body("Client::read_stream");
  detail::check_stream_read(key, offset, max_values);
  return detail::read_stream_waiting([&] { return state_->db->read_stream(id, key, offset, max_values); },
                                     state_->notifier, id, key, offset, timeout,
                                     [&](Notifier::Waiter& w, auto until) { state_->wait_once(w, until); });
}

Json Client::await_result(const std::string& id, std::optional<std::chrono::milliseconds> timeout) {
  forbid_in_transaction_body("Client::await_result");
  auto until = timeout ? std::chrono::steady_clock::now() + *timeout : std::chrono::steady_clock::time_point::max();
  Notifier::Waiter w(state_->notifier, WakeKey::done(id));
  for (;;) {
    auto info = state_->db->get_workflow(id);
    // A debounced burst's target exists once the burst fired (Engine::await_result).
    if (!info && !state_->db->debounce_targets(id)) {
      info = state_->db->get_workflow(id);
      if (!info) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
    }
    if (info && is_terminal(info->status)) return detail::result_of(*info);
    if (std::chrono::steady_clock::now() >= until)
      throw TimeoutError("workflow '" + id + "' did not finish within the timeout");
    state_->wait_once(w, until);
  }
}

std::optional<WorkflowInfo> Client::get_workflow(const std::string& id) {
  forbid_in_transaction_body("Client::get_workflow");
  return state_->db->get_workflow(id);
}

std::vector<WorkflowInfo> Client::list_workflows(const ListWorkflowsQuery& query) {
  forbid_in_transaction_body("Client::list_workflows");
  return state_->db->list_workflows(query).workflows;
}

WorkflowPage Client::list_workflows_page(const ListWorkflowsQuery& query) {
  forbid_in_transaction_body("Client::list_workflows_page");
  return state_->db->list_workflows(query);
}

bool Client::cancel(const std::string& id) {
  forbid_in_transaction_body("Client::cancel");
  return state_->db->transition(id, {WorkflowStatus::Pending, WorkflowStatus::Enqueued}, WorkflowStatus::Cancelled,
                                detail::now_ms(), false, std::nullopt);
}

bool Client::resume(const std::string& id) {
  forbid_in_transaction_body("Client::resume");
  auto before = state_->db->get_workflow(id);
  if (!before) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  return detail::release_for_resume(*state_->db, *before, detail::now_ms());
}

void Client::delete_workflow(const std::string& id) {
  forbid_in_transaction_body("Client::delete_workflow");
  detail::delete_finished_workflow(*state_->db, id);
}

BulkResult Client::cancel_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options) {
  forbid_in_transaction_body("Client::cancel_workflows");
  return detail::run_bulk(*state_->db, filter, options, detail::each([&](const std::string& id) { return cancel(id); }));
}

BulkResult Client::resume_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options) {
  forbid_in_transaction_body("Client::resume_workflows");
  return detail::run_bulk(*state_->db, filter, options, detail::each([&](const std::string& id) { return resume(id); }));
}

BulkResult Client::delete_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options) {
  forbid_in_transaction_body("Client::delete_workflows");
  return detail::run_bulk(*state_->db, detail::finished_only(filter), options,
                          [&](const std::vector<WorkflowInfo>& page, BulkResult&) {
                            return detail::delete_page(*state_->db, page);
                          });
}

std::vector<ScheduleInfo> Client::list_schedules() {
  forbid_in_transaction_body("Client::list_schedules");
  return detail::list_stored_schedules(*state_->db);
}

void Client::pause_schedule(const std::string& name) {
  forbid_in_transaction_body("Client::pause_schedule");
  detail::set_stored_schedule_paused(*state_->db, name, true);
}

void Client::resume_schedule(const std::string& name) {
  forbid_in_transaction_body("Client::resume_schedule");
  detail::set_stored_schedule_paused(*state_->db, name, false);
}

void Client::delete_schedule(const std::string& name) {
  forbid_in_transaction_body("Client::delete_schedule");
  detail::delete_stored_schedule(*state_->db, name);
}

std::vector<StepInfo> Client::list_steps(const std::string& id) {
  forbid_in_transaction_body("Client::list_steps");
  return detail::steps_of(*state_->db, id);
}

std::vector<EventInfo> Client::get_all_events(const std::string& id) {
  forbid_in_transaction_body("Client::get_all_events");
  return detail::all_events(*state_->db, id);
}

std::vector<MessageInfo> Client::list_messages(const std::string& id, int64_t after_message_id, int limit) {
  forbid_in_transaction_body("Client::list_messages");
  return detail::messages_of(*state_->db, id, after_message_id, limit);
}

std::string Client::fork_workflow(const std::string& id, const ForkOptions& options) {
  forbid_in_transaction_body("Client::fork_workflow");
  return detail::fork_workflow(*state_->db, id, options, [](const WorkflowInfo&) { return std::nullopt; }).id;
}

std::string Client::restart_workflow(const std::string& id, const std::string& new_workflow_id) {
  forbid_in_transaction_body("Client::restart_workflow");
  return fork_workflow(id, ForkOptions{.workflow_id = new_workflow_id});
}

}  // namespace keel
