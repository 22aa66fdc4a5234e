#include "runtime/fork.hpp"

#include <map>

#include "common/clock.hpp"
#include "keel/errors.hpp"
#include "runtime/engine.hpp"
#include "runtime/operations.hpp"
#include "runtime/uuid.hpp"

namespace keel::detail {

namespace {

void validate(const std::string& id, const ForkOptions& o) {
  if (id.empty()) throw UsageError("fork_workflow: the workflow ID must not be empty");
  if (o.start_step < 0) throw UsageError("ForkOptions::start_step must not be negative");
  if (!o.workflow_id.empty() && o.workflow_id == id)
    throw UsageError("ForkOptions::workflow_id must differ from the original's ID '" + id + "'");
}

// The events the kept records set, the latest value per key.
std::vector<std::pair<std::string, std::string>> events_of(const std::vector<sysdb::OperationRecord>& kept) {
  std::map<std::string, std::string> latest;
  for (const auto& op : kept)
    if (auto kv = event_set_by(op)) latest[kv->first] = kv->second;
  return {latest.begin(), latest.end()};
}

// The original's records before start_step, by position; UsageError when
// start_step is past its last record plus one.
std::vector<sysdb::OperationRecord> records_to_keep(sysdb::SystemDatabase& db, const std::string& id, int start_step) {
  std::vector<sysdb::OperationRecord> kept = db.load_operations(id);  // by position
  const int last = kept.empty() ? 0 : kept.back().function_id;
  if (start_step > last + 1)
    throw UsageError("cannot fork workflow '" + id + "' at step " + std::to_string(start_step) +
                     ": its last recorded step is " + std::to_string(last) + ", so the start step is at most " +
                     std::to_string(last + 1));
  // A later run (ctx.continue_as_new) holds no record before its marker.
  if (!kept.empty() && kept.front().name == kContinueAsNew && start_step > 1 &&
      start_step <= kept.front().function_id)
    throw UsageError("cannot fork workflow '" + id + "' at step " + std::to_string(start_step) +
                     ": its current run began with continue_as_new at step " +
                     std::to_string(kept.front().function_id) + ", so the start step is 0 or after it");
  std::erase_if(kept, [&](const sysdb::OperationRecord& op) { return op.function_id >= start_step; });
  // A wait that runs again waits anew: its deadline, recorded just before
  // it, is not kept (it has passed, or would cut the new wait short).
  if (!kept.empty() && kept.back().name == kDeadline) kept.pop_back();
  return kept;
}

}  // namespace

WorkflowInfo fork_workflow(sysdb::SystemDatabase& db, const std::string& id, const ForkOptions& options,
                           const std::function<std::optional<ForkRunner>(const WorkflowInfo& original)>& runner) {
  validate(id, options);
  auto original = db.get_workflow(id);
  if (!original) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  std::vector<sysdb::OperationRecord> kept = records_to_keep(db, id, options.start_step);
  WorkflowInfo fork;
  fork.id = options.workflow_id.empty() ? new_uuid() : options.workflow_id;
  fork.name = original->name;
  fork.inputs = original->inputs;
  fork.status = WorkflowStatus::Pending;
  fork.application_version =
      options.application_version.empty() ? original->application_version : options.application_version;
  auto here = runner(*original);
  if (here && here->registers && here->application_version == fork.application_version)
    fork.executor_id = here->executor_id;
  sysdb::NewWorkflow wf{fork.id, fork.name,  fork.inputs.dump(), fork.executor_id, fork.application_version, "",
                        std::nullopt, now_ms()};
  auto result = db.insert_forked(wf, kept, events_of(kept));
  if (!result.created)
    throw WorkflowConflictError("cannot fork workflow '" + id + "' as '" + fork.id +
                                "': a workflow with that ID exists");
  fork.created_at_ms = fork.updated_at_ms = wf.now_ms;
  return fork;
}

std::string Engine::fork(const std::string& id, const ForkOptions& options) {
  auto fork = fork_workflow(*db_, id, options, [this](const WorkflowInfo& original) -> std::optional<ForkRunner> {
    if (!launched_.load() || stopping()) return std::nullopt;  // released: a live executor claims it
    return ForkRunner{config_.executor_id, config_.application_version, find_registered(original.name).has_value()};
  });
  count_started(fork.name);
  if (fork.executor_id == config_.executor_id) ensure_running(fork);
  return fork.id;
}

}  // namespace keel::detail
