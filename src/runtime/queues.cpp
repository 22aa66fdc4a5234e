// Queues: declaration checks, enqueue, and the dequeuer thread.
#include "runtime/queues.hpp"

#include <spdlog/spdlog.h>

#include "keel/errors.hpp"
#include "common/clock.hpp"
#include "common/log_context.hpp"
#include "common/wake_key.hpp"
#include "runtime/engine.hpp"
#include "runtime/execution.hpp"
#include "runtime/operations.hpp"
#include "sysdb/queue_sql.hpp"
#include "runtime/uuid.hpp"

namespace keel::detail {

namespace {

// At most this many workflows per dequeue transaction; a full batch is
// followed at once by another dequeue.
constexpr int kMaxBatch = 100;

std::string limit_text(const std::optional<int>& v) { return v ? std::to_string(*v) : "none"; }

std::string rate_text(const sysdb::QueueSpec& s) {
  return s.rate_limit ? std::to_string(*s.rate_limit) + " per " + std::to_string(s.rate_period_ms) + " ms" : "none";
}

}  // namespace

sysdb::QueueSpec spec_of(const QueueOptions& q) {
  sysdb::QueueSpec s;
  s.name = q.name;
  s.concurrency = q.concurrency;
  s.worker_concurrency = q.worker_concurrency;
  if (q.rate_limit) {
    s.rate_limit = q.rate_limit->limit;
    s.rate_period_ms = q.rate_limit->period.count();
  }
  s.priority_enabled = q.priority_enabled;
  s.partitioned = q.partitioned;
  return s;
}

QueueOptions options_of(const sysdb::QueueSpec& s) {
  QueueOptions q;
  q.name = s.name;
  q.concurrency = s.concurrency;
  q.worker_concurrency = s.worker_concurrency;
  if (s.rate_limit) q.rate_limit = RateLimit{*s.rate_limit, std::chrono::milliseconds(s.rate_period_ms)};
  q.priority_enabled = s.priority_enabled;
  q.partitioned = s.partitioned;
  return q;
}

std::string describe_differences(const sysdb::QueueSpec& mine, const sysdb::QueueSpec& stored) {
  std::string out;
  auto add = [&](const char* field, const std::string& here, const std::string& there) {
    if (here == there) return;
    out += (out.empty() ? "" : "; ") + std::string(field) + " " + here + " here, " + there + " stored";
  };
  auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
  add("concurrency", limit_text(mine.concurrency), limit_text(stored.concurrency));
  add("worker_concurrency", limit_text(mine.worker_concurrency), limit_text(stored.worker_concurrency));
  add("rate_limit", rate_text(mine), rate_text(stored));
  add("priority_enabled", flag(mine.priority_enabled), flag(stored.priority_enabled));
  add("partitioned", flag(mine.partitioned), flag(stored.partitioned));
  return out;
}

void validate_enqueue_options(const EnqueueOptions& o) {
  if (o.priority < 0) throw UsageError("a queue priority must not be negative");
  if (o.timeout && o.timeout->count() <= 0) throw UsageError("a workflow timeout must be positive");
}

sysdb::QueuedFields queued_fields(const std::string& queue, const EnqueueOptions& o) {
  if (queue.empty()) throw UsageError("a queue name must not be empty");
  sysdb::QueuedFields f{queue, o.priority, o.deduplication_id, std::nullopt, o.partition_key};
  if (o.timeout) f.timeout_ms = o.timeout->count();
  return f;
}

void Queues::add(const QueueOptions& options) {
  validate(options);
  if (started_.load()) throw UsageError("register_queue('" + options.name + "') after launch()");
  for (const auto& q : queues_)
    if (q.name == options.name) throw UsageError("queue '" + options.name + "' is registered twice");
  queues_.push_back(options);
}

std::vector<std::string> Queues::names() const {
  std::vector<std::string> out;
  for (const auto& q : queues_) out.push_back(q.name);
  return out;
}

const QueueOptions& Queues::find(const std::string& queue) const {
  for (const auto& q : queues_)
    if (q.name == queue) return q;
  throw UnknownQueueError("queue '" + queue + "' is not registered in this process (Runtime::register_queue)");
}

sysdb::InsertWorkflowResult Queues::enqueue_from(const EnqueueParent& parent, const sysdb::NewWorkflow& wf,
                                                 const sysdb::QueuedFields& fields) {
  auto op = parent.exec.make_op(parent.function_id, enqueue_operation_name(wf.name), wf.now_ms);
  op.child_workflow_id = wf.id;
  try {
    return parent.exec.with_db([&](sysdb::SystemDatabase& db) { return db.enqueue_workflow(wf, fields, &op); });
  } catch (const DeduplicatedError& e) {
    // Recorded, so that a replay throws it again rather than enqueue anew
    // (the holder of the deduplication ID may have finished by then).
    op.child_workflow_id.clear();
    op.error = describe_exception(e);
    auto kept = parent.exec.record(op);
    if (kept.error) throw;
    return sysdb::InsertWorkflowResult{.parent_op_existing = true};  // an earlier attempt's enqueue went in
  }
}

std::string Queues::enqueue(const std::string& name, const std::string& queue, const EnqueueOptions& options,
                            Json inputs, const EnqueueParent* parent) {
  engine_.require_running();
  sysdb::QueuedFields fields = queued_fields(queue, options);
  const QueueOptions& q = find(queue);
  engine_.require_registered(name);
  validate_enqueue_options(options);
  if (options.priority != 0 && !q.priority_enabled)
    throw UsageError("queue '" + queue + "' does not use priorities (QueueOptions::priority_enabled)");
  sysdb::check_partition_key(queue, q.partitioned, options.partition_key);
  const RuntimeConfig& config = engine_.config();
  sysdb::NewWorkflow wf{options.workflow_id.empty() ? new_uuid() : options.workflow_id, name, inputs.dump(),
                        config.executor_id, config.application_version, "", std::nullopt, now_ms()};
  if (parent) {
    if (options.workflow_id.empty()) wf.id = child_workflow_id(parent->exec.id(), parent->function_id);
    wf.parent_id = parent->exec.id();
    // A queue timeout replaces the deadline at dequeue (keel/queue.hpp).
    if (!options.timeout && options.inherit_deadline) wf.deadline_epoch_ms = parent->exec.info().deadline_epoch_ms;
  }
  auto result = parent ? enqueue_from(*parent, wf, fields) : engine_.db().enqueue_workflow(wf, fields);
  if (result.parent_op_existing) return wf.id;
  if (result.created) {
    engine_.forget_outcome(wf.id);  // a new row: an outcome kept for an ID deleted since is not its own
    engine_.count_started(name);
    engine_.notifier().notify(WakeKey::queues());
  } else if (result.existing && result.existing->name != name) {
    throw WorkflowConflictError("workflow ID '" + wf.id + "' already belongs to workflow '" + result.existing->name +
                                "', not '" + name + "'");
  } else if (result.existing) {
    engine_.ensure_running(*result.existing);
  }
  return wf.id;
}

void Queues::declare() {
  for (const auto& q : queues_) {
    const sysdb::QueueSpec mine = spec_of(q);
    const sysdb::QueueSpec stored = engine_.db().declare_queue(mine, q.update_stored);
    if (stored == mine) continue;
    throw ConfigError("queue '" + q.name + "' is declared differently in the system database: " +
                      describe_differences(mine, stored) +
                      " (declare it as stored, or set QueueOptions::update_stored to replace the stored limits)");
  }
}

void Queues::start() {
  std::lock_guard lock(thread_mu_);
  started_.store(true);
  if (queues_.empty() || stopping_.load() || thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void Queues::stop() {
  stopping_.store(true);
  engine_.notifier().notify(WakeKey::queues());
  std::lock_guard lock(thread_mu_);
  if (thread_.joinable()) thread_.join();
}

void Queues::loop() {
  // Registered before the first dequeue: a wake-up between a dequeue and the
  // sleep is not lost (see Notifier).
  Notifier::Waiter wake(engine_.notifier(), WakeKey::queues());
  const std::vector<std::string> names = engine_.registered_names();
  while (!stopping_.load()) {
    bool again = false;
    for (const auto& q : queues_) {
      if (stopping_.load()) break;
      try {
        again = dequeue_once(q, names) || again;
      } catch (const RuntimeStateError&) {
        return;  // superseded (Engine::supersede), or the engine is shutting down
      } catch (const std::exception& e) {
        spdlog::warn("queue '{}': dequeue failed, retried at the next poll: {}", q.name, e.what());
      }
    }
    if (!again && !stopping_.load())
      wake.wait_until(std::chrono::steady_clock::now() + engine_.config().poll_interval);
  }
}

bool Queues::dequeue_once(const QueueOptions& q, const std::vector<std::string>& names) {
  engine_.require_running();  // a superseded process claims nothing: its rows would be nobody's
  sysdb::DequeueRequest request{spec_of(q), engine_.config().executor_id, engine_.config().application_version, names,
                                kMaxBatch};
  auto taken = engine_.db().dequeue(request);
  for (const auto& info : taken) {
    LogContextScope log_context(info.id);  // its lines name it
    try {
      engine_.run_dequeued(info);
    } catch (const std::exception& e) {
      // It stays PENDING under this executor and is recovered at the next launch.
      spdlog::error("dequeued but not started: {}", e.what());
    }
  }
  return static_cast<int>(taken.size()) == kMaxBatch;
}

}  // namespace keel::detail
