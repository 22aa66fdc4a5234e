// keel_bench — step overhead and workflow throughput of Keel on SQLite, beside
// a raw SQLite INSERT+COMMIT baseline measured in the same run.
//
// For each SQLite durability level (synchronous NORMAL and FULL, WAL mode),
// on fresh database files in a temporary directory:
//   raw    the sqlite3 C API directly: prepared BEGIN IMMEDIATE / INSERT of a
//          checkpoint-sized row / COMMIT, one transaction per row.
//   step   one workflow running K trivial steps (each returns an int); the
//          loop is timed inside the workflow, so the figure is the cost of
//          one checkpointed step (one write unit, one commit).
//   tx     one workflow running K ctx.transaction steps, each inserting one
//          application row (its checkpoint commits with it).
//   wf x1  3-step workflows, start() + result() from one client thread.
//   wf xN  the same from N concurrent client threads (default 64).
// Raw and Keel are interleaved (in ~50 ms chunks for raw/step/tx, phase by
// phase for the workflow rows) and every ratio is taken against the raw
// baseline of the same run (median over rounds), so machine noise and disk
// speed cancel out as far as possible. Each figure is given in
// wall time and in CPU time (thread or process): on a shared machine other
// processes inflate wall time, not CPU time.
//
// Commits are counted through RuntimeConfig::fault_hook
// ("checkpoint.after_commit" fires once per group commit).
//
// Usage: keel_bench [--sync normal|full|both] [--phase-ms N] [--rounds N]
//                   [--clients N] [--only raw,step,tx,wf1,wfN] [--dir PATH]
//                   [--quick] [--keep]
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "keel/keel.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ---------------------------------------------------------------- options

struct Options {
  std::vector<keel::SqliteSync> modes{keel::SqliteSync::Normal, keel::SqliteSync::Full};
  double phase_s = 0.5;  // target duration of one measured phase
  int rounds = 7;        // interleaved raw/step rounds (others use max(3, rounds-2))
  int clients = 64;
  std::set<std::string> only;  // empty: all phases
  std::string dir;             // empty: a fresh temp dir
  bool keep = false;

  bool want(const std::string& phase) const { return only.empty() || only.count(phase) > 0; }
};

[[noreturn]] void usage(const char* argv0, int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: %s [--sync normal|full|both] [--phase-ms N] [--rounds N] [--clients N]\n"
               "          [--only raw,step,tx,wf1,wfN] [--dir PATH] [--quick] [--keep]\n"
               "  --phase-ms  target length of one measured phase (default 500)\n"
               "  --rounds    interleaved raw/step rounds (default 7; tx/wf phases use max(3, rounds-2))\n"
               "  --clients   concurrent client threads of the wfN phase (default 64)\n"
               "  --only      run only these phases (raw always runs: it is the baseline)\n"
               "  --dir       put the database files here (default: a new dir under $TMPDIR or /tmp)\n"
               "  --quick     --phase-ms 150 --rounds 3 (smoke run, figures are rough)\n"
               "  --keep      keep the database files\n",
               argv0);
  std::exit(code);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(argv[0], 2);
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(argv[0], 0);
    } else if (a == "--sync") {
      std::string v = value();
      if (v == "normal") o.modes = {keel::SqliteSync::Normal};
      else if (v == "full") o.modes = {keel::SqliteSync::Full};
      else if (v == "both") o.modes = {keel::SqliteSync::Normal, keel::SqliteSync::Full};
      else usage(argv[0], 2);
    } else if (a == "--phase-ms") {
      o.phase_s = std::max(10, std::atoi(value().c_str())) / 1000.0;
    } else if (a == "--rounds") {
      o.rounds = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--clients") {
      o.clients = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--only") {
      std::stringstream ss(value());
      for (std::string p; std::getline(ss, p, ',');) {
        if (p != "raw" && p != "step" && p != "tx" && p != "wf1" && p != "wfN") usage(argv[0], 2);
        o.only.insert(p);
      }
    } else if (a == "--dir") {
      o.dir = value();
    } else if (a == "--quick") {
      o.phase_s = 0.15;
      o.rounds = 3;
    } else if (a == "--keep") {
      o.keep = true;
    } else {
      usage(argv[0], 2);
    }
  }
  return o;
}

const char* sync_name(keel::SqliteSync s) { return s == keel::SqliteSync::Full ? "FULL" : "NORMAL"; }

// ---------------------------------------------------------------- statistics and clocks

struct Samples {
  std::vector<double> v;
  void add(double x) { v.push_back(x); }
  bool empty() const { return v.empty(); }
  double median() const {
    if (v.empty()) return 0;
    auto s = v;
    std::sort(s.begin(), s.end());
    size_t n = s.size();
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  double min() const { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }
  double max() const { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }
};

int64_t cpu_ns(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}
// CPU time (user + system) of the calling thread / of the whole process. On a
// shared machine this is far steadier than wall time: another process's load
// delays us (wall) but does not make our work bigger (CPU).
int64_t thread_cpu_ns() { return cpu_ns(CLOCK_THREAD_CPUTIME_ID); }
int64_t process_cpu_ns() { return cpu_ns(CLOCK_PROCESS_CPUTIME_ID); }

// Wall and CPU microseconds per operation of one measured phase.
struct Cost {
  double wall_us = 0;
  double cpu_us = 0;
  int64_t ops = 0;
};

std::string loadavg() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return "?";
  char buf[128] = {0};
  if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
  std::fclose(f);
  std::string s(buf);
  // the three load averages only
  size_t cut = 0;
  for (int spaces = 0; cut < s.size() && spaces < 3; ++cut)
    if (s[cut] == ' ') ++spaces;
  return s.substr(0, cut ? cut - 1 : 0);
}

// ---------------------------------------------------------------- raw SQLite baseline

void check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

// One connection configured as Keel configures its writer (WAL, the same
// synchronous level), inserting rows shaped like a keel_operation_outputs
// checkpoint row, each in its own BEGIN IMMEDIATE ... COMMIT.
class RawBaseline {
 public:
  RawBaseline(const std::string& path, keel::SqliteSync sync) {
    check(db_, sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                               nullptr),
          "open");
    sqlite3_busy_timeout(db_, 10000);
    exec("PRAGMA journal_mode=WAL");
    exec(sync == keel::SqliteSync::Full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec(
        "CREATE TABLE IF NOT EXISTS raw_checkpoints (workflow_id TEXT NOT NULL, function_id INTEGER NOT NULL, "
        "name TEXT NOT NULL, output TEXT, started_at INTEGER NOT NULL, completed_at INTEGER NOT NULL, "
        "PRIMARY KEY (workflow_id, function_id)) WITHOUT ROWID");
    begin_ = prepare("BEGIN IMMEDIATE");
    insert_ = prepare(
        "INSERT INTO raw_checkpoints (workflow_id, function_id, name, output, started_at, completed_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    commit_ = prepare("COMMIT");
  }
  ~RawBaseline() {
    sqlite3_finalize(begin_);
    sqlite3_finalize(insert_);
    sqlite3_finalize(commit_);
    sqlite3_close_v2(db_);
  }
  RawBaseline(const RawBaseline&) = delete;
  RawBaseline& operator=(const RawBaseline&) = delete;

  // One row in its own transaction.
  void op() {
    ++seq_;
    run(begin_);
    // A UUID-sized workflow id (36 chars), a step name, a small JSON output.
    static const std::string wid = "0b6c1f0e-5d1a-4c1e-9a53-6f1d2a9b7c30";
    static const std::string name = "step";
    std::string output = std::to_string(seq_);
    int64_t now = static_cast<int64_t>(seq_);
    sqlite3_bind_text(insert_, 1, wid.data(), static_cast<int>(wid.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert_, 2, seq_);
    sqlite3_bind_text(insert_, 3, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert_, 4, output.data(), static_cast<int>(output.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(insert_, 5, now);
    sqlite3_bind_int64(insert_, 6, now);
    run(insert_);
    run(commit_);
  }

  // Runs ops for about `seconds` (at least min_ops); returns the cost per op.
  Cost measure(double seconds, int64_t min_ops = 20) {
    auto t0 = Clock::now();
    int64_t c0 = thread_cpu_ns();
    int64_t n = 0;
    while (n < min_ops || seconds_since(t0) < seconds) {
      op();
      ++n;
    }
    double wall = seconds_since(t0) * 1e6;
    double cpu = static_cast<double>(thread_cpu_ns() - c0) / 1e3;
    return {wall / static_cast<double>(n), cpu / static_cast<double>(n), n};
  }

 private:
  void exec(const char* sql) { check(db_, sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), sql); }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    check(db_, sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr), sql);
    return s;
  }
  void run(sqlite3_stmt* s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) check(db_, rc, sqlite3_sql(s));
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  int64_t seq_ = 0;
};

// ---------------------------------------------------------------- Keel side

// Counts group commits through the fault hook (one relaxed atomic increment
// per commit; the hook is a no-op for every other point).
struct Counters {
  std::atomic<int64_t> commits{0};
};

// What a timed workflow returns: its loop's wall and thread-CPU nanoseconds.
using LoopTimes = std::vector<int64_t>;

struct KeelBench {
  std::unique_ptr<keel::Runtime> rt;
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();
  std::optional<keel::Workflow<LoopTimes, int>> steps;  // K steps
  std::optional<keel::Workflow<LoopTimes, int>> txs;    // K transactions
  std::optional<keel::Workflow<int, int>> three;        // 3 steps
  std::optional<keel::Workflow<int, int>> empty;        // no operation

  KeelBench(const std::string& path, keel::SqliteSync sync) {
    keel::RuntimeConfig cfg;
    cfg.database_url = "sqlite:" + path;
    cfg.executor_id = "bench";
    cfg.sqlite_synchronous = sync;
    auto c = counters;
    cfg.fault_hook = [c](std::string_view point) {
      if (point == "checkpoint.after_commit") c->commits.fetch_add(1, std::memory_order_relaxed);
    };
    rt = std::make_unique<keel::Runtime>(cfg);
    // The timings are returned as the workflow's output: not deterministic,
    // which is fine here (nothing is ever recovered).
    steps = rt->register_workflow("bench.steps", [](keel::Context& ctx, int k) -> LoopTimes {
      auto t0 = Clock::now();
      int64_t c0 = thread_cpu_ns();
      int64_t sum = 0;
      for (int i = 0; i < k; ++i) sum += ctx.step("step", [i] { return i; });
      int64_t cpu = thread_cpu_ns() - c0;
      auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
      return {static_cast<int64_t>(wall), cpu, sum};
    });
    txs = rt->register_workflow("bench.transactions", [](keel::Context& ctx, int k) -> LoopTimes {
      const std::string id = ctx.workflow_id();  // the body must not call back into the Context
      auto t0 = Clock::now();
      int64_t c0 = thread_cpu_ns();
      for (int i = 0; i < k; ++i) {
        ctx.transaction("insert", [&](keel::Sql& sql) {
          sql.execute("INSERT INTO bench_items (workflow_id, i, payload) VALUES ($1, $2, $3)",
                      {id, int64_t{i}, std::string(R"({"qty":1,"sku":"A-17"})")});
        });
      }
      int64_t cpu = thread_cpu_ns() - c0;
      auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
      return {static_cast<int64_t>(wall), cpu};
    });
    three = rt->register_workflow("bench.three", [](keel::Context& ctx, int x) -> int {
      int a = ctx.step("a", [x] { return x + 1; });
      int b = ctx.step("b", [a] { return a * 2; });
      return ctx.step("c", [b] { return b - 1; });
    });
    empty = rt->register_workflow("bench.empty", [](keel::Context&, int x) -> int { return x; });
    rt->launch();
    rt->run_sql_write([](keel::Sql& sql) {
      sql.execute_script(
          "CREATE TABLE IF NOT EXISTS bench_items (workflow_id TEXT NOT NULL, i INTEGER NOT NULL, "
          "payload TEXT NOT NULL, PRIMARY KEY (workflow_id, i)) WITHOUT ROWID");
    });
  }

  struct LoopResult {
    Cost per_op;      // timed inside the workflow, on its thread
    double total_us;  // start() to result() on the client
    int64_t commits;
  };

  LoopResult run_loop(const keel::Workflow<LoopTimes, int>& wf, int k) {
    int64_t c0 = counters->commits.load();
    auto t0 = Clock::now();
    LoopTimes t = rt->start(wf, {}, k).result();
    double total = seconds_since(t0) * 1e6;
    double n = std::max(1, k);
    return {{static_cast<double>(t.at(0)) / 1e3 / n, static_cast<double>(t.at(1)) / 1e3 / n, k}, total,
            counters->commits.load() - c0};
  }

  // Median wall µs of `n` sequential start(empty)+result().
  double empty_workflow_us(int n) {
    Samples s;
    for (int i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      if (rt->start(*empty, {}, i).result() != i) throw std::runtime_error("wrong workflow result");
      s.add(seconds_since(t0) * 1e6);
    }
    return s.median();
  }

  struct ThroughputResult {
    double wf_per_s;
    double cpu_us_per_wf;  // process CPU (all threads) per workflow
    int64_t workflows;
    int64_t commits;
  };

  // `clients` threads each run start(three)+result() back to back for `seconds`.
  ThroughputResult throughput(int clients, double seconds) {
    std::atomic<int64_t> done{0};
    std::atomic<bool> failed{false};
    std::string error;
    std::mutex error_mu;
    int64_t c0 = counters->commits.load();
    int64_t cpu0 = process_cpu_ns();
    auto t0 = Clock::now();
    auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    auto client = [&](int who) {
      try {
        for (int i = 0; Clock::now() < deadline && !failed.load(); ++i) {
          int x = who * 100000 + i % 100000;
          if (rt->start(*three, {}, x).result() != (x + 1) * 2 - 1) throw std::runtime_error("wrong workflow result");
          done.fetch_add(1, std::memory_order_relaxed);
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(error_mu);
        if (!failed.exchange(true)) error = e.what();
      }
    };
    if (clients == 1) {
      client(0);
    } else {
      std::vector<std::thread> threads;
      threads.reserve(static_cast<size_t>(clients));
      for (int i = 0; i < clients; ++i) threads.emplace_back(client, i);
      for (auto& t : threads) t.join();
    }
    double elapsed = seconds_since(t0);  // includes the tail: workflows started before the deadline
    double cpu_us = static_cast<double>(process_cpu_ns() - cpu0) / 1e3;
    if (failed.load()) throw std::runtime_error("throughput client failed: " + error);
    int64_t n = std::max<int64_t>(1, done.load());
    return {static_cast<double>(done.load()) / elapsed, cpu_us / static_cast<double>(n), done.load(),
            counters->commits.load() - c0};
  }
};

// ---------------------------------------------------------------- report

struct Row {
  std::string sync;
  std::string what;
  Samples wall, cpu;              // µs per op, one sample per round
  Samples wall_ratio, cpu_ratio;  // against the raw baseline measured just before, per round
  double commits_per_op = -1;     // -1: not counted
  std::string note;
};

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

void print_rows(const std::vector<Row>& rows) {
  std::printf("\n%-6s %-36s %10s %9s %7s %9s %7s %17s %7s  %s\n", "sync", "measure", "wall us", "ops/s", "x raw",
              "cpu us", "x raw", "wall spread", "commits", "note");
  std::printf("%s\n", std::string(150, '-').c_str());
  for (const auto& r : rows) {
    double w = r.wall.median();
    std::string cpu = r.cpu.empty() ? "-" : fmt("%.1f", r.cpu.median());
    std::string cpu_ratio = r.cpu_ratio.empty() ? "-" : fmt("%.2f", r.cpu_ratio.median());
    std::string wall_ratio = r.wall_ratio.empty() ? "-" : fmt("%.2f", r.wall_ratio.median());
    std::string spread = fmt("%.1f", r.wall.min()) + ".." + fmt("%.1f", r.wall.max());
    std::string commits = r.commits_per_op < 0 ? "-" : fmt("%.2f", r.commits_per_op);
    std::printf("%-6s %-36s %10.1f %9.0f %7s %9s %7s %17s %7s  %s\n", r.sync.c_str(), r.what.c_str(), w,
                w > 0 ? 1e6 / w : 0, wall_ratio.c_str(), cpu.c_str(), cpu_ratio.c_str(), spread.c_str(),
                commits.c_str(), r.note.c_str());
  }
  std::fflush(stdout);
}

// ---------------------------------------------------------------- one durability level

void run_mode(const Options& o, keel::SqliteSync sync, const fs::path& dir, std::vector<Row>& rows) {
  const std::string s = sync_name(sync);
  std::string lower = s;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const fs::path raw_path = dir / ("raw-" + lower + ".db");
  const fs::path keel_path = dir / ("keel-" + lower + ".db");
  for (const auto& p : {raw_path, keel_path})
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(p.string() + suffix);

  std::fprintf(stderr, "[%s] raw baseline and Keel on fresh files in %s (load %s)\n", s.c_str(), dir.c_str(),
               loadavg().c_str());
  RawBaseline raw(raw_path.string(), sync);
  KeelBench kb(keel_path.string(), sync);
  const int minor_rounds = std::max(3, o.rounds - 2);

  // Warm-up and calibration: per-op estimates to size K.
  raw.measure(std::min(0.1, o.phase_s));
  double step_est = o.want("step") ? kb.run_loop(*kb.steps, 20).per_op.wall_us : 0;
  double tx_est = o.want("tx") ? kb.run_loop(*kb.txs, 20).per_op.wall_us : 0;

  // One round of raw vs a K-operation workflow, interleaved finely: `chunks`
  // alternations of ~seconds/chunks of raw ops then one workflow of about
  // the same length, so that slow drifts (disk flush times, other processes)
  // hit both sides alike.
  struct Round {
    Cost raw, keel;
    double client_us = 0;  // sum of start()..result() of the workflows
    int workflows = 0;
    int64_t commits = 0;
  };
  auto paired_round = [&](const keel::Workflow<LoopTimes, int>& wf, double seconds, double& est) {
    const int chunks = std::max(1, static_cast<int>(std::lround(seconds / 0.05)));
    const double chunk_s = seconds / chunks;
    double raw_wall = 0, raw_cpu = 0, keel_wall = 0, keel_cpu = 0;
    Round r;
    for (int c = 0; c < chunks; ++c) {
      Cost b = raw.measure(chunk_s, 5);
      raw_wall += b.wall_us * static_cast<double>(b.ops);
      raw_cpu += b.cpu_us * static_cast<double>(b.ops);
      r.raw.ops += b.ops;
      int k = static_cast<int>(std::clamp(chunk_s * 1e6 / std::max(est, 0.1), 5.0, 1e6));
      auto res = kb.run_loop(wf, k);
      keel_wall += res.per_op.wall_us * k;
      keel_cpu += res.per_op.cpu_us * k;
      r.keel.ops += k;
      r.client_us += res.total_us;
      r.workflows += 1;
      r.commits += res.commits - 2;  // minus the workflow's own start and finish
      est = res.per_op.wall_us;
    }
    auto per = [](double total, int64_t n) { return total / static_cast<double>(std::max<int64_t>(1, n)); };
    r.raw.wall_us = per(raw_wall, r.raw.ops);
    r.raw.cpu_us = per(raw_cpu, r.raw.ops);
    r.keel.wall_us = per(keel_wall, r.keel.ops);
    r.keel.cpu_us = per(keel_cpu, r.keel.ops);
    return r;
  };

  // 1 + 2: raw baseline and step overhead.
  Row base{s, "raw INSERT+COMMIT (baseline)", {}, {}, {}, {}, 1.0, "sqlite3 C API, prepared, 1 row per txn"};
  Row step{s, "step (timed inside the workflow)", {}, {}, {}, {}, -1, "K steps in one workflow, per step"};
  Row step_client{s, "step, client: (t(K) - t(0)) / K", {}, {}, {}, {}, -1, "start+result, minus empty workflow"};
  Row empty{s, "empty workflow, start+result", {}, {}, {}, {}, -1, "1 client; 2 write units"};
  int64_t step_commits = 0, step_ops = 0;
  for (int r = 0; r < o.rounds; ++r) {
    if (!o.want("step")) {
      Cost b = raw.measure(o.phase_s);
      base.wall.add(b.wall_us);
      base.cpu.add(b.cpu_us);
      std::fprintf(stderr, "[%s] round %d/%d: raw %.1f us/op (cpu %.1f)\n", s.c_str(), r + 1, o.rounds, b.wall_us,
                   b.cpu_us);
      continue;
    }
    double t0 = kb.empty_workflow_us(5);
    Round rd = paired_round(*kb.steps, o.phase_s, step_est);
    const Cost& b = rd.raw;
    base.wall.add(b.wall_us);
    base.cpu.add(b.cpu_us);
    empty.wall.add(t0);
    empty.wall_ratio.add(t0 / b.wall_us);
    step.wall.add(rd.keel.wall_us);
    step.cpu.add(rd.keel.cpu_us);
    step.wall_ratio.add(rd.keel.wall_us / b.wall_us);
    step.cpu_ratio.add(rd.keel.cpu_us / b.cpu_us);
    double client = (rd.client_us - rd.workflows * t0) / static_cast<double>(rd.keel.ops);
    step_client.wall.add(client);
    step_client.wall_ratio.add(client / b.wall_us);
    step_commits += rd.commits;
    step_ops += rd.keel.ops;
    std::fprintf(stderr, "[%s] round %d/%d: raw %.1f us/op (cpu %.1f), step %.1f us (cpu %.1f), %lld steps\n",
                 s.c_str(), r + 1, o.rounds, b.wall_us, b.cpu_us, rd.keel.wall_us, rd.keel.cpu_us,
                 static_cast<long long>(rd.keel.ops));
  }
  base.wall_ratio.add(1.0);
  base.cpu_ratio.add(1.0);
  rows.push_back(base);
  if (o.want("step")) {
    step.commits_per_op = static_cast<double>(step_commits) / static_cast<double>(step_ops);
    rows.push_back(step);
    rows.push_back(step_client);
  }

  // 4: transaction steps (the checkpoint and one application row, one commit).
  if (o.want("tx")) {
    Row tx{s, "transaction step (1 app INSERT)", {}, {}, {}, {}, -1, "checkpoint + app row, one commit"};
    int64_t commits = 0, ops = 0;
    for (int r = 0; r < minor_rounds; ++r) {
      Round rd = paired_round(*kb.txs, o.phase_s, tx_est);
      tx.wall.add(rd.keel.wall_us);
      tx.cpu.add(rd.keel.cpu_us);
      tx.wall_ratio.add(rd.keel.wall_us / rd.raw.wall_us);
      tx.cpu_ratio.add(rd.keel.cpu_us / rd.raw.cpu_us);
      commits += rd.commits;
      ops += rd.keel.ops;
    }
    tx.commits_per_op = static_cast<double>(commits) / static_cast<double>(ops);
    rows.push_back(tx);
  }

  // 3: workflow throughput. A 3-step workflow is 5 write units (start, 3
  // steps, finish); its result() is read through a reader connection.
  auto throughput_row = [&](int clients, const std::string& label) {
    Row row{s, label, {}, {}, {}, {}, -1, "per workflow; ops/s = workflows/s; cpu = all threads"};
    int64_t wfs = 0, commits = 0;
    kb.throughput(clients, std::min(0.1, o.phase_s));  // warm-up (threads, reader pool)
    for (int r = 0; r < minor_rounds; ++r) {
      Cost b = raw.measure(o.phase_s / 2);
      auto res = kb.throughput(clients, o.phase_s);
      double us = 1e6 / res.wf_per_s;
      row.wall.add(us);
      row.cpu.add(res.cpu_us_per_wf);
      row.wall_ratio.add(us / b.wall_us);
      row.cpu_ratio.add(res.cpu_us_per_wf / b.cpu_us);
      wfs += res.workflows;
      commits += res.commits;
      std::fprintf(stderr, "[%s] %s: %.0f workflows/s, %.2f commits/workflow\n", s.c_str(), label.c_str(),
                   res.wf_per_s, static_cast<double>(res.commits) / static_cast<double>(std::max<int64_t>(1, res.workflows)));
    }
    row.commits_per_op = static_cast<double>(commits) / static_cast<double>(std::max<int64_t>(1, wfs));
    rows.push_back(row);
  };
  if (o.want("wf1")) throughput_row(1, "3-step workflow, 1 client");
  if (o.want("wfN")) throughput_row(o.clients, "3-step workflow, " + std::to_string(o.clients) + " clients");
  if (o.want("step")) rows.push_back(empty);
}

void print_goals(const std::vector<Row>& rows) {
  std::printf("\nGoal (issue): step <= 1.5x raw baseline, and <= 20 us per step at NORMAL.\n");
  for (const auto& r : rows) {
    if (r.what.rfind("step (timed", 0) != 0) continue;
    double w = r.wall.median(), wr = r.wall_ratio.median(), cr = r.cpu_ratio.median();
    std::printf("  %-6s step %.1f us wall (%.2fx raw), %.1f us cpu (%.2fx raw): ratio goal %s", r.sync.c_str(), w, wr,
                r.cpu.median(), cr, wr <= 1.5 && cr <= 1.5 ? "MET" : (cr <= 1.5 || wr <= 1.5 ? "MIXED" : "MISSED"));
    if (r.sync == "NORMAL") std::printf(", 20 us goal %s", w <= 20 ? "MET" : "MISSED");
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
#ifndef NDEBUG
  std::fprintf(stderr, "warning: keel_bench built without NDEBUG (not a Release build): figures are not meaningful\n");
#endif
  fs::path dir;
  bool made_dir = false;
  if (!o.dir.empty()) {
    dir = o.dir;
    fs::create_directories(dir);
  } else {
    std::string tmpl = (fs::temp_directory_path() / "keel_bench.XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = buf.data();
    made_dir = true;
  }

  auto t0 = Clock::now();
  const std::string load_before = loadavg();
  std::vector<Row> rows;
  int rc = 0;
  try {
    for (auto sync : o.modes) run_mode(o, sync, dir, rows);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keel_bench: %s\n", e.what());
    rc = 1;
  }
  std::printf("keel_bench: SQLite %s, WAL, %u hardware threads, phase %.0f ms, %d rounds, load avg %s -> %s\n",
              sqlite3_libversion(), std::thread::hardware_concurrency(), o.phase_s * 1000, o.rounds,
              load_before.c_str(), loadavg().c_str());
  print_rows(rows);
  std::printf(
      "\nwall us: median over rounds of wall-clock microseconds per op (per workflow for the workflow rows).\n"
      "cpu us:  median of CPU microseconds per op: of the thread doing the work (raw, step, transaction), or of\n"
      "         the whole process (workflow rows). Steadier than wall time on a shared machine.\n"
      "x raw:   median over rounds of Keel / raw, the raw baseline measured just before, same sync level.\n"
      "commits: group commits per op (per workflow on the workflow rows; a 3-step workflow has 5 write units).\n");
  print_goals(rows);
  std::printf("total %.1f s\n", seconds_since(t0));
  if (made_dir && !o.keep) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return rc;
}
