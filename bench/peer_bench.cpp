// keel_peer_bench — the four workloads of the DBOS-TS peer benchmark
// (shared/peers/dbos-ts/bench.mjs) on Keel, on PostgreSQL or SQLite, so the
// two can be run side by side on the same server (bench/compare.sh).
//
// usage: keel_peer_bench <steps|workflows|checkout|idempotent|all>[,...] [DATABASE_URL]
//
//   steps       one workflow, STEPS_N sequential no-op steps, STEPS_REPS times;
//               µs/step = (median total − median empty workflow) / N
//   workflows   WF_COUNT 3-step workflows, start() + result(), from C client
//               threads for each C in WF_CONC; workflows/s, p50/p99
//   checkout    reserve inventory (ctx.transaction: UPDATE inventory),
//               set_event("session"), recv("payment"), final step; the client
//               waits get_event, sends "paid", waits result(). CO_COUNT
//               checkouts from CO_CONC clients over CO_SKUS rows
//   idempotent  start() of one completed workflow ID, IDEM_COUNT times
//
// env (same names and defaults as bench.mjs): STEPS_N (1000) STEPS_REPS (3)
// WF_COUNT (2000) WF_CONC ("1,64") CO_COUNT (1000) CO_CONC (32) CO_SKUS (256)
// IDEM_COUNT (1000) BENCH_SQLSTATS (1) RESULTS_DIR SETTLE_MS (2500: the pause
// after launch on PostgreSQL, see main); START_AT_EPOCH_MS: the
// workflows phase begins (after its warm-up) at this wall-clock instant, for
// several processes measured together (bench/executors.sh).
// DATABASE_URL defaults to $KEEL_DATABASE_URL, then
// postgresql://bench:bench@127.0.0.1:5432/keel_bench. STATS_DATABASE_URL
// (default $APP_DATABASE_URL, then postgresql://bench:bench@127.0.0.1:5432/bench)
// is where pg_stat_statements is read (the view is cluster-wide; rows are
// filtered to DATABASE_URL's database).
//
// Prints one line per measured phase, as bench.mjs does:
//   RESULT {"bench": ..., ...}      SQLSTATS {"bench": ..., "per_unit": {...}, ...}
// Not a test: nothing here asserts a duration.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "keel/keel.hpp"
#include "peer_stats.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using keel::Json;
using keel_peer_bench::PhaseStats;
using keel_peer_bench::r3;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
int env_int(const char* name, int fallback) { return std::atoi(env_or(name, std::to_string(fallback)).c_str()); }

double median(std::vector<double> a) {
  std::sort(a.begin(), a.end());
  size_t m = a.size() / 2;
  return a.size() % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}
double pct(std::vector<double> a, double p) {
  std::sort(a.begin(), a.end());
  auto i = static_cast<long>(std::ceil(p / 100 * static_cast<double>(a.size()))) - 1;
  return a[static_cast<size_t>(std::clamp<long>(i, 0, static_cast<long>(a.size()) - 1))];
}

void emit(const char* tag, const Json& j) { std::cout << tag << ' ' << j.dump() << std::endl; }

// The database name in a postgresql:// URL (for filtering pg_stat_statements).
std::string db_name_of(const std::string& url) {
  auto q = url.find('?');
  auto path = url.substr(0, q);
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(slash + 1);
}

struct Workload {
  std::string url;
  std::string run_tag;
  std::string results_dir;
  keel::Runtime* rt = nullptr;
  PhaseStats* stats = nullptr;
};

// Runs fn(i) for i in [0, count) from conc client threads; per-call latency in ms.
struct RunResult {
  double wall_ms;
  std::vector<double> lat;
};
RunResult run_concurrent(int count, int conc, const std::function<void(int)>& fn) {
  std::vector<double> lat(static_cast<size_t>(count));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::mutex error_mu;
  auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < std::min(conc, count); ++w)
    workers.emplace_back([&] {
      for (int i; (i = next++) < count && !failed;) {
        auto s = Clock::now();
        try {
          fn(i);
        } catch (const std::exception& e) {
          std::lock_guard lock(error_mu);
          error = e.what();
          failed = true;
        }
        lat[static_cast<size_t>(i)] = ms_since(s);
      }
    });
  for (auto& t : workers) t.join();
  if (failed) throw std::runtime_error("a call failed: " + error);
  return {ms_since(t0), std::move(lat)};
}

// ------------------------------------------------------------------ workflows

struct Registered {
  keel::Workflow<int, int> steps;
  keel::Workflow<int, int> three_step;
  keel::Workflow<std::string, std::string, std::string> checkout;
  keel::Workflow<std::string, std::string> idem;
};

Registered register_all(keel::Runtime& rt) {
  auto steps = rt.register_workflow("stepsWorkflow", [](keel::Context& ctx, int n) {
    for (int i = 0; i < n; ++i) ctx.step("noop", [] {});
    return n;
  });
  auto three = rt.register_workflow("threeStepWorkflow", [](keel::Context& ctx, int i) {
    ctx.step("step1", [] {});
    ctx.step("step2", [] {});
    ctx.step("step3", [] {});
    return i;
  });
  auto checkout = rt.register_workflow(
      "checkoutWorkflow", [](keel::Context& ctx, std::string session, std::string sku) -> std::string {
        bool ok = ctx.transaction("reserveInventory", [&](keel::Sql& sql) {
          return sql.execute("UPDATE inventory SET stock = stock - $2 WHERE sku = $1 AND stock >= $2",
                             {sku, int64_t{1}}) == 1;
        });
        if (!ok) {
          ctx.set_event("session", std::optional<std::string>());
          return "out_of_stock";
        }
        ctx.set_event("session", session);
        auto msg = ctx.recv<std::string>("payment", std::chrono::seconds(30));
        if (!msg || *msg != "paid") return "payment_timeout";
        ctx.step("finalizeOrder", [&] { return "order-" + session; });
        return "ok";
      });
  auto idem = rt.register_workflow("idemWorkflow", [](keel::Context& ctx, std::string x) {
    ctx.step("only", [] {});
    return x;
  });
  return {steps, three, checkout, idem};
}

// ------------------------------------------------------------------ benches

void bench_steps(Workload& w, const Registered& r) {
  int n = env_int("STEPS_N", 1000), reps = env_int("STEPS_REPS", 3);
  auto& rt = *w.rt;
  rt.start(r.steps, {}, 50).result();  // warm-up
  std::vector<double> base;
  for (int i = 0; i < 20; ++i) {
    auto s = Clock::now();
    rt.start(r.steps, {}, 0).result();
    base.push_back(ms_since(s));
  }
  double base_ms = median(base);
  std::vector<double> totals;
  w.stats->reset();
  auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) {
    auto s = Clock::now();
    rt.start(r.steps, {}, n).result();
    totals.push_back(ms_since(s));
  }
  double wall = ms_since(t0);
  emit("SQLSTATS", w.stats->read("steps", reps * n, "step", wall, w.results_dir));
  double tot = median(totals);
  Json totals_j = Json::array();
  for (double t : totals) totals_j.push_back(r3(t));
  emit("RESULT", {{"bench", "steps"},
                  {"steps", n},
                  {"reps", reps},
                  {"total_ms_median", r3(tot)},
                  {"totals_ms", totals_j},
                  {"us_per_step", r3((tot - base_ms) * 1000 / n)},
                  {"us_per_step_raw", r3(tot * 1000 / n)},
                  {"empty_workflow_ms", r3(base_ms)}});
}

void bench_workflows(Workload& w, const Registered& r) {
  int count = env_int("WF_COUNT", 2000);
  std::stringstream concs(env_or("WF_CONC", "1,64"));
  auto& rt = *w.rt;
  for (std::string cs; std::getline(concs, cs, ',');) {
    int c = std::atoi(cs.c_str());
    auto one = [&](int i) { rt.start(r.three_step, {}, i).result(); };
    run_concurrent(std::min(200, count), c, one);  // warm-up
    // Several processes measure together (bench/executors.sh): each starts
    // its measured phase at the same agreed instant.
    if (const std::string at = env_or("START_AT_EPOCH_MS", ""); !at.empty())
      std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::milliseconds(std::stoll(at))));
    w.stats->reset();
    auto res = run_concurrent(count, c, one);
    std::string name = "workflows_c" + std::to_string(c);
    emit("SQLSTATS", w.stats->read(name, count, "workflow", res.wall_ms, w.results_dir));
    double mean = 0;
    for (double l : res.lat) mean += l / count;
    emit("RESULT", {{"bench", "workflows"},
                    {"workflows", count},
                    {"steps_per_workflow", 3},
                    {"concurrency", c},
                    {"wall_ms", r3(res.wall_ms)},
                    {"workflows_per_sec", r3(count * 1000.0 / res.wall_ms)},
                    {"p50_ms", r3(pct(res.lat, 50))},
                    {"p99_ms", r3(pct(res.lat, 99))},
                    {"mean_ms", r3(mean)}});
  }
}

void bench_checkout(Workload& w, const Registered& r) {
  int count = env_int("CO_COUNT", 1000), c = env_int("CO_CONC", 32), skus = env_int("CO_SKUS", 256);
  auto& rt = *w.rt;
  rt.run_sql_write([&](keel::Sql& sql) {
    sql.execute("CREATE TABLE IF NOT EXISTS inventory (sku TEXT PRIMARY KEY, stock BIGINT NOT NULL)");
    sql.execute("DELETE FROM inventory");
    for (int i = 0; i < skus; ++i)
      sql.execute("INSERT INTO inventory (sku, stock) VALUES ($1, 1000000000)", {"sku-" + std::to_string(i)});
  });
  // Mean time of each phase of the driver (ms): start, wait for the session
  // event, send, wait for the result.
  std::array<std::atomic<int64_t>, 4> phase_us{};
  auto one = [&](int i, const std::string& tag) {
    std::string id = "co-" + w.run_tag + "-" + tag + "-" + std::to_string(i);
    auto t0 = Clock::now();
    auto h = rt.start(r.checkout, {.workflow_id = id}, "sess-" + std::to_string(i), "sku-" + std::to_string(i % skus));
    auto t1 = Clock::now();
    auto session = rt.get_event<std::optional<std::string>>(id, "session", std::chrono::seconds(30));
    if (!session || !*session) throw std::runtime_error("no session event for " + id);
    auto t2 = Clock::now();
    rt.send(id, std::string("paid"), "payment");
    auto t3 = Clock::now();
    if (auto res = h.result(); res != "ok") throw std::runtime_error("checkout " + id + " -> " + res);
    auto t4 = Clock::now();
    std::array<Clock::time_point, 5> ts{t0, t1, t2, t3, t4};
    for (size_t k = 0; k < 4; ++k)
      phase_us[k] += std::chrono::duration_cast<std::chrono::microseconds>(ts[k + 1] - ts[k]).count();
  };
  run_concurrent(100, c, [&](int i) { one(i, "warm"); });
  for (auto& p : phase_us) p = 0;
  w.stats->reset();
  auto res = run_concurrent(count, c, [&](int i) { one(i, "run"); });
  emit("SQLSTATS", w.stats->read("checkout_tx", count, "checkout", res.wall_ms, w.results_dir));
  int64_t sold = 0;
  rt.run_sql_read([&](keel::Sql& sql) {
    auto rows = sql.query("SELECT sum(1000000000 - stock) FROM inventory");
    sold = rows.at(0).get_int(0);
  });
  emit("RESULT", {{"bench", "checkout"},
                  {"reserve", "keel-transaction"},
                  {"checkouts", count},
                  {"concurrency", c},
                  {"skus", skus},
                  {"wall_ms", r3(res.wall_ms)},
                  {"checkouts_per_sec", r3(count * 1000.0 / res.wall_ms)},
                  {"p50_ms", r3(pct(res.lat, 50))},
                  {"p99_ms", r3(pct(res.lat, 99))},
                  {"units_sold_incl_warmup", sold},
                  {"phase_ms_mean",
                   {{"start", r3(phase_us[0] / 1000.0 / count)},
                    {"session_event", r3(phase_us[1] / 1000.0 / count)},
                    {"send", r3(phase_us[2] / 1000.0 / count)},
                    {"result", r3(phase_us[3] / 1000.0 / count)}}}});
}

void bench_idempotent(Workload& w, const Registered& r) {
  int d = env_int("IDEM_COUNT", 1000);
  auto& rt = *w.rt;
  std::string id = "idem-" + w.run_tag;
  auto s0 = Clock::now();
  rt.start(r.idem, {.workflow_id = id}, "x").result();
  double first_ms = ms_since(s0);
  std::string warm = "idem-warm-" + w.run_tag;
  for (int i = 0; i < 51; ++i) rt.start(r.idem, {.workflow_id = warm}, "x").result();
  std::vector<double> start_lat, full_lat;
  w.stats->reset();
  auto t0 = Clock::now();
  for (int i = 0; i < d; ++i) {
    auto s = Clock::now();
    auto h = rt.start(r.idem, {.workflow_id = id}, "x");
    auto m = Clock::now();
    if (h.result() != "x") throw std::runtime_error("bad duplicate result");
    start_lat.push_back(std::chrono::duration<double, std::milli>(m - s).count());
    full_lat.push_back(ms_since(s));
  }
  double wall = ms_since(t0);
  emit("SQLSTATS", w.stats->read("idempotent", d, "duplicate", wall, w.results_dir));
  double sum = 0;
  for (double l : start_lat) sum += l;
  auto info = rt.get_workflow(id);
  emit("RESULT", {{"bench", "idempotent"},
                  {"duplicates", d},
                  {"first_run_ms", r3(first_ms)},
                  {"us_per_duplicate_start", r3(sum * 1000 / d)},
                  {"us_per_duplicate_start_plus_getResult", r3(wall * 1000 / d)},
                  {"p50_start_us", r3(pct(start_lat, 50) * 1000)},
                  {"p99_start_us", r3(pct(start_lat, 99) * 1000)},
                  {"final_status", info ? keel::to_string(info->status) : "missing"},
                  {"recovery_attempts", info ? info->recovery_attempts : -1}});
}

std::string random_tag() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", rd());
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: %s <steps|workflows|checkout|idempotent|all>[,...] [DATABASE_URL]\n", argv[0]);
    return argc < 2 ? 2 : 0;
  }
  std::string which = argv[1] == std::string("all") ? "steps,workflows,checkout,idempotent" : argv[1];
  Workload w;
  w.url = argc > 2 ? argv[2] : env_or("KEEL_DATABASE_URL", "postgresql://bench:bench@127.0.0.1:5432/keel_bench");
  w.run_tag = random_tag();
  w.results_dir = env_or("RESULTS_DIR", "");
  bool postgres = w.url.rfind("postgres", 0) == 0;
  bool sqlstats = postgres && env_or("BENCH_SQLSTATS", "1") != "0";
  try {
    PhaseStats stats(sqlstats ? env_or("STATS_DATABASE_URL",
                                       env_or("APP_DATABASE_URL", "postgresql://bench:bench@127.0.0.1:5432/bench"))
                              : "",
                     db_name_of(w.url));
    keel::RuntimeConfig cfg;
    cfg.database_url = w.url;
    cfg.executor_id = "peer-bench-" + w.run_tag;
    // FULL: a commit survives power loss, as PostgreSQL's synchronous_commit=on + fsync.
    cfg.sqlite_synchronous = keel::SqliteSync::Full;
    cfg.postgres_writer_connections = env_int("PG_WRITERS", cfg.postgres_writer_connections);
    cfg.fault_hook = [&stats](std::string_view point) {
      if (point == "checkpoint.after_commit") stats.commits().fetch_add(1, std::memory_order_relaxed);
    };
    keel::Runtime rt(cfg);
    Registered reg = register_all(rt);
    rt.launch();
    // A process that finds no other listener stops sending wake-up NOTIFYs
    // after two checks, about 2 s after launch (docs/postgres.md,
    // "Wake-ups"): measure that steady state, not the first seconds.
    if (postgres) std::this_thread::sleep_for(std::chrono::milliseconds(env_int("SETTLE_MS", 2500)));
    w.rt = &rt;
    w.stats = &stats;
    emit("INFO", {{"backend", postgres ? "postgresql" : "sqlite"}, {"run_tag", w.run_tag}});
    std::stringstream benches(which);
    for (std::string b; std::getline(benches, b, ',');) {
      if (b == "steps") bench_steps(w, reg);
      else if (b == "workflows") bench_workflows(w, reg);
      else if (b == "checkout") bench_checkout(w, reg);
      else if (b == "idempotent") bench_idempotent(w, reg);
      else throw std::runtime_error("unknown bench " + b);
    }
    rt.shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keel_peer_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
