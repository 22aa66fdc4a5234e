// Launch: migrate the schema, then resume every PENDING workflow of this
// executor from its checkpoints.
#include <spdlog/spdlog.h>

#include "runtime/clock.hpp"
#include "runtime/engine.hpp"

namespace keel::detail {

LaunchReport Engine::launch(Runtime& rt) {
  if (launched_.load()) throw RuntimeStateError("launch() called twice");
  runtime_ = &rt;
  db_->migrate();
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
  LaunchReport report;
  for (const std::string& id : db_->list_pending(config_.executor_id)) {
    try {
      auto info = db_->get_workflow(id);
      if (!info) continue;
      (void)lookup(info->name);  // unknown names stay PENDING, untouched
      auto attempts = db_->count_recovery(id, now_ms());
      if (!attempts) continue;
      if (*attempts > config_.max_recovery_attempts) {
        db_->transition(id, {WorkflowStatus::Pending}, WorkflowStatus::MaxRecoveryAttemptsExceeded, now_ms(), false,
                        "");
        spdlog::error("[{}] recovered {} times, moved to MAX_RECOVERY_ATTEMPTS_EXCEEDED", id, *attempts - 1);
        report.dead_lettered.push_back(id);
        continue;
      }
      spawn(*info, /*replay=*/true);
      report.recovered.push_back(id);
    } catch (const std::exception& e) {
      spdlog::error("[{}] cannot recover: {}", id, e.what());
      report.not_recovered.push_back({id, e.what()});
    }
  }
  if (!report.recovered.empty()) spdlog::info("recovered {} workflow(s)", report.recovered.size());
  return report;
}

}  // namespace keel::detail
