// postgres-scale-out: two processes, each with its own executor id, on one
// PostgreSQL database. One starts a five-step report; kill it with kill -9
// and the other takes the report over once the dead one's lease expires
// (2 s here), replays the recorded steps and runs the rest. No control plane:
// the database's leases and row locks decide who runs what.
//
//   ./postgres-scale-out postgresql://USER@HOST:PORT/DB a start   # starts report-1, runs it
//   ./postgres-scale-out postgresql://USER@HOST:PORT/DB b         # a peer: waits for report-1
#include <keel/keel.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: postgres-scale-out URL EXECUTOR_ID [start]\n";
    return 2;
  }
  const std::string me = argv[2];
  keel::Runtime rt({.database_url = argv[1], .executor_id = me, .heartbeat_interval = 500ms, .lease_timeout = 2s});

  // Every executor registers every workflow it may take over.
  auto report = rt.register_workflow("report", [me](keel::Context& ctx) {
    int total = 0;
    for (int part = 1; part <= 5; ++part) {
      total += ctx.step("part " + std::to_string(part), [&] {
        std::cout << "executor " << me << ": part " << part << std::endl;
        std::this_thread::sleep_for(1s);
        return part;
      });
    }
    return total;
  });
  rt.launch();

  keel::Handle<int> h = argc > 3 && std::string(argv[3]) == "start" ? rt.start(report, {.workflow_id = "report-1"})
                                                                    : rt.retrieve<int>("report-1");
  int total = h.result();
  std::cout << "report-1 = " << total << ", seen by executor " << me << std::endl;
}
