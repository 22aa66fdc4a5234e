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
#include <thread>
#include <vector>

#include "keel/keel.hpp"
#include "support/child_process.hpp"
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

using keel::testing::describe_status;

// One run of keel_crash_worker.
class WorkerProcess : public keel::testing::ChildProcess {
 public:
  WorkerProcess(const std::vector<std::string>& args, const std::string& stderr_path)
      : ChildProcess(worker_path(), args, stderr_path) {}
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

// Starts the worker, waits until it announces its first wait, lets it wait
// `into_wait`, kills it from outside and restarts it. Returns the runs and
// the instants that matter.
struct ExternalKill {
  std::vector<RunResult> runs;
  Clock::time_point waiting_at, restarted_at, finished_at;
};

inline ExternalKill kill_while_waiting(const Paths& p, const std::string& scenario_name, std::chrono::milliseconds into_wait,
                                const std::vector<std::string>& extra_first,
                                const std::vector<std::string>& extra_restart) {
  ExternalKill e;
  {
    auto t0 = Clock::now();
    WorkerProcess w(worker_args(p, scenario_name, 1, std::nullopt, extra_first), p.stderr_for(1));
    RunResult r;
    r.run = 1;
    bool waiting = false;
    while (auto line = w.read_line(t0 + kRunDeadline)) {
      parse_message(*line, r.messages);
      if (!r.messages.empty() && r.messages.back().value("kind", "") == "waiting") {
        waiting = true;
        break;
      }
    }
    if (!waiting) {
      e.runs.push_back(finish_run(w, std::move(r), p, t0));
      throw std::runtime_error("the worker never waited: " + e.runs.back().describe());
    }
    e.waiting_at = Clock::now();
    // The crash must fall in the middle of the wait: this sleep *is* the
    // scenario (a process dying after waiting a while), not synchronisation.
    std::this_thread::sleep_until(e.waiting_at + into_wait);
    w.kill_now();
    e.runs.push_back(finish_run(w, std::move(r), p, t0));
  }
  e.restarted_at = Clock::now();
  e.runs.push_back(run_worker(p, scenario_name, 2, std::nullopt, extra_restart));
  e.finished_at = Clock::now();
  return e;
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
