// The crash tests' worker harness: runs keel_crash_worker as a child process
// (posix_spawn, stdout pipe read with deadlines), kills it at a chosen point,
// restarts it until it finishes, and reads the trace of marks it leaves.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "keel/keel.hpp"
#include "support/temp_dir.hpp"

extern char** environ;

namespace keel::crash {

using Json = keel::Json;
using Clock = std::chrono::steady_clock;
using keel::testing::TempDir;

// KEEL_CRASH_WORKER_PATH overrides the worker built with the test, e.g. to
// check that the suite catches a deliberately broken build of the library.
inline const char* worker_path() {
  static const char* path = [] {
    const char* env = std::getenv("KEEL_CRASH_WORKER_PATH");
    return env && *env ? env : KEEL_CRASH_WORKER;
  }();
  return path;
}
constexpr auto kRunDeadline = std::chrono::seconds(300);  // one worker run, even under sanitizers

// ============================================================== worker processes

struct Kill {
  std::string point;
  int after = 0;
};

inline std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// One run of keel_crash_worker, its stdout read through a pipe.
class WorkerProcess {
 public:
  WorkerProcess(const std::vector<std::string>& args, const std::string& stderr_path) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const char* path = worker_path();
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
  }
  ~WorkerProcess() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      (void)wait();
    }
    if (fd_ >= 0) ::close(fd_);
  }
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

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
        throw std::runtime_error("keel_crash_worker (pid " + std::to_string(pid_) + ") timed out");
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

  int wait() {
    if (reaped_) return status_;
    while (::waitpid(pid_, &status_, 0) < 0) {
      if (errno != EINTR) throw std::runtime_error("waitpid failed");
    }
    reaped_ = true;
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  bool reaped_ = false;
  int status_ = 0;
};

struct RunResult {
  int run = 0;
  std::optional<Kill> planned_kill;
  int status = 0;
  std::vector<Json> messages;  // the "@@ <json>" lines
  std::string stderr_text;
  double seconds = 0;

  bool killed() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }
  bool succeeded() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  std::vector<Json> of_kind(const std::string& kind) const {
    std::vector<Json> v;
    for (const auto& m : messages)
      if (m.value("kind", "") == kind) v.push_back(m);
    return v;
  }
  std::string describe() const {
    std::ostringstream os;
    os << "run " << run;
    if (planned_kill) os << " (kill at " << planned_kill->point << " #" << planned_kill->after << ")";
    os << ": " << describe_status(status) << " after " << seconds << " s";
    for (const auto& m : messages) os << "\n  @@ " << m.dump();
    if (!stderr_text.empty()) {
      std::string tail = stderr_text.size() > 3000 ? stderr_text.substr(stderr_text.size() - 3000) : stderr_text;
      os << "\n  stderr: " << tail;
    }
    return os.str();
  }
};

struct Paths {
  explicit Paths(const TempDir& dir) : db(dir.file("keel.db")), marks(dir.file("marks.log")), dir_(dir) {}
  std::string stderr_for(int run) const { return dir_.file("worker-" + std::to_string(run) + ".stderr"); }
  std::string db, marks;

 private:
  const TempDir& dir_;
};

inline std::vector<std::string> worker_args(const Paths& p, const std::string& scenario_name, int run,
                                     const std::optional<Kill>& kill, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"--db", p.db, "--marks", p.marks, "--scenario", scenario_name,
                                "--run", std::to_string(run)};
  if (kill) {
    args.insert(args.end(), {"--kill-at", kill->point, "--kill-after", std::to_string(kill->after)});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void parse_message(const std::string& line, std::vector<Json>& out) {
  if (!line.starts_with("@@ ")) return;  // the library's own logging
  out.push_back(Json::parse(line.substr(3)));
}

inline RunResult finish_run(WorkerProcess& w, RunResult r, const Paths& p, Clock::time_point t0) {
  while (auto line = w.read_line(t0 + kRunDeadline)) parse_message(*line, r.messages);
  r.status = w.wait();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.stderr_text = read_file(p.stderr_for(r.run));
  return r;
}

inline RunResult run_worker(const Paths& p, const std::string& scenario_name, int run, const std::optional<Kill>& kill,
                     const std::vector<std::string>& extra = {}) {
  auto t0 = Clock::now();
  WorkerProcess w(worker_args(p, scenario_name, run, kill, extra), p.stderr_for(run));
  RunResult r;
  r.run = run;
  r.planned_kill = kill;
  return finish_run(w, std::move(r), p, t0);
}

// Runs the worker until it exits 0: run i is killed at kills[i-1] (when
// given), later runs are not. Stops at the first run that neither succeeded
// nor died of SIGKILL (the caller reports it).
inline std::vector<RunResult> run_until_done(const Paths& p, const std::string& scenario_name,
                                      const std::vector<Kill>& kills, const std::vector<std::string>& extra = {}) {
  std::vector<RunResult> runs;
  for (int run = 1; run <= static_cast<int>(kills.size()) + 3; ++run) {
    std::optional<Kill> kill;
    if (run <= static_cast<int>(kills.size())) kill = kills[static_cast<size_t>(run - 1)];
    runs.push_back(run_worker(p, scenario_name, run, kill, extra));
    if (!runs.back().killed()) break;
  }
  return runs;
}

// ============================================================== the trace (marks file)

struct TraceLine {
  std::string kind;  // start, hit, kill, mark, txbody
  int run = 0;
  std::string a, b;  // hit/kill: point, n; mark/txbody: workflow id, name
};

inline std::vector<TraceLine> read_trace(const std::string& path) {
  std::vector<TraceLine> lines;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream ls(line);
    TraceLine t;
    ls >> t.kind >> t.run >> t.a >> t.b;
    if (!ls && !(t.kind == "start" && !t.a.empty())) throw std::runtime_error("malformed trace line: " + line);
    lines.push_back(std::move(t));
  }
  return lines;
}

}  // namespace keel::crash
