// A child process for tests that run real processes (crash, scale-out): its
// stdout read line by line with deadlines, its stderr appended to a file.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace keel::testing {

using Clock = std::chrono::steady_clock;

inline std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// A child process (posix_spawn), its stdout read through a pipe and its
// stderr appended to a file; killed (SIGKILL) and reaped on destruction.
class ChildProcess {
 public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args, const std::string& stderr_path) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const char* path = program.c_str();
    std::vector<std::string> argv_s{path};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, path, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      throw std::runtime_error(std::string("posix_spawn ") + path + ": " + std::strerror(rc));
    }
    fd_ = fds[0];
    program_ = program;
  }
  ~ChildProcess() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      (void)wait();
    }
    if (fd_ >= 0) ::close(fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The next line of stdout, or nullopt at end of file. Kills the worker
  // and throws when the deadline passes first.
  std::optional<std::string> read_line(Clock::time_point deadline) {
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (eof_) {
        if (buf_.empty()) return std::nullopt;
        return std::exchange(buf_, {});
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        ::kill(pid_, SIGKILL);
        throw std::runtime_error(program_ + " (pid " + std::to_string(pid_) + ") timed out");
      }
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (r < 0 && errno != EINTR) throw std::runtime_error("poll failed");
      if (r <= 0) continue;
      char chunk[4096];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno != EINTR) throw std::runtime_error("read failed");
      if (n == 0) eof_ = true;
      if (n > 0) buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  void kill_now() { ::kill(pid_, SIGKILL); }
  void signal(int sig) { ::kill(pid_, sig); }

  int wait() {
    if (reaped_) return status_;
    while (::waitpid(pid_, &status_, 0) < 0) {
      if (errno != EINTR) throw std::runtime_error("waitpid failed");
    }
    reaped_ = true;
    return status_;
  }

 private:
  std::string program_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace keel::testing
