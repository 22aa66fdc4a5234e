// Launch: migrate the schema, take this executor's lease, then resume every
// PENDING workflow of this executor from its checkpoints. recover() is also
// how a takeover (executor_lease.cpp) runs the workflows it claimed.
#include <spdlog/spdlog.h>

#include <map>

#include "common/clock.hpp"
#include "common/log_context.hpp"
#include "runtime/engine.hpp"
#include "runtime/execution.hpp"
#include "runtime/executor_lease.hpp"
#include "runtime/retention.hpp"

namespace keel::detail {

LaunchReport Engine::launch(const std::function<void()>& after_migrate) {
  if (launched_.load()) throw RuntimeStateError("launch() called twice");
  db_->migrate();
  if (after_migrate) after_migrate();
  if (config_.executor_lease) lease_ = std::make_unique<ExecutorLease>(*this);  // may throw ConfigError
  // Wake-ups from other processes' writes (PostgreSQL: LISTEN/NOTIFY);
  // stopped by shutdown(), before the notifier goes away.
  db_->set_wakeup_sink([this](const std::string& key) {
    if (key.empty()) {
      notifier_.wake_all();
    } else {
      notifier_.notify(key);
    }
  });
  launched_.store(true);
  parking_->start();
  if (lease_) lease_->start();
  route_versions();
  LaunchReport report = recover(db_->list_pending(config_.executor_id));
  if (!report.recovered.empty()) spdlog::info("recovered {} workflow(s)", report.recovered.size());
  report.other_versions = pending_of_other_versions();
  start_retention();
  return report;
}

void Engine::start_retention() {
  if (!Retention::wanted(config_.retention)) return;
  if (!lease_) {
    spdlog::warn("retention is configured but this Runtime holds no executor lease (executor_lease = false): "
                 "another executor must apply it");
    return;
  }
  retention_ = std::make_unique<Retention>(*this, config_.retention);
  retention_->start();
}

// This executor runs only its own version's workflows: it releases those of
// other versions recorded under its id (a restart on a new build) and claims
// the released ones of its version (left by a restart of another executor,
// or by a takeover).
void Engine::route_versions() {
  const std::string& version = config_.application_version;
  if (int released = db_->release_other_versions(config_.executor_id, version); released > 0)
    spdlog::warn("released {} PENDING workflow(s) of other application versions: this executor runs version '{}'",
                 released, version);
  (void)db_->claim_released(config_.executor_id, version);  // recovered with the rest of list_pending
}

std::vector<WorkflowInfo> Engine::pending_of_other_versions() {
  ListWorkflowsQuery q;
  q.statuses = {WorkflowStatus::Pending};
  q.executor_id = "";
  q.limit = kMaxReportedOtherVersions;
  std::vector<WorkflowInfo> others = db_->list_workflows(q).workflows;
  std::erase_if(others, [&](const WorkflowInfo& w) { return w.application_version == config_.application_version; });
  std::map<std::string, int> by_version;
  for (const WorkflowInfo& w : others) ++by_version[w.application_version];
  for (const auto& [version, count] : by_version)
    spdlog::warn(
        "{}{} PENDING workflow(s) of application version '{}' wait for an executor of that version (this one runs "
        "'{}'): run that build until they finish, or cancel them (keel workflow list --status PENDING --version {})",
        count, count == kMaxReportedOtherVersions ? "+" : "", version, config_.application_version, version);
  return others;
}

LaunchReport Engine::recover(const std::vector<std::string>& ids) {
  std::lock_guard serial(recover_mu_);
  LaunchReport report;
  // In batches: one read and one commit per kMaxBatchIds workflows. One of
  // each per workflow cost 0.6 ms on PostgreSQL: a minute for 100,000.
  std::vector<std::string> batch;
  for (const std::string& id : ids) {
    {
      std::lock_guard lock(mu_);
      if (running_.count(id)) continue;
    }
    batch.push_back(id);
    if (batch.size() == sysdb::kMaxBatchIds) {
      recover_batch(batch, report);
      batch.clear();
    }
  }
  recover_batch(batch, report);
  return report;
}

LaunchReport Engine::recover_claimed(const std::vector<std::string>& ids) {
  // A claimed workflow was PENDING under no executor: whatever of it is still
  // here is stale (an execution of it cancelled before its resume, still
  // unwinding, or parked), and would make recover() skip it.
  for (const std::string& id : ids) {
    parking_->drop(id);
    wait_until_gone(id);
  }
  return recover(ids);
}

void Engine::recover_batch(const std::vector<std::string>& ids, LaunchReport& report) {
  if (ids.empty()) return;
  std::map<std::string, WorkflowInfo> rows;
  std::map<std::string, int> attempts;
  try {
    std::vector<std::string> known;
    for (WorkflowInfo& w : db_->get_workflows(ids)) {
      try {
        (void)lookup(w.name);  // unknown names stay PENDING, untouched
        known.push_back(w.id);
        rows.emplace(w.id, std::move(w));
      } catch (const std::exception& e) {
        LogContextScope log_context(w.id);
        spdlog::error("cannot recover: {}", e.what());
        report.not_recovered.push_back({w.id, e.what()});
      }
    }
    attempts = db_->count_recoveries(known, now_ms());
  } catch (const std::exception& e) {
    spdlog::error("cannot recover {} workflow(s): {}", ids.size(), e.what());
    for (const std::string& id : ids) report.not_recovered.push_back({id, e.what()});
    return;
  }
  for (const std::string& id : ids) {  // in the order given (creation)
    auto counted = attempts.find(id);
    if (counted == attempts.end()) continue;  // no longer PENDING
    WorkflowInfo& info = rows.at(id);
    info.recovery_attempts = counted->second;
    LogContextScope log_context(id);  // its lines name it
    try {
      resume_recovered(info, report);
    } catch (const std::exception& e) {
      spdlog::error("cannot recover: {}", e.what());
      report.not_recovered.push_back({id, e.what()});
    }
  }
}

void Engine::resume_recovered(const WorkflowInfo& info, LaunchReport& report) {
  if (info.recovery_attempts > config_.max_recovery_attempts) {
    if (db_->transition(info.id, {WorkflowStatus::Pending}, WorkflowStatus::MaxRecoveryAttemptsExceeded, now_ms(),
                        false, std::nullopt))
      count_finished(info.name, WorkflowStatus::MaxRecoveryAttemptsExceeded);
    spdlog::error("recovered {} times, moved to MAX_RECOVERY_ATTEMPTS_EXCEEDED", info.recovery_attempts - 1);
    report.dead_lettered.push_back(info.id);
    return;
  }
  spawn(info, /*replay=*/true);
  metrics_.recoveries.inc();
  report.recovered.push_back(info.id);
}

void Engine::supersede(const std::string& holder) {
  if (superseded_.load()) return;
  superseded_by_ = holder;
  superseded_.store(true);
  parking_->stop();  // the parked ones are the holder's now: none may wake here
  interrupt_all();
}

void Engine::interrupt_all() {
  {
    std::lock_guard lock(mu_);
    for (auto& [id, exec] : running_) exec->cancel();
  }
  notifier_.wake_all();
}

}  // namespace keel::detail
