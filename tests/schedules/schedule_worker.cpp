// keel_schedule_worker: one executor process of the schedule crash tests.
// Declares the schedule "every" (every second, run_each, grace 300 ms) of
// the tick workflow (support/schedule_support.hpp), launches, says
// "@@ launched", runs for --run-ms and shuts down (exit 0) — unless the
// --kill-after-th hit of the fault point --kill-point comes first: then it
// dies by SIGKILL, as under kill -9.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include "support/schedule_support.hpp"

namespace {

struct Options {
  std::string db, executor, kill_point;
  int kill_after = 0, run_ms = 2000, heartbeat_ms = 100, lease_ms = 1000;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--db") o.db = v;
    else if (k == "--executor") o.executor = v;
    else if (k == "--kill-point") o.kill_point = v;
    else if (k == "--kill-after") o.kill_after = std::stoi(v);
    else if (k == "--run-ms") o.run_ms = std::stoi(v);
    else throw std::invalid_argument("unknown option " + k);
  }
  return o;
}

std::atomic<int> g_hits{0};

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    keel::RuntimeConfig cfg;
    cfg.database_url = o.db;
    cfg.executor_id = o.executor;
    cfg.heartbeat_interval = std::chrono::milliseconds(o.heartbeat_ms);
    cfg.lease_timeout = std::chrono::milliseconds(o.lease_ms);
    cfg.poll_interval = std::chrono::milliseconds(20);
    cfg.fault_hook = [point = o.kill_point, after = o.kill_after](std::string_view p) {
      if (p == point && ++g_hits == after) ::raise(SIGKILL);
    };
    keel::Runtime rt(cfg);
    keel::testing::create_tick_table(rt);
    auto wf = keel::testing::register_tick_workflow(rt);
    keel::ScheduleOptions s;
    s.name = "every";
    s.cron = "* * * * * *";
    s.missed = keel::MissedTicks::RunEach;
    s.max_catch_up = 1000;
    s.grace = std::chrono::milliseconds(300);
    rt.schedule(wf, s);
    (void)rt.launch();
    std::printf("@@ launched\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(o.run_ms));
    rt.shutdown();
  } catch (const std::exception& e) {
    std::cerr << "keel_schedule_worker: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
