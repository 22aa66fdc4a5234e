// The schedules of one Runtime: their declarations, and the scheduler
// thread that starts their ticks' workflows (keel/schedule.hpp,
// docs/schedules.md).
//
// Exactly once per tick: a tick's workflow ID is schedule_workflow_id(name,
// tick), and a start of an existing ID starts nothing, so every executor
// may start every due tick. The stored last tick only says which ticks are
// still due: it moves forward after the tick's start committed, so a crash
// between the two starts the tick again, which is a no-op.
//
// Threads: start() (after the engine's launch) stores the declarations and
// runs one thread when any schedule is declared; stop() (before the
// engine's shutdown, and in the destructor) ends and joins it. The thread
// sleeps until the earliest next tick, at most a second (to see other
// processes' pauses, resumes and progress), and is woken by local pauses,
// resumes and stop.
// Thread-safety: add() before start(); the rest thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "keel/schedule.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

class Engine;

class Scheduler {
 public:
  explicit Scheduler(Engine& engine) : engine_(engine) {}
  ~Scheduler() { stop(); }
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Throws UsageError (bad options, a duplicate name, after start),
  // CronSyntaxError, UnknownTimeZoneError, UnknownWorkflowError.
  void add(const std::string& workflow_name, const ScheduleOptions& options);
  void start();
  void stop();

  [[nodiscard]] std::vector<ScheduleInfo> list();
  void set_paused(const std::string& name, bool paused);
  [[nodiscard]] std::string trigger(const std::string& name);
  void remove(const std::string& name);

 private:
  struct Declared {
    ScheduleOptions options;
    std::string workflow_name;
    CronSchedule cron;
  };
  void loop();
  // One look at every declared schedule; returns the epoch ms to look again.
  int64_t pass();
  int64_t run_schedule(const Declared& d, const sysdb::ScheduleRow& row, int64_t now);
  void start_tick(const std::string& workflow_name, const std::string& schedule, int64_t tick_ms, bool manual);
  void fault(std::string_view point);  // RuntimeConfig::fault_hook

  Engine& engine_;
  std::vector<Declared> declared_;  // fixed once started
  std::atomic<bool> started_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool woken_ = false;     // guarded by mu_: look again now
  std::mutex thread_mu_;
  std::thread thread_;  // guarded by thread_mu_
};

}  // namespace keel::detail
