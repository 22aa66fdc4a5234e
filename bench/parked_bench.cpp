// keel_parked_bench — many checkout-like workflows parked in recv: memory,
// threads, and the wake-up latency when their messages arrive.
//
// Each workflow: a transaction reserving inventory (one application row
// updated), set_event("session"), recv("payment", --timeout-s), a final step.
// Phases:
//   park    start N workflows (from --starters client threads) and wait until
//           all are parked: time, RSS (VmRSS, VmHWM), threads.
//   recover (--recover) the Runtime is destroyed with all parked (they stay
//           PENDING, as after a kill) and a new one with the same executor
//           id launches: launch()'s time and the time until all are parked
//           again (each replayed up to its recv).
//   takeover (--takeover, PostgreSQL) the same, but the new Runtime is
//           another executor: its heartbeat takes the released executor's
//           workflows over (take_over, then recovery in batches). A killed
//           executor's are moved the same way once its lease expires
//           (lease_timeout after the survivor first sees it, plus up to two
//           heartbeats): add that to the figure.
//   paced   --paced workflows get their message one at a time, at --paced-rate
//           per second: wake-up latency with the system otherwise idle.
//   burst   every other workflow gets its message from --senders threads as
//           fast as they go: latency under load and throughput.
// Latency = send() called (its commit included) -> the workflow's final step body ran (its
// checkpoint and the workflow's end are the next commits).
//
// Usage: keel_parked_bench [--workflows N] [--db URL] [--threads N]
//          [--park-after-ms N] [--starters N] [--senders N] [--paced N]
//          [--paced-rate N] [--timeout-s N] [--sync normal|full] [--keep] [--recover | --takeover]
//   --db  sqlite:PATH or postgresql://... (default: a fresh SQLite file under /tmp)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "keel/keel.hpp"
#include "runtime/runtime_access.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  int workflows = 100000;
  std::string db;
  int threads = 64;
  int park_after_ms = 0;
  int starters = 8;
  int senders = 8;
  int paced = 1000;
  int paced_rate = 200;
  int timeout_s = 3600;
  keel::SqliteSync sync = keel::SqliteSync::Normal;
  bool keep = false;
  bool recover = false;
  bool takeover = false;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: keel_parked_bench [--workflows N] [--db URL] [--threads N] [--park-after-ms N]\n"
               "         [--starters N] [--senders N] [--paced N] [--paced-rate N] [--timeout-s N]\n"
               "         [--sync normal|full] [--keep] [--recover | --takeover]\n");
  std::exit(code);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    auto number = [&] { return std::atoi(value().c_str()); };
    if (a == "--workflows") o.workflows = number();
    else if (a == "--db") o.db = value();
    else if (a == "--threads") o.threads = number();
    else if (a == "--park-after-ms") o.park_after_ms = number();
    else if (a == "--starters") o.starters = std::max(1, number());
    else if (a == "--senders") o.senders = std::max(1, number());
    else if (a == "--paced") o.paced = std::max(0, number());
    else if (a == "--paced-rate") o.paced_rate = std::max(1, number());
    else if (a == "--timeout-s") o.timeout_s = number();
    else if (a == "--sync") o.sync = value() == "full" ? keel::SqliteSync::Full : keel::SqliteSync::Normal;
    else if (a == "--keep") o.keep = true;
    else if (a == "--recover") o.recover = true;
    else if (a == "--takeover") o.takeover = true;
    else if (a == "--help" || a == "-h") usage(0);
    else usage(2);
  }
  o.paced = std::min(o.paced, o.workflows);
  return o;
}

// A field of /proc/self/status ("VmRSS", "VmHWM" in kB; "Threads").
long proc_status(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  return -1;
}

void print_memory(const char* when) {
  std::printf("  %-28s VmRSS %7.1f MiB  VmHWM %7.1f MiB  threads %ld\n", when, proc_status("VmRSS") / 1024.0,
              proc_status("VmHWM") / 1024.0, proc_status("Threads"));
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Timing {
  std::vector<Clock::time_point> sent, finished;
  std::atomic<int> done{0};
  explicit Timing(int n) : sent(static_cast<size_t>(n)), finished(static_cast<size_t>(n)) {}
};

void report_latency(const char* phase, Timing& t, int from, int to, Clock::duration wall) {
  std::vector<double> lat;
  for (int i = from; i < to; ++i) lat.push_back(ms(t.finished[static_cast<size_t>(i)] - t.sent[static_cast<size_t>(i)]));
  if (lat.empty()) return;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return lat[std::min(lat.size() - 1, static_cast<size_t>(p * static_cast<double>(lat.size())))]; };
  std::printf("  %-6s %6d woken in %7.2f s (%8.0f /s): latency p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms\n", phase,
              to - from, std::chrono::duration<double>(wall).count(),
              (to - from) / std::chrono::duration<double>(wall).count(), pct(0.50), pct(0.99), lat.back());
}

template <class F>
void in_parallel(int threads, int from, int to, F fn) {
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = from + t; i < to; i += threads) fn(i);
    });
  for (auto& th : ts) th.join();
}

void wait_until(const std::function<bool()>& pred, const char* what) {
  auto last_print = Clock::now();
  while (!pred()) {
    std::this_thread::sleep_for(10ms);
    if (Clock::now() - last_print > 10s) {
      std::printf("  ... still waiting: %s\n", what);
      std::fflush(stdout);
      last_print = Clock::now();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::filesystem::path dir;
  if (o.db.empty()) {
    dir = std::filesystem::temp_directory_path() / ("keel_parked_bench_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    o.db = "sqlite:" + (dir / "bench.db").string();
  }
  keel::RuntimeConfig cfg;
  cfg.database_url = o.db;
  cfg.executor_id = "parked-bench-" + std::to_string(::getpid());
  cfg.sqlite_synchronous = o.sync;
  cfg.max_workflow_threads = o.threads;
  cfg.park_after = std::chrono::milliseconds(o.park_after_ms);
  std::printf("keel_parked_bench: %d workflows, %d pool threads, park_after %d ms, db %s%s\n", o.workflows,
              o.threads, o.park_after_ms, o.db.c_str(),
              o.db.rfind("sqlite:", 0) == 0 ? (o.sync == keel::SqliteSync::Full ? " (synchronous=FULL)"
                                                                                 : " (synchronous=NORMAL)")
                                             : "");
  print_memory("before start");
  Timing timing(o.workflows);
  const std::string run = std::to_string(::getpid());
  auto id_of = [&](int i) { return "chk-" + run + "-" + std::to_string(i); };
  {
    auto rt_owner = std::make_unique<keel::Runtime>(cfg);
    rt_owner->run_sql_write([](keel::Sql& sql) {
      sql.execute_script(
          "CREATE TABLE IF NOT EXISTS bench_inventory (product_id INTEGER PRIMARY KEY, inventory INTEGER NOT NULL)");
      sql.execute("INSERT INTO bench_inventory (product_id, inventory) VALUES (1, 1000000000) "
                  "ON CONFLICT (product_id) DO NOTHING",
                  {});
    });
    const auto timeout = std::chrono::seconds(o.timeout_s);
    auto checkout_fn = [&timing, timeout](keel::Context& ctx, int n) {
      ctx.transaction("reserve", [](keel::Sql& sql) {
        sql.execute("UPDATE bench_inventory SET inventory = inventory - 1 WHERE product_id = 1", {});
      });
      ctx.set_event("session", "cs_" + std::to_string(n));
      auto paid = ctx.recv<bool>("payment", timeout);
      ctx.step("fulfil", [&] {
        timing.finished[static_cast<size_t>(n)] = Clock::now();
        timing.done.fetch_add(1);
      });
      return paid.value_or(false);
    };
    auto checkout = rt_owner->register_workflow("bench_checkout", checkout_fn);
    rt_owner->launch();
    keel::Runtime* rtp = rt_owner.get();
    auto engine_of = [&]() -> keel::detail::Engine& { return keel::detail::RuntimeAccess::engine(*rtp); };

    auto t0 = Clock::now();
    in_parallel(o.starters, 0, o.workflows, [&](int i) { (void)rtp->start(checkout, {.workflow_id = id_of(i)}, i); });
    auto started = Clock::now();
    wait_until([&] { return engine_of().counters().parked == static_cast<size_t>(o.workflows); }, "all parked");
    auto parked = Clock::now();
    std::printf("  park   %d started in %.2f s, all parked after %.2f s (%.0f workflows/s); pool threads %zu\n",
                o.workflows, std::chrono::duration<double>(started - t0).count(),
                std::chrono::duration<double>(parked - t0).count(),
                o.workflows / std::chrono::duration<double>(parked - t0).count(), engine_of().counters().pool_threads);
    print_memory("all parked");
    std::fflush(stdout);

    // Recover: the process stops (its parked workflows stay PENDING, as after
    // a kill) and a new Runtime launches: with the same executor id, or
    // (takeover) another one, which takes the released executor's over.
    if (o.recover || o.takeover) {
      rt_owner.reset();
      keel::RuntimeConfig next = cfg;
      if (o.takeover) next.executor_id += "-b";
      rt_owner = std::make_unique<keel::Runtime>(next);
      (void)rt_owner->register_workflow("bench_checkout", checkout_fn);
      rtp = rt_owner.get();
      auto r0 = Clock::now();
      const size_t recovered = rtp->launch().recovered.size();
      auto launched = Clock::now();
      wait_until([&] { return engine_of().counters().parked == static_cast<size_t>(o.workflows); }, "all parked again");
      auto reparked = Clock::now();
      std::printf("  %s launch() %.2f s (%zu recovered), all parked again after %.2f s; pool threads %zu\n",
                  o.takeover ? "takeover" : "recover", std::chrono::duration<double>(launched - r0).count(), recovered,
                  std::chrono::duration<double>(reparked - r0).count(), engine_of().counters().pool_threads);
      print_memory("all parked again");
      std::fflush(stdout);
    }

    // Paced: one message at a time, the system otherwise idle.
    auto p0 = Clock::now();
    auto gap = std::chrono::microseconds(1000000 / o.paced_rate);
    for (int i = 0; i < o.paced; ++i) {
      std::this_thread::sleep_until(p0 + gap * i);
      timing.sent[static_cast<size_t>(i)] = Clock::now();
      rtp->send(id_of(i), true, "payment");
    }
    wait_until([&] { return timing.done.load() >= o.paced; }, "paced wake-ups");
    report_latency("paced", timing, 0, o.paced, Clock::now() - p0);

    // Burst: every other message as fast as the senders go.
    auto b0 = Clock::now();
    in_parallel(o.senders, o.paced, o.workflows, [&](int i) {
      timing.sent[static_cast<size_t>(i)] = Clock::now();
      rtp->send(id_of(i), true, "payment");
    });
    auto sent_all = Clock::now();
    wait_until([&] { return timing.done.load() >= o.workflows; }, "burst wake-ups");
    auto b1 = Clock::now();
    std::printf("  burst  %d messages sent in %.2f s\n", o.workflows - o.paced,
                std::chrono::duration<double>(sent_all - b0).count());
    report_latency("burst", timing, o.paced, o.workflows, b1 - b0);
    wait_until([&] { return engine_of().counters().parked == 0; }, "lot empty");
    print_memory("all woken");
    std::printf("  pool threads used: %zu (limit %d)\n", engine_of().counters().pool_threads, o.threads);
    rtp->shutdown();
  }
  if (!dir.empty() && !o.keep) std::filesystem::remove_all(dir);
  return 0;
}
