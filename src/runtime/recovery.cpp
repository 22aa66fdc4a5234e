// Launch: migrate the schema, take this executor's lease, then resume every
// PENDING workflow of this executor from its checkpoints. recover() is also
// how a takeover (executor_lease.cpp) runs the workflows it claimed.
#include <spdlog/spdlog.h>

#include "common/clock.hpp"
#include "runtime/engine.hpp"
#include "runtime/execution.hpp"
#include "runtime/executor_lease.hpp"

namespace keel::detail {

LaunchReport Engine::launch() {
  if (launched_.load()) throw RuntimeStateError("launch() called twice");
  db_->migrate();
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
  LaunchReport report = recover(db_->list_pending(config_.executor_id));
  if (!report.recovered.empty()) spdlog::info("recovered {} workflow(s)", report.recovered.size());
  return report;
}

LaunchReport Engine::recover(const std::vector<std::string>& ids) {
  std::lock_guard serial(recover_mu_);
  LaunchReport report;
  for (const std::string& id : ids) {
    {
      std::lock_guard lock(mu_);
      if (running_.count(id)) continue;
    }
    try {
      recover_one(id, report);
    } catch (const std::exception& e) {
      spdlog::error("[{}] cannot recover: {}", id, e.what());
      report.not_recovered.push_back({id, e.what()});
    }
  }
  return report;
}

void Engine::recover_one(const std::string& id, LaunchReport& report) {
  auto info = db_->get_workflow(id);
  if (!info) return;
  (void)lookup(info->name);  // unknown names stay PENDING, untouched
  auto attempts = db_->count_recovery(id, now_ms());
  if (!attempts) return;
  if (*attempts > config_.max_recovery_attempts) {
    (void)db_->transition(id, {WorkflowStatus::Pending}, WorkflowStatus::MaxRecoveryAttemptsExceeded, now_ms(), false,
                          "");
    spdlog::error("[{}] recovered {} times, moved to MAX_RECOVERY_ATTEMPTS_EXCEEDED", id, *attempts - 1);
    report.dead_lettered.push_back(id);
    return;
  }
  spawn(*info, /*replay=*/true);
  report.recovered.push_back(id);
}

void Engine::interrupt_all() {
  {
    std::lock_guard lock(mu_);
    for (auto& [id, exec] : running_) exec->cancel();
  }
  notifier_.wake_all();
}

}  // namespace keel::detail
