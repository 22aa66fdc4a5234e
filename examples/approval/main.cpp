// approval: a workflow asks a human for a decision and waits for it in recv,
// with a durable timeout: if nobody answers in time the request is
// rejected. The wait survives restarts (a recovered recv waits only what is
// left), and the waiting workflow holds no thread (it parks).
//
//   ./approval app.db request expense-42 30   # waits up to 30 s, prints the outcome
//   ./approval app.db decide  expense-42 yes  # from another terminal
#include <keel/keel.hpp>

#include <chrono>
#include <iostream>
#include <string>

namespace {

int request(const std::string& url, const std::string& id, int timeout_s) {
  keel::Runtime rt({.database_url = url, .executor_id = "approvals"});
  auto approval = rt.register_workflow("approval", [](keel::Context& ctx, int timeout) {
    ctx.set_event("status", std::string("waiting for a decision"));
    auto decision = ctx.recv<bool>("decision", std::chrono::seconds(timeout));
    std::string outcome = !decision ? "rejected (no decision in time)" : *decision ? "approved" : "rejected";
    ctx.set_event("status", outcome);
    return outcome;
  });
  rt.launch();
  auto h = rt.start(approval, {.workflow_id = id}, timeout_s);
  std::cout << id << ": " << rt.get_event<std::string>(id, "status", std::chrono::seconds(5)).value_or("?")
            << std::endl;
  std::cout << id << ": " << h.result() << std::endl;
  return 0;
}

// The decision comes from a process that runs no workflows: a Client.
int decide(const std::string& url, const std::string& id, bool yes) {
  keel::Client client(url);
  client.send(id, yes, "decision", /*idempotency_key=*/"decision-" + id);
  std::cout << "sent " << (yes ? "yes" : "no") << " to " << id << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: approval DB request ID TIMEOUT_S | approval DB decide ID yes|no\n";
    return 2;
  }
  std::string url = std::string("sqlite:") + argv[1], verb = argv[2], id = argv[3], arg = argv[4];
  if (verb == "request") return request(url, id, std::stoi(arg));
  if (verb == "decide") return decide(url, id, arg == "yes");
  std::cerr << "unknown command " << verb << "\n";
  return 2;
}
