// keel::Runtime: the public face of the engine.
#include "keel/runtime.hpp"

#include <algorithm>

#include "runtime/bulk.hpp"
#include "runtime/engine.hpp"
#include "runtime/inspection.hpp"
#include "runtime/queues.hpp"
#include "runtime/debouncer.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/runtime_access.hpp"
#include "runtime/transaction_body.hpp"

namespace keel {

namespace detail {

void check_arity(const Json& inputs, size_t expected) {
  if (!inputs.is_array() || inputs.size() != expected)
    throw SerializationError("workflow inputs must be a JSON array of " + std::to_string(expected) +
                             " argument(s), got: " + inputs.dump().substr(0, 200));
}

Json await_workflow_result(Runtime& rt, const std::string& id, std::optional<std::chrono::milliseconds> timeout) {
  forbid_in_transaction_body("Handle::result");
  return RuntimeAccess::engine(rt).await_result(id, timeout);
}

WorkflowInfo describe_workflow(Runtime& rt, const std::string& id) {
  forbid_in_transaction_body("Handle::info");
  auto info = rt.get_workflow(id);
  if (!info) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  return *info;
}

}  // namespace detail

std::string detail::RuntimeAccess::metrics_text(Runtime& rt) {
  return rt.engine_->metrics_text(rt.queues_->names());
}

namespace {
using detail::forbid_in_transaction_body;
}  // namespace

Runtime::Runtime(RuntimeConfig config)
    : engine_(std::make_unique<detail::Engine>(std::move(config), *this)),
      queues_(std::make_unique<detail::Queues>(*engine_)),
      scheduler_(std::make_unique<detail::Scheduler>(*engine_)),
      debouncer_(std::make_unique<detail::Debouncer>(*engine_)) {}
Runtime::~Runtime() { stop(); }

void Runtime::register_erased(const std::string& name, detail::ErasedWorkflow fn, const std::string& where) {
  forbid_in_transaction_body("Runtime::register_workflow");
  engine_->register_workflow(name, std::move(fn), where);
}
void Runtime::register_queue(const QueueOptions& options) {
  forbid_in_transaction_body("Runtime::register_queue");
  queues_->add(options);
}
LaunchReport Runtime::launch() {
  forbid_in_transaction_body("Runtime::launch");
  LaunchReport report = engine_->launch([this] { queues_->declare(); });
  queues_->start();
  scheduler_->start();
  debouncer_->start();
  return report;
}
void Runtime::shutdown() {
  forbid_in_transaction_body("Runtime::shutdown");  // it would wait for the body's own thread
  stop();
}
void Runtime::stop() {
  debouncer_->stop();  // no fire may start a workflow the engine would refuse
  scheduler_->stop();  // no tick may start a workflow the engine would refuse
  queues_->stop();  // no dequeue may start a workflow the engine would refuse
  engine_->shutdown();
}
void Runtime::schedule_erased(const std::string& workflow_name, const ScheduleOptions& options) {
  forbid_in_transaction_body("Runtime::schedule");
  scheduler_->add(workflow_name, options);
}
std::vector<ScheduleInfo> Runtime::list_schedules() {
  forbid_in_transaction_body("Runtime::list_schedules");
  return scheduler_->list();
}
void Runtime::pause_schedule(const std::string& name) {
  forbid_in_transaction_body("Runtime::pause_schedule");
  scheduler_->set_paused(name, true);
}
void Runtime::resume_schedule(const std::string& name) {
  forbid_in_transaction_body("Runtime::resume_schedule");
  scheduler_->set_paused(name, false);
}
void Runtime::delete_schedule(const std::string& name) {
  forbid_in_transaction_body("Runtime::delete_schedule");
  scheduler_->remove(name);
}
std::string Runtime::trigger_schedule(const std::string& name) {
  forbid_in_transaction_body("Runtime::trigger_schedule");
  return scheduler_->trigger(name);
}
std::string Runtime::fork_workflow(const std::string& id, const ForkOptions& options) {
  forbid_in_transaction_body("Runtime::fork_workflow");
  return engine_->fork(id, options);
}
std::string Runtime::restart_workflow(const std::string& id, const std::string& new_workflow_id) {
  forbid_in_transaction_body("Runtime::restart_workflow");
  return engine_->fork(id, ForkOptions{.workflow_id = new_workflow_id});
}
std::string Runtime::enqueue_erased(const std::string& name, const std::string& queue, const EnqueueOptions& options,
                                    Json inputs) {
  forbid_in_transaction_body("Runtime::enqueue");
  return queues_->enqueue(name, queue, options, std::move(inputs));
}

std::string Runtime::debounce_erased(const std::string& name, const DebounceOptions& options, Json inputs) {
  forbid_in_transaction_body("Runtime::debounce");
  validate(options);
  if (!options.queue.empty()) {
    bool found = false;
    for (const auto& q : queues_->declarations()) {
      if (q.name != options.queue) continue;
      found = true;
      if (q.partitioned)
        throw UsageError("Runtime::debounce: queue '" + q.name + "' is partitioned (a burst has no partition key)");
    }
    if (!found) throw UnknownQueueError("no queue named '" + options.queue + "' is registered in this process");
  }
  return debouncer_->call(name, options, std::move(inputs));
}

std::string Runtime::start_erased(const std::string& name, const StartOptions& options, Json inputs) {
  forbid_in_transaction_body("Runtime::start");
  return engine_->start(name, options, std::move(inputs));
}
void Runtime::send_erased(const std::string& dest, const std::string& topic, Json message, const std::string& key) {
  forbid_in_transaction_body("Runtime::send");
  engine_->send(dest, topic, message, key);
}
std::optional<Json> Runtime::get_event_erased(const std::string& id, const std::string& key,
                                              std::chrono::milliseconds timeout) {
  forbid_in_transaction_body("Runtime::get_event");
  return engine_->get_event(id, key, timeout);
}

StreamBatch<Json> Runtime::read_stream_erased(const std::string& id, const std::string& key, int64_t offset,
                                              std::chrono::milliseconds timeout, int max_values) {
  forbid_in_transaction_body("Runtime::read_stream");
  return engine_->read_stream(id, key, offset, timeout, max_values);
}

bool Runtime::cancel(const std::string& id) {
  forbid_in_transaction_body("Runtime::cancel");
  return engine_->cancel(id);
}
bool Runtime::resume(const std::string& id) {
  forbid_in_transaction_body("Runtime::resume");
  return engine_->resume(id);
}

std::optional<WorkflowInfo> Runtime::get_workflow(const std::string& id) {
  forbid_in_transaction_body("Runtime::get_workflow");
  return engine_->db().get_workflow(id);
}
std::vector<WorkflowInfo> Runtime::list_workflows(const ListWorkflowsQuery& query) {
  forbid_in_transaction_body("Runtime::list_workflows");
  return engine_->db().list_workflows(query).workflows;
}

WorkflowPage Runtime::list_workflows_page(const ListWorkflowsQuery& query) {
  forbid_in_transaction_body("Runtime::list_workflows_page");
  return engine_->db().list_workflows(query);
}
void Runtime::delete_workflow(const std::string& id) {
  forbid_in_transaction_body("Runtime::delete_workflow");
  engine_->wait_until_gone(id);  // a cancelled execution still unwinding here: let it leave first
  detail::delete_finished_workflow(engine_->db(), id);
  engine_->forget_outcome(id);
}

BulkResult Runtime::cancel_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options) {
  forbid_in_transaction_body("Runtime::cancel_workflows");
  return detail::run_bulk(engine_->db(), filter, options, detail::each([&](const std::string& id) { return cancel(id); }));
}

BulkResult Runtime::resume_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options) {
  forbid_in_transaction_body("Runtime::resume_workflows");
  return detail::run_bulk(engine_->db(), filter, options, detail::each([&](const std::string& id) { return resume(id); }));
}

BulkResult Runtime::delete_workflows(const ListWorkflowsQuery& filter, const BulkOptions& options) {
  forbid_in_transaction_body("Runtime::delete_workflows");
  return detail::run_bulk(engine_->db(), detail::finished_only(filter), options,
                          [&](const std::vector<WorkflowInfo>& page, BulkResult&) {
                            // Finished: at most unwinding here; let them leave first.
                            for (const auto& w : page) engine_->wait_until_gone(w.id);
                            return detail::delete_page(engine_->db(), page,
                                                       [&](const std::string& id) { engine_->forget_outcome(id); });
                          });
}

std::vector<ExecutorInfo> Runtime::list_executors() {
  forbid_in_transaction_body("Runtime::list_executors");
  return engine_->db().list_executors();
}
std::vector<QueueInfo> Runtime::list_queues() {
  forbid_in_transaction_body("Runtime::list_queues");
  std::vector<QueueOptions> declared = queues_->declarations();
  std::vector<std::string> names;
  for (const auto& q : declared) names.push_back(q.name);
  // The stored declarations (what every dequeuer enforces; another process
  // may have updated one since this launch).
  auto stored = engine_->db().stored_queues(names);
  for (auto& q : declared)
    if (auto it = stored.find(q.name); it != stored.end()) q = detail::options_of(it->second);
  auto counts = engine_->db().queue_counts(names);
  std::vector<QueueInfo> out;
  for (auto& q : declared) {
    const sysdb::QueueCounts c = counts[q.name];
    out.push_back(QueueInfo{.options = std::move(q), .enqueued = c.enqueued, .running = c.pending});
  }
  std::sort(out.begin(), out.end(),
            [](const QueueInfo& a, const QueueInfo& b) { return a.options.name < b.options.name; });
  return out;
}
std::vector<StepInfo> Runtime::list_steps(const std::string& id) {
  forbid_in_transaction_body("Runtime::list_steps");
  return detail::steps_of(engine_->db(), id);
}

std::vector<EventInfo> Runtime::get_all_events(const std::string& id) {
  forbid_in_transaction_body("Runtime::get_all_events");
  return detail::all_events(engine_->db(), id);
}
std::vector<MessageInfo> Runtime::list_messages(const std::string& id, int64_t after_message_id, int limit) {
  forbid_in_transaction_body("Runtime::list_messages");
  return detail::messages_of(engine_->db(), id, after_message_id, limit);
}

void Runtime::run_sql_write(const std::function<void(Sql&)>& fn) {
  forbid_in_transaction_body("Runtime::run_sql_write");
  engine_->db().run_sql_write(fn);
}
void Runtime::run_sql_read(const std::function<void(Sql&)>& fn) {
  forbid_in_transaction_body("Runtime::run_sql_read");
  engine_->db().run_sql_read(fn);
}
const RuntimeConfig& Runtime::config() const { return engine_->config(); }

std::optional<std::chrono::system_clock::time_point> Runtime::storage_full_since() const {
  const int64_t ms = engine_->storage_full_since_ms();
  if (ms == 0) return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace keel
