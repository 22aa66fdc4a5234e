// long-lived: a meter that bills usage messages for as long as they come.
// Every five messages it hands over to a fresh run of itself with
// ctx.continue_as_new(meter, total, hand_overs + 1): the history (and what
// a wake-up replays) stays five rounds long however many messages pass,
// where one endless loop would record three operations per message for ever.
//
//   ./long-lived app.db     # sends usage 1..20 then 0 (the end), prints the total
#include <keel/keel.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

namespace {

const keel::Workflow<int, int, int> kMeter("meter");
constexpr int kRoundsPerRun = 5;

int meter(keel::Context& ctx, int total, int hand_overs) {
  for (int i = 0; i < kRoundsPerRun; ++i) {
    int usage = ctx.recv<int>("usage", std::chrono::minutes(10)).value_or(0);
    if (usage == 0) return total * 100 + hand_overs;  // the end: the total and the hand-overs it took
    total = ctx.step("bill", [&] {
      std::cout << "billed " << usage << std::endl;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a call to the billing service
      return total + usage;
    });
  }
  ctx.continue_as_new(kMeter, total, hand_overs + 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: long-lived DB\n";
    return 2;
  }
  keel::Runtime rt({.database_url = std::string("sqlite:") + argv[1], .executor_id = "meters"});
  rt.register_workflow("meter", meter);
  rt.launch();  // after a kill -9: the latest run resumes
  auto h = rt.start(kMeter, {.workflow_id = "meter-1"}, 0, 0);  // the same ID: no second meter
  // Each message once, however often this program runs (idempotency keys).
  for (int usage = 1; usage <= 20; ++usage) rt.send("meter-1", usage, "usage", "usage-" + std::to_string(usage));
  rt.send("meter-1", 0, "usage", "usage-end");
  int result = h.result();
  std::cout << "total: " << result / 100 << ", hand-overs: " << result % 100
            << ", records kept: " << rt.list_steps("meter-1").size() << std::endl;
  return 0;
}
