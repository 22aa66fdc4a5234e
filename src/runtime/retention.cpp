#include "runtime/retention.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "common/clock.hpp"
#include "runtime/bulk.hpp"
#include "runtime/engine.hpp"

namespace keel::detail {

namespace {
// After a batch, retention pauses this many times as long as the batch took:
// it holds the database at most 1 / (1 + kPauseFactor) of the time.
constexpr int kPauseFactor = 9;  // docs/operations.md, "Retention": the measured cost
}  // namespace

Retention::Retention(Engine& engine, RetentionConfig config) : engine_(engine), config_(std::move(config)) {}

Retention::~Retention() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Retention::wanted(const RetentionConfig& c) {
  return c.finished_older_than || c.max_finished_workflows || c.global_timeout;
}

void Retention::start() { thread_ = std::thread([this] { run(); }); }

void Retention::run() {
  while (pause(config_.interval)) {
    try {
      if (is_our_turn()) run_once();
    } catch (const std::exception& e) {  // a failing database: next interval
      spdlog::warn("retention: pass failed, retried in {} ms: {}", config_.interval.count(), e.what());
    }
  }
}

// The live executor with the smallest id runs retention; the others wait.
// A dead one keeps its row until a live one takes it over (lease_timeout):
// retention pauses that long at most.
bool Retention::is_our_turn() {
  const std::string& me = engine_.config().executor_id;
  for (const auto& e : engine_.db().list_executors())
    if (e.heartbeat_at_ms != 0 && e.executor_id < me) return false;
  return true;
}

void Retention::run_once() {
  if (config_.global_timeout) time_out();
  const std::vector<WorkflowStatus> finished = finished_only({}).statuses;
  if (config_.finished_older_than) {
    int64_t cutoff = now_ms() - config_.finished_older_than->count();
    ListWorkflowsQuery q{.statuses = finished, .updated_before_ms = cutoff};
    if (int64_t n = delete_finished(q, std::numeric_limits<int64_t>::max()); n > 0)
      spdlog::info("retention: deleted {} workflow(s) finished more than {} ms ago", n,
                   config_.finished_older_than->count());
  }
  if (config_.max_finished_workflows) {
    ListWorkflowsQuery count{.statuses = finished, .limit = 1, .count_total = true};
    int64_t excess = engine_.db().list_workflows(count).total.value_or(0) - *config_.max_finished_workflows;
    if (excess > 0) {
      int64_t n = delete_finished({.statuses = finished}, excess);
      spdlog::info("retention: deleted {} workflow(s) beyond the {} finished ones kept", n,
                   *config_.max_finished_workflows);
    }
  }
}

void Retention::time_out() {
  int64_t cutoff = now_ms() - config_.global_timeout->count();
  ListWorkflowsQuery q{.statuses = {WorkflowStatus::Pending, WorkflowStatus::Enqueued}, .created_before_ms = cutoff};
  BulkResult r = run_bulk(engine_.db(), q, {}, each([&](const std::string& id) { return engine_.cancel(id); }));
  if (r.changed > 0)
    spdlog::warn("retention: cancelled {} workflow(s) created more than {} ms ago (global timeout)", r.changed,
                 config_.global_timeout->count());
}

int64_t Retention::delete_finished(ListWorkflowsQuery filter, int64_t budget) {
  filter.order = ListOrder::OldestFirst;
  int64_t deleted = 0;
  while (deleted < budget) {
    auto t0 = std::chrono::steady_clock::now();
    filter.limit = static_cast<int>(std::min<int64_t>(config_.batch_size, budget - deleted));
    WorkflowPage page = engine_.db().list_workflows(filter);
    if (page.workflows.empty()) break;
    deleted += delete_page(engine_.db(), page.workflows, [&](const std::string& id) { engine_.forget_outcome(id); });
    if (page.next_cursor.empty() || !pause(kPauseFactor * (std::chrono::steady_clock::now() - t0))) break;
    // The rows deleted are gone: the next page starts at the oldest again.
  }
  return deleted;
}

bool Retention::pause(std::chrono::steady_clock::duration d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stop_; });
}

}  // namespace keel::detail
