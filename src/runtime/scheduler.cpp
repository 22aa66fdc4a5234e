// Schedules: declaration checks, the scheduler thread, pause/resume/trigger.
#include "runtime/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/clock.hpp"
#include "keel/errors.hpp"
#include "runtime/engine.hpp"
#include "schedule/stored_schedules.hpp"
#include "schedule/tick_plan.hpp"

namespace keel::detail {

namespace {

using namespace std::chrono;

// How long the thread sleeps at most: the delay before it sees another
// process's pause, resume or progress.
constexpr int64_t kMaxSleepMs = 1000;

void validate(const ScheduleOptions& o) {
  if (o.name.empty()) throw UsageError("a schedule name must not be empty");
  if (o.name.find(':') != std::string::npos)
    throw UsageError("schedule name '" + o.name + "' must not contain ':' (it is part of workflow IDs)");
  if (o.max_catch_up < 1) throw UsageError("schedule '" + o.name + "': max_catch_up must be at least 1");
  if (o.grace.count() < 0) throw UsageError("schedule '" + o.name + "': grace must not be negative");
}

int64_t to_ms(SysSeconds t) { return duration_cast<milliseconds>(t.time_since_epoch()).count(); }
SysSeconds to_seconds(int64_t ms) { return floor<seconds>(SysSeconds(seconds(0)) + milliseconds(ms)); }

}  // namespace

void Scheduler::add(const std::string& workflow_name, const ScheduleOptions& options) {
  validate(options);
  if (started_.load()) throw UsageError("Runtime::schedule('" + options.name + "') after launch()");
  for (const auto& d : declared_)
    if (d.options.name == options.name) throw UsageError("schedule '" + options.name + "' is declared twice");
  engine_.require_registered(workflow_name);
  CronSchedule cron(CronExpression::parse(options.cron), TimeZone::locate(options.time_zone));
  declared_.push_back(Declared{options, workflow_name, std::move(cron)});
}

void Scheduler::start() {
  std::lock_guard lock(thread_mu_);
  started_.store(true);
  const int64_t now = now_ms();
  for (const auto& d : declared_)
    engine_.db().declare_schedule(sysdb::ScheduleRow{d.options.name, d.workflow_name, d.options.cron,
                                                     d.options.time_zone, to_string(d.options.missed), false, now});
  if (declared_.empty() || thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  std::lock_guard lock(thread_mu_);
  if (thread_.joinable()) thread_.join();
}

void Scheduler::loop() {
  for (;;) {
    int64_t wake_at = now_ms() + kMaxSleepMs;
    try {
      wake_at = pass();
    } catch (const RuntimeStateError&) {
      return;  // the engine is shutting down, or superseded (Engine::supersede)
    } catch (const std::exception& e) {
      spdlog::warn("scheduler: pass failed, tried again within a second: {}", e.what());
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, milliseconds(std::max<int64_t>(0, wake_at - now_ms())), [&] { return stopping_ || woken_; });
    if (stopping_) return;
    woken_ = false;
  }
}

int64_t Scheduler::pass() {
  const auto rows = engine_.db().list_schedules();
  const int64_t now = now_ms();
  int64_t wake_at = now + kMaxSleepMs;
  for (const auto& d : declared_) {
    auto row = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.name == d.options.name; });
    if (row == rows.end()) continue;  // stored by start(); deleted by hand since
    try {
      wake_at = std::min(wake_at, run_schedule(d, *row, now));
    } catch (const RuntimeStateError&) {
      throw;
    } catch (const std::exception& e) {
      // Its due ticks stay due (the last tick did not move): the next pass starts them.
      spdlog::warn("schedule '{}': {}", d.options.name, e.what());
    }
  }
  return wake_at;
}

// Starts the due ticks the policy keeps, then moves the last tick; returns
// the schedule's next tick.
int64_t Scheduler::run_schedule(const Declared& d, const sysdb::ScheduleRow& row, int64_t now) {
  int64_t last = row.last_tick_ms;
  if (!row.paused) {
    TickPolicy policy{d.options.missed, d.options.max_catch_up, d.options.grace.count()};
    TickPlan plan = plan_ticks(d.cron, last, now, policy);
    for (int64_t tick : plan.fire) {
      start_tick(d.workflow_name, d.options.name, tick, false);
      fault("schedule.tick_started");
    }
    if (plan.advance_to) {
      engine_.db().advance_schedule(d.options.name, *plan.advance_to);
      fault("schedule.advanced");
      last = std::max(last, *plan.advance_to);
    }
  }
  return to_ms(d.cron.next_after(to_seconds(std::max(last, now))));
}

void Scheduler::start_tick(const std::string& workflow_name, const std::string& schedule, int64_t tick_ms,
                           bool manual) {
  StartOptions options;
  options.workflow_id = schedule_workflow_id(schedule, tick_ms, manual);
  Json inputs = Json::array({Json(ScheduledTick{schedule, tick_ms, manual})});
  try {
    (void)engine_.start(workflow_name, options, std::move(inputs));
  } catch (const WorkflowConflictError& e) {
    // The ID belongs to another workflow (the schedule's workflow changed):
    // that tick ran already, under the former name.
    spdlog::warn("schedule '{}': {}", schedule, e.what());
  }
}

void Scheduler::fault(std::string_view point) {
  if (engine_.config().fault_hook) engine_.config().fault_hook(point);
}

std::vector<ScheduleInfo> Scheduler::list() { return list_stored_schedules(engine_.db()); }

void Scheduler::set_paused(const std::string& name, bool paused) {
  set_stored_schedule_paused(engine_.db(), name, paused);
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Scheduler::remove(const std::string& name) { delete_stored_schedule(engine_.db(), name); }

std::string Scheduler::trigger(const std::string& name) {
  engine_.require_running();
  const sysdb::ScheduleRow row = stored_schedule(engine_.db(), name);
  const int64_t now = now_ms();
  start_tick(row.workflow_name, name, now, true);
  return schedule_workflow_id(name, now, true);
}

}  // namespace keel::detail
