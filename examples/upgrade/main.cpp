// upgrade: shipping a change to a workflow while runs of it are in flight
// (docs/upgrades.md). One program holds three builds of the workflow "order":
//   v1             reserve, then wait for "go", then ship
//   v2             adds a fraud check after reserve, behind ctx.patched()
//   v2-unpatched   the same change without the patch: it breaks runs of v1
//
//   ./upgrade DB v1 start order-1         # a run on v1; it waits for "go" (the program exits)
//   ./upgrade DB v2-unpatched verify      # the upgrade check: exit 1, it names order-1
//   ./upgrade DB v2 verify                # exit 0
//   ./upgrade DB v2 start order-2         # a run on v2
//   ./upgrade DB v2 finish order-1        # "go": order-1 keeps v1's path, order-2 takes v2's
//   ./upgrade DB v2 fork order-1 order-3 2   # a new run that keeps order-1's reservation (position 1)
//                                            # and runs v2's code from position 2: the fraud check
#include <keel/keel.hpp>

#include <iostream>
#include <string>

using namespace std::chrono_literals;

namespace {

void register_order(keel::Runtime& rt, const std::string& build) {
  rt.register_workflow("order", [build](keel::Context& ctx) -> std::string {
    ctx.step("reserve", [] {});
    bool checked = false;
    if (build == "v2-unpatched") {
      ctx.step("fraud_check", [] {});
      checked = true;
    } else if (build == "v2" && ctx.patched("fraud-check")) {
      ctx.step("fraud_check", [] {});
      checked = true;
    }
    ctx.set_event("waiting", true);
    bool go = ctx.recv<bool>("go", 1h).value_or(false);
    ctx.step("ship", [] {});
    return std::string(go ? "shipped" : "timed out") + (checked ? " after a fraud check" : " (v1's path)");
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: upgrade DB v1|v2|v2-unpatched start ID | verify | finish ID | fork ID NEW_ID STEP\n";
    return 2;
  }
  const std::string build = argv[2], command = argv[3], id = argc > 4 ? argv[4] : "";
  keel::Runtime rt({.database_url = std::string("sqlite:") + argv[1], .executor_id = "orders"});
  register_order(rt, build);
  if (command == "verify") return keel::run_upgrade_check(rt, {}, std::cout);  // not launched: runs nothing
  rt.launch();
  if (command == "start") {
    (void)rt.start(keel::Workflow<std::string>("order"), {.workflow_id = id});
    rt.get_event<bool>(id, "waiting", 10s);
    std::cout << id << " is waiting for go (build " << build << ")" << std::endl;
    return 0;  // the run stays PENDING, its wait recorded
  }
  if (command == "fork" && argc == 7) {
    // Runtime::fork_workflow: the records before the step are kept, the rest
    // runs again on this build; it runs here (this process is of its version).
    std::string fork = rt.fork_workflow(id, {.start_step = std::stoi(argv[6]), .workflow_id = argv[5]});
    rt.get_event<bool>(fork, "waiting", 10s);
    std::cout << fork << " forked from " << id << " at step " << argv[6] << std::endl;
    return 0;
  }
  if (command == "finish") {
    rt.send(id, true, "go");
    std::cout << id << ": " << rt.retrieve<std::string>(id).result() << std::endl;
    return 0;
  }
  std::cerr << "unknown command " << command << "\n";
  return 2;
}
