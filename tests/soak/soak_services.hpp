// The four processes of the soak (tests/soak): a shop and a payment service
// that are never killed ("steady"), and one of each that is SIGKILLed and
// restarted all along ("victim"), all on the same two PostgreSQL databases
// under executor IDs of their own. A process's RSS, threads and descriptors
// start again from nothing at each kill, so a leak in a victim would never
// show; the steady ones live through the whole run and do everything the
// victims do — serve checkouts and payments, run the checkouts and webhook
// deliveries, take over the victims' workflows when a victim stays down
// longer than the lease, and apply retention (the steady executor IDs are
// the smallest) — so their curves expose a leak in any of these paths.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/http_service.hpp"
#include "e2e_support.hpp"

namespace keel::soak {

class Service {
 public:
  // name: the CSV's prefix (shop_steady, ...); ready_path: a GET that
  // answers 200 once the process serves.
  Service(std::string name, std::vector<std::string> argv, std::string log, int port, std::string ready_path)
      : name_(std::move(name)), argv_(std::move(argv)), log_(std::move(log)), port_(port),
        ready_path_(std::move(ready_path)) {}

  const std::string& name() const { return name_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string admin_url() const { return "http://127.0.0.1:" + std::to_string(port_ + 1); }
  // The live process's pid, 0 while it is down: read by the sampler thread.
  pid_t pid() const { return pid_.load(); }

  // Starts it (again, after a kill) and waits until it serves; false when it
  // died or did not answer within `timeout` (its log says why).
  bool start(const apps::HttpClient& http, std::chrono::milliseconds timeout) {
    if (proc_ && proc_->alive()) return true;
    if (proc_)
      proc_->respawn();
    else
      proc_ = std::make_unique<e2e::Process>(argv_, log_);
    bool ok = e2e::eventually(
                  [&] {
                    if (!proc_->alive()) return true;
                    try {
                      return http.get(url() + ready_path_).status == 200;
                    } catch (const std::exception&) {
                      return false;
                    }
                  },
                  timeout) &&
              proc_->alive();
    if (ok) pid_ = proc_->pid();
    return ok;
  }

  void kill9() {
    pid_ = 0;  // first: the sampler must not read a dead pid (or its successor)
    if (proc_) proc_->kill9();
  }
  // SIGTERM (SIGKILL after a grace): the end of the run.
  void stop() {
    pid_ = 0;
    if (proc_) proc_->stop();
  }
  bool alive() { return proc_ && proc_->alive(); }
  std::string log_tail(size_t n = 6000) const {
    std::string s = proc_ ? proc_->log() : "";
    return s.size() > n ? s.substr(s.size() - n) : s;
  }

 private:
  std::string name_;
  std::vector<std::string> argv_;
  std::string log_;
  int port_;
  std::string ready_path_;
  std::unique_ptr<e2e::Process> proc_;
  std::atomic<pid_t> pid_{0};
};

}  // namespace keel::soak
