// Debouncing: the calls' upsert and the debouncer thread's fires.
#include "runtime/debouncer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/clock.hpp"
#include "keel/errors.hpp"
#include "common/log_context.hpp"
#include "common/wake_key.hpp"
#include "runtime/engine.hpp"
#include "runtime/uuid.hpp"

namespace keel {

void validate(const DebounceOptions& o) {
  if (o.key.empty()) throw UsageError("a debounce key must not be empty");
  if (o.window.count() <= 0) throw UsageError("debounce '" + o.key + "': the window must be positive");
  if (o.max_wait && *o.max_wait < o.window)
    throw UsageError("debounce '" + o.key + "': max_wait must not be shorter than the window");
}

}  // namespace keel

namespace keel::detail {

namespace {

using namespace std::chrono;

// How long the thread sleeps at most: the delay before it sees another
// process's bursts.
constexpr int64_t kMaxSleepMs = 1000;
// Bursts read per look; a full batch of due ones: look again at once.
constexpr int kBatch = 100;

}  // namespace

std::string Debouncer::call(const std::string& workflow_name, const DebounceOptions& options, Json inputs) {
  engine_.require_running();
  validate(options);
  engine_.require_registered(workflow_name);
  sysdb::DebounceCall c{options.key,
                        workflow_name,
                        inputs.dump(),
                        options.queue,
                        options.workflow_id.empty() ? new_uuid() : options.workflow_id,
                        now_ms(),
                        options.window.count(),
                        std::nullopt};
  if (options.max_wait) c.max_wait_ms = options.max_wait->count();
  std::string target = engine_.db().debounce(c);
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
  return target;
}

void Debouncer::start() {
  std::lock_guard lock(thread_mu_);
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
  }
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void Debouncer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  std::lock_guard lock(thread_mu_);
  if (thread_.joinable()) thread_.join();
}

void Debouncer::loop() {
  for (;;) {
    int64_t wake_at = now_ms() + kMaxSleepMs;
    try {
      wake_at = pass();
    } catch (const RuntimeStateError&) {
      return;  // the engine is shutting down, or superseded (Engine::supersede)
    } catch (const std::exception& e) {
      spdlog::warn("debouncer: pass failed, tried again within a second: {}", e.what());
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, milliseconds(std::max<int64_t>(0, wake_at - now_ms())), [&] { return stopping_ || woken_; });
    if (stopping_) return;
    woken_ = false;
  }
}

int64_t Debouncer::pass() {
  const std::vector<std::string> names = engine_.registered_names();
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return now_ms();
      woken_ = false;  // a call from here on wakes the next wait
    }
    const auto rows = engine_.db().next_debounces(names, kBatch);
    const int64_t now = now_ms();
    int due = 0;
    for (const auto& row : rows) {
      if (row.fire_at_ms > now) return std::min(row.fire_at_ms, now + kMaxSleepMs);
      ++due;
      try {
        fire(row);
      } catch (const RuntimeStateError&) {
        throw;
      } catch (const std::exception& e) {
        // The burst stays (its fire rolled back, or committed with the
        // outcome unknown): the next pass fires it, or finds it gone.
        spdlog::warn("debounce '{}': fire failed, tried again within a second: {}", row.key, e.what());
        return now + kMaxSleepMs;
      }
    }
    if (due < kBatch) return now + kMaxSleepMs;
  }
}

void Debouncer::fire(const sysdb::DebounceRow& row) {
  engine_.require_running();  // a superseded process fires nothing (Engine::supersede)
  const RuntimeConfig& config = engine_.config();
  fault("debounce.fire_started");
  sysdb::FiredDebounce fired =
      engine_.db().fire_debounce(row.key, row.workflow_id, config.executor_id, config.application_version, now_ms());
  if (!fired.fired) return;  // another firer's, or the burst went on
  fault("debounce.fired");
  if (!fired.created) {
    spdlog::warn("debounce '{}': workflow ID '{}' exists already: the burst started nothing", row.key,
                 row.workflow_id);
    return;
  }
  engine_.forget_outcome(fired.info.id);  // a new row: an outcome kept for an ID deleted since is not its own
  engine_.count_started(fired.info.name);
  if (!fired.queue_name.empty()) {
    engine_.notifier().notify(WakeKey::queues());
    return;
  }
  LogContextScope log_context(fired.info.id);
  try {
    engine_.run_dequeued(fired.info);
  } catch (const std::exception& e) {
    // It stays PENDING under this executor and is recovered at the next launch.
    spdlog::error("debounced workflow fired but not started: {}", e.what());
  }
}

void Debouncer::fault(std::string_view point) {
  if (engine_.config().fault_hook) engine_.config().fault_hook(point);
}

}  // namespace keel::detail
