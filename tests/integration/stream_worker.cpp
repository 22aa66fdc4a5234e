// The writer of StreamCrash.KilledWriterRestartsWithoutDuplicatesOrGaps
// (stream_test.cpp): a process that runs workflow "ticker", which writes
// 0..n-1 to its stream "s" (one step of ~30 ms before each write) and closes
// it. Started, it prints "ready"; the test SIGKILLs it mid-stream and starts
// another, which recovers the workflow (same executor ID), prints "done"
// when it has ended and exits 0.
//   keel_stream_worker DATABASE_URL N
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "keel/keel.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: keel_stream_worker DATABASE_URL N\n";
    return 2;
  }
  const int n = std::atoi(argv[2]);
  keel::RuntimeConfig cfg;
  cfg.database_url = argv[1];
  cfg.executor_id = "stream-worker";
  cfg.poll_interval = 20ms;
  cfg.sqlite_synchronous = keel::SqliteSync::Full;
  keel::Runtime rt(cfg);
  auto wf = rt.register_workflow("ticker", [n](keel::Context& ctx) {
    for (int i = 0; i < n; ++i) {
      int v = ctx.step("tick", [i] {
        std::this_thread::sleep_for(30ms);
        return i;
      });
      ctx.write_stream("s", v);
    }
    ctx.close_stream("s");
    return n;
  });
  rt.launch();  // recovers "ticker" when a killed worker left it PENDING
  auto h = rt.start(wf, {.workflow_id = "ticker"});  // the existing one when recovered
  std::cout << "ready" << std::endl;
  h.result_for(120s);
  std::cout << "done" << std::endl;
  return 0;
}
