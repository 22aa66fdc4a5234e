// keel::testing::sweep_crashes (keel/crash_sweep.hpp): forked children
// killed at the k-th hit of a fault point, recovered, then checked here.
#include "keel/crash_sweep.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "keel/errors.hpp"

namespace keel::testing {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A temporary directory, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "keel-crash-sweep-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("crash sweep: cannot make a temporary directory");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// What one child process is to do.
struct ChildTask {
  std::string database_url;
  std::string marks;   // step bodies run: one line per run, appended by every child of the case
  std::string counts;  // hits of each point, written at a clean exit
  std::string error;   // what stopped the child, when it fails
  std::string point;   // kill at the crash_at-th hit of point (0: never)
  int crash_at = 0;
};

// The fault hook of a child: counts the sweep's points, appends step runs to
// the marks file, raises SIGKILL at the chosen hit.
class ChildHook {
 public:
  ChildHook(const CrashSweep& sweep, const ChildTask& task) : points_(sweep.points), task_(task) {
    hits_ = std::make_unique<std::atomic<int>[]>(points_.size());
    marks_fd_ = ::open(task.marks.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (marks_fd_ < 0) throw std::runtime_error("cannot open " + task.marks + ": " + std::strerror(errno));
  }
  void operator()(std::string_view point) {
    constexpr std::string_view kStepBody = "step.body:";
    if (point.substr(0, kStepBody.size()) == kStepBody) {
      std::string line = std::string(point.substr(kStepBody.size())) + "\n";
      (void)!::write(marks_fd_, line.data(), line.size());  // one write: whole lines under O_APPEND
      return;
    }
    for (size_t i = 0; i < points_.size(); ++i) {
      if (points_[i] != point) continue;
      int n = ++hits_[i];
      if (task_.crash_at > 0 && n == task_.crash_at && point == task_.point) ::raise(SIGKILL);
    }
  }
  void write_counts() const {
    std::ofstream out(task_.counts);
    for (size_t i = 0; i < points_.size(); ++i) out << points_[i] << ' ' << hits_[i].load() << '\n';
  }

 private:
  std::vector<std::string> points_;
  const ChildTask& task_;
  std::unique_ptr<std::atomic<int>[]> hits_;
  int marks_fd_ = -1;
};

bool work_left(Runtime& rt) {
  for (WorkflowStatus s : {WorkflowStatus::Pending, WorkflowStatus::Enqueued}) {
    ListWorkflowsQuery q;
    q.statuses = {s};
    q.limit = 1;
    if (!rt.list_workflows(q).empty()) return true;
  }
  return false;
}

// The body of a child process: never returns.
[[noreturn]] void child_main(const CrashSweep& sweep, const ChildTask& task) {
  int code = 0;
  try {
    auto hook = std::make_shared<ChildHook>(sweep, task);
    RuntimeConfig config = sweep.config;
    config.database_url = task.database_url;
    config.fault_hook = [hook](std::string_view point) { (*hook)(point); };
    {
      Runtime rt(config);
      sweep.setup(rt);
      (void)rt.launch();
      sweep.start(rt);  // again in each recovering child: a client retrying its request
      while (work_left(rt)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    hook->write_counts();
  } catch (const std::exception& e) {
    std::ofstream(task.error) << e.what();
    code = 3;
  }
  ::_exit(code);  // no atexit handlers or destructors of the parent's state
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
  return "stopped";
}

// Waits for pid until `deadline`; kills it then. nullopt: timed out.
std::optional<int> wait_until(pid_t pid, Clock::time_point deadline) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("crash sweep: waitpid: ") + std::strerror(errno));
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::map<std::string, int> count_lines(const std::string& path) {
  std::map<std::string, int> counts;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) ++counts[line];
  return counts;
}

std::map<std::string, int> read_hits(const std::string& path) {
  std::map<std::string, int> hits;
  std::ifstream in(path);
  std::string point;
  int n = 0;
  while (in >> point >> n) hits[point] = n;
  return hits;
}

class Sweeper {
 public:
  explicit Sweeper(const CrashSweep& sweep) : sweep_(sweep) {}

  // Runs case number n: kills the first child at hit crash_at of point (0:
  // no kill), restarts until a child exits cleanly, then checks.
  CrashCase run_case(int n, const std::string& point, int crash_at) {
    CrashCase c;
    c.point = point;
    c.crash_at = crash_at;
    ChildTask task;
    task.database_url = sweep_.database_url ? sweep_.database_url(n) : "sqlite:" + scratch_.file(name(n, "db"));
    task.marks = scratch_.file(name(n, "marks"));
    task.counts = scratch_.file(name(n, "counts"));
    task.error = scratch_.file(name(n, "error"));
    task.point = point;
    task.crash_at = crash_at;
    const auto deadline = Clock::now() + sweep_.case_timeout;
    for (;;) {
      std::optional<int> status = run_child(task, deadline);
      ++c.processes;
      if (!status) {
        c.failure = "did not finish within " + std::to_string(sweep_.case_timeout.count()) + " ms";
        break;
      }
      if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) {
        c.finished = true;
        break;
      }
      if (task.crash_at > 0 && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) {
        c.crashed = true;
        task.crash_at = 0;  // the recovering children run to the end
        continue;
      }
      c.failure = "a child process " + describe(*status) + ": " + read_all(task.error);
      break;
    }
    c.step_runs = count_lines(task.marks);
    if (n == 0) last_hits_ = read_hits(task.counts);
    if (c.finished) check(task.database_url, c);
    return c;
  }

  const std::map<std::string, int>& last_hits() const { return last_hits_; }

 private:
  static std::string name(int n, const char* what) { return "case-" + std::to_string(n) + "." + what; }

  std::optional<int> run_child(const ChildTask& task, Clock::time_point deadline) {
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("crash sweep: fork: ") + std::strerror(errno));
    if (pid == 0) child_main(sweep_, task);
    return wait_until(pid, deadline);
  }

  void check(const std::string& database_url, CrashCase& c) {
    try {
      RuntimeConfig config = sweep_.config;
      config.database_url = database_url;
      Runtime rt(config);
      sweep_.setup(rt);
      sweep_.check(rt, c);
      c.held = true;
    } catch (const std::exception& e) {
      c.failure = e.what();
    }
  }

  const CrashSweep& sweep_;
  ScratchDir scratch_;
  std::map<std::string, int> last_hits_;
};

}  // namespace

int CrashCase::runs_of(const std::string& name) const {
  auto it = step_runs.find(name);
  return it == step_runs.end() ? 0 : it->second;
}

bool CrashSweepReport::ok() const {
  if (!reference.held) return false;
  for (const CrashCase& c : cases)
    if (!c.held) return false;
  return true;
}

std::string CrashSweepReport::summary() const {
  std::ostringstream out;
  auto line = [&out](const CrashCase& c) {
    out << (c.point.empty() ? std::string("reference") : c.point + " #" + std::to_string(c.crash_at))
        << (c.crashed ? " crashed" : " no crash") << ", " << c.processes << " process(es), steps:";
    for (const auto& [name, n] : c.step_runs) out << ' ' << name << '=' << n;
    out << (c.held ? " — held" : " — FAILED: " + c.failure) << '\n';
  };
  line(reference);
  for (const CrashCase& c : cases) line(c);
  return out.str();
}

CrashSweepReport sweep_crashes(const CrashSweep& sweep) {
  if (!sweep.setup || !sweep.start || !sweep.check)
    throw UsageError("sweep_crashes: setup, start and check must all be set");
  if (sweep.points.empty()) throw UsageError("sweep_crashes: no crash point to sweep");
  Sweeper sweeper(sweep);
  CrashSweepReport report;
  report.reference = sweeper.run_case(0, "", 0);
  report.hits = sweeper.last_hits();
  if (!report.reference.finished) return report;  // nothing to sweep against
  int n = 0;
  for (const std::string& point : sweep.points)
    for (int k = 1; k <= report.hits[point]; ++k) report.cases.push_back(sweeper.run_case(++n, point, k));
  return report;
}

}  // namespace keel::testing
