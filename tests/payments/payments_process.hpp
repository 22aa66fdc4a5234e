// Test support: the real `payments` binary in a child process, and a tiny
// webhook receiver in the test process.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/http_service.hpp"

namespace keel::payments::testing {

using namespace std::chrono_literals;
using Json = nlohmann::json;

// Polls pred every 20 ms until it holds or timeout passes.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

class PaymentsProcess {
 public:
  PaymentsProcess(std::filesystem::path dir, std::string db_url) : dir_(std::move(dir)), db_url_(std::move(db_url)) {}
  ~PaymentsProcess() {
    if (pid_ > 0) kill9();
  }

  // Starts `payments start` with the base options plus extra, and waits until
  // it is serving (its ready file appears). Throws when it does not start.
  void start(const std::vector<std::string>& extra = {}) {
    if (pid_ > 0) throw std::logic_error("already running");
    std::filesystem::path ready = dir_ / "ready.json";
    std::filesystem::remove(ready);
    std::vector<std::string> args{PAYMENTS_BIN, "start", "--db", db_url_, "--port", "0", "--admin-port", "-1",
                                  "--ready-file", ready.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string log = log_path().string();
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    auto until = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < until) {
      if (std::filesystem::exists(ready)) {
        std::ifstream in(ready);
        Json j = Json::parse(in);
        port_ = j.at("port").get<int>();
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("payments exited during start-up; log:\n" + log_tail());
      }
      std::this_thread::sleep_for(20ms);
    }
    throw std::runtime_error("payments did not become ready; log:\n" + log_tail());
  }

  void kill9() { stop_with(SIGKILL); }
  // SIGTERM and wait; returns the exit status (as waitpid reports it).
  int terminate() { return stop_with(SIGTERM); }

  // Waits for the process to exit on its own (e.g. at a crash point).
  // Returns true when it died from SIGKILL.
  bool wait_killed(std::chrono::milliseconds timeout = 10s) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::filesystem::path log_path() const { return dir_ / "payments.log"; }
  std::string log_tail(size_t bytes = 6000) const {
    std::ifstream in(log_path());
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > bytes ? s.substr(s.size() - bytes) : s;
  }

 private:
  int stop_with(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  std::filesystem::path dir_;
  std::string db_url_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A webhook endpoint: records every request; can answer 500 a number of
// times, or hold requests until released.
class WebhookReceiver {
 public:
  struct Received {
    std::string body;
    std::string signature;
    std::string event_id_header;
    std::chrono::steady_clock::time_point at;
    int answered = 0;
  };

  WebhookReceiver() : svc_("receiver") {
    svc_.route("POST", "/hook", [this](const apps::HttpRequest& req) {
      std::unique_lock lock(mu_);
      Received r{req.body, req.header("Payment-Signature").value_or(""), req.header("Payment-Event-Id").value_or(""),
                 std::chrono::steady_clock::now(), 0};
      int status = 200;
      if (fail_next_ > 0) {
        --fail_next_;
        status = 500;
      } else if (hold_) {
        ++held_;
        cv_.notify_all();
        cv_.wait_for(lock, 20s, [&] { return !hold_; });
      }
      r.answered = status;
      received_.push_back(r);
      cv_.notify_all();
      return apps::HttpResponse::json({{"received", status == 200}}, status);
    });
    svc_.start("127.0.0.1", 0);
  }

  std::string url() const { return svc_.base_url() + "/hook"; }
  void fail_next(int n) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
  }
  void hold(bool on) {
    std::lock_guard lock(mu_);
    hold_ = on;
    cv_.notify_all();
  }
  int held() {
    std::lock_guard lock(mu_);
    return held_;
  }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  // Received requests answered 200.
  std::vector<Received> delivered() {
    std::vector<Received> out;
    for (auto& r : received())
      if (r.answered == 200) out.push_back(r);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;
  int fail_next_ = 0;
  bool hold_ = false;
  int held_ = 0;
  apps::HttpService svc_;  // last: stopped first, before the state it uses goes
};

}  // namespace keel::payments::testing
