// Support for end-to-end tests: real binaries as child processes, free
// loopback ports, HTTP helpers. Header-only; used by tests in this folder.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace keel::e2e {

// Ports for child servers. bind(:0) and close would race: under `ctest -j`
// another test, or any outgoing connection's ephemeral port, can take the
// number before the child binds it, and a child restarted after a kill must
// bind the same number again. So ports come from below the kernel's
// ephemeral range (never handed out by bind(:0) or connect), and each is
// reserved for the life of this test process by an flock on a file named
// after it, which the kernel drops when the process exits, however it exits.
namespace detail {
inline bool port_is_bindable(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as the servers do
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Locks the port's file; the descriptor stays open (the lock held) until exit.
inline bool reserve_port(int port) {
  ::mkdir("/tmp/keel-test-ports", 01777);  // already there is fine
  std::string path = "/tmp/keel-test-ports/" + std::to_string(port);
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
  if (fd < 0) return false;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  return true;
}

inline int ephemeral_low() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  in >> low;
  return low;
}
}  // namespace detail

// A loopback port reserved for this test process (see above), free when
// returned. With pair = true, port + 1 is reserved too (the admin server).
inline int free_port(bool pair = false) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  const int low = 20000, high = std::min(detail::ephemeral_low(), 32768) - 2;
  if (high <= low) throw std::runtime_error("no port range below the ephemeral ports");
  std::mt19937 rng(static_cast<unsigned>(::getpid()) ^
                   static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::uniform_int_distribution<int> pick(low, high);
  for (int i = 0; i < 500; ++i) {
    int p = pick(rng);
    if (!detail::reserve_port(p) || !detail::port_is_bindable(p)) continue;
    if (!pair || (detail::reserve_port(p + 1) && detail::port_is_bindable(p + 1))) return p;
  }
  throw std::runtime_error("no free port");
}

// A child process running a binary, its stdout and stderr appended to a log.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_path,
          const std::map<std::string, std::string>& env = {})
      : argv_(argv), env_(env), log_path_(log_path) {
    start();
  }

  // Starts it again, same arguments and log, once it has exited.
  void respawn() {
    if (alive()) throw std::runtime_error("respawn of a running process");
    exited_ = false;
    status_ = 0;
    start();
  }

  // How it ended, for messages: "exit code N", "signal N", or "running".
  std::string describe_exit() {
    if (alive()) return "running";
    if (WIFEXITED(status_)) return "exit code " + std::to_string(WEXITSTATUS(status_));
    if (WIFSIGNALED(status_)) return "signal " + std::to_string(WTERMSIG(status_));
    return "wait status " + std::to_string(status_);
  }

 private:
  void start() {
    // Everything the child needs is prepared before fork (the test process has threads).
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      std::string s(*e);
      auto eq = s.find('=');
      if (eq != std::string::npos && env_.count(s.substr(0, eq))) continue;
      env_strings.push_back(s);
    }
    for (const auto& [k, v] : env_) env_strings.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv_) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (auto& s : env_strings) cenv.push_back(s.data());
    cenv.push_back(nullptr);
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + log_path_);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
    ::close(fd);
  }

 public:
  ~Process() { stop(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }

  bool alive() {
    if (exited_) return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = status;
      return false;
    }
    return true;
  }

  // SIGKILL: the process dies wherever it is.
  void kill9() {
    if (exited_) return;
    ::kill(pid_, SIGKILL);
    reap();
  }

  // SIGTERM, then SIGKILL after `grace`. Returns the wait status.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(20)) {
    if (exited_) return status_;
    ::kill(pid_, SIGTERM);
    auto until = std::chrono::steady_clock::now() + grace;
    while (alive()) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid_, SIGKILL);
        reap();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return status_;
  }

  // Waits for the process to exit by itself; returns the exit code (or -signal).
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (alive()) {
      if (std::chrono::steady_clock::now() > until) throw std::runtime_error("process did not exit in time");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (WIFEXITED(status_)) return WEXITSTATUS(status_);
    if (WIFSIGNALED(status_)) return -WTERMSIG(status_);
    return -1000;
  }

  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  void reap() {
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) status_ = status;
    exited_ = true;
  }

  std::vector<std::string> argv_;
  std::map<std::string, std::string> env_;
  std::string log_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

// Polls cond every 25 ms until it holds or timeout passes.
inline bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

// A raw HTTP/1.1 exchange over one socket: for requests that an HTTP client
// library would "fix" (no Content-Length, ...). Returns the whole response.
inline std::string raw_http(int port, const std::string& request, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    // Enough once the headers and the announced body are in.
    auto end = out.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto cl = out.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) {
        size_t len = std::stoul(out.substr(cl + 16));
        if (out.size() >= end + 4 + len) break;
      }
    }
  }
  ::close(fd);
  return out;
}

inline int raw_status(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

}  // namespace keel::e2e
