// keel_debounce_worker: one executor process of the debounce crash tests.
// Registers the workflow "debounced" (debounce/debounce_support.hpp),
// launches, says "@@ launched"; with --calls N makes N calls of the burst
// --key (values 1..N, 50 ms apart, window --window-ms, default 1 s); then runs for
// --run-ms and shuts down (exit 0) — unless the --kill-after-th hit of the
// fault point --kill-point comes first: then it dies by SIGKILL, as under
// kill -9.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include "debounce/debounce_support.hpp"

namespace {

struct Options {
  std::string db, executor, kill_point = "none", key = "k";
  int kill_after = 1, run_ms = 2000, calls = 0, window_ms = 1000;
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
    else if (k == "--calls") o.calls = std::stoi(v);
    else if (k == "--key") o.key = v;
    else if (k == "--window-ms") o.window_ms = std::stoi(v);
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
    cfg.heartbeat_interval = std::chrono::milliseconds(100);
    cfg.lease_timeout = std::chrono::milliseconds(1000);
    cfg.poll_interval = std::chrono::milliseconds(20);
    cfg.fault_hook = [point = o.kill_point, after = o.kill_after](std::string_view p) {
      if (p == point && ++g_hits == after) ::raise(SIGKILL);
    };
    keel::Runtime rt(cfg);
    keel::testing::create_run_table(rt);
    auto wf = keel::testing::register_debounced(rt);
    (void)rt.launch();
    std::printf("@@ launched\n");
    std::fflush(stdout);
    for (int v = 1; v <= o.calls; ++v) {
      keel::DebounceOptions d;
      d.key = o.key;
      d.window = std::chrono::milliseconds(o.window_ms);
      auto h = rt.debounce(wf, d, o.key, int64_t{v});
      std::printf("@@ target %s\n", h.id().c_str());
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(o.run_ms));
    rt.shutdown();
  } catch (const std::exception& e) {
    std::cerr << "keel_debounce_worker: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
