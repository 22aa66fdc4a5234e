// keel_retention_bench: what retention costs the write path (issue 15: with
// 64 clients running 3-step workflows, deleting 1,000,000 finished
// workflows may cost them at most 20% of their throughput).
//
// Fills the system database with --old finished workflows by SQL (each with
// 3 recorded steps, created 30 days ago), then alternates phases of
// --phase-s seconds in which --clients threads run 3-step workflows:
// without retention (the baseline), and with retention deleting the old
// ones (finished_older_than = 1 day). Prints each phase's workflows/s, the
// ratio of each retention phase to the baseline phase before it, and how
// many old workflows retention deleted meanwhile.
//
//   keel_retention_bench [--db sqlite:/tmp/ret.db] [--old 1000000] [--clients 64] [--phase-s 15] [--rounds 2]
//
// Not part of ctest.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "keel/keel.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string db = "sqlite:/tmp/keel_retention_bench.db";
  int64_t old = 1'000'000;
  int clients = 64;
  int phase_s = 15;
  int rounds = 2;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(k + " needs a value");
      return argv[++i];
    };
    if (k == "--db") a.db = next();
    else if (k == "--old") a.old = std::stoll(next());
    else if (k == "--clients") a.clients = std::stoi(next());
    else if (k == "--phase-s") a.phase_s = std::stoi(next());
    else if (k == "--rounds") a.rounds = std::stoi(next());
    else throw std::runtime_error("unknown option " + k + " (see the comment at the top of bench/retention_bench.cpp)");
  }
  return a;
}

bool is_postgres(const std::string& url) { return url.rfind("postgres", 0) == 0; }

// `old` finished workflows 'old-<i>' created 30 days ago, 3 steps each.
void fill(keel::Runtime& rt, bool pg, int64_t old) {
  const std::string n = std::to_string(old);
  const std::string created = "(CAST(strftime('%s','now') AS INTEGER) * 1000 - 30 * 86400000 + i)";
  const std::string pg_created = "((extract(epoch from now()) * 1000)::bigint - 30::bigint * 86400000 + i)";
  const std::string ts = pg ? pg_created : created;
  const std::string status = pg ? "keel.workflow_status" : "keel_workflow_status";
  const std::string ops = pg ? "keel.operation_outputs" : "keel_operation_outputs";
  const std::string series = pg ? "generate_series(1::bigint, " + n + ") AS s(i)" : "s";
  const std::string with =
      pg ? "" : "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < " + n + ") ";
  rt.run_sql_write([&](keel::Sql& sql) {
    (void)sql.execute(with + "INSERT INTO " + status +
                      " (workflow_id, name, status, inputs, output, executor_id, application_version, created_at, "
                      "updated_at) SELECT 'old-' || i, 'three', 'SUCCESS', '[1]', '1', 'bench', 'v1', " +
                      ts + ", " + ts + " FROM " + series);
    for (int f = 1; f <= 3; ++f)
      (void)sql.execute(with + "INSERT INTO " + ops +
                        " (workflow_id, function_id, name, output, started_at, completed_at, kind) SELECT 'old-' || i, " +
                        std::to_string(f) + ", 's" + std::to_string(f) + "', '1', " + ts + ", " + ts +
                        ", 'step' FROM " + series);
  });
}

int64_t count_old(keel::Runtime& rt) {
  return rt.list_workflows_page({.id_prefix = "old-", .limit = 1, .count_total = true}).total.value_or(0);
}

// Runs 3-step workflows from `clients` threads for `seconds`; workflows/s.
double run_phase(keel::Runtime& rt, int clients, int seconds) {
  keel::Workflow<int, int> three("three");
  std::atomic<bool> stop{false};
  std::atomic<int64_t> done{0};
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      while (!stop.load()) {
        (void)rt.start(three, {}, 1).result();
        done.fetch_add(1);
      }
    });
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop.store(true);
  for (auto& t : threads) t.join();
  return static_cast<double>(done.load()) / std::chrono::duration<double>(Clock::now() - t0).count();
}

std::unique_ptr<keel::Runtime> open(const Args& a, bool retention) {
  keel::RuntimeConfig c;
  c.database_url = a.db;
  c.executor_id = "retention-bench";
  c.sqlite_synchronous = keel::SqliteSync::Normal;
  if (retention) {
    c.retention.finished_older_than = std::chrono::hours(24);
    c.retention.interval = std::chrono::milliseconds(100);
  }
  auto rt = std::make_unique<keel::Runtime>(c);
  rt->register_workflow("three", [](keel::Context& ctx, int x) {
    for (int i = 0; i < 3; ++i) x = ctx.step("s", [x] { return x + 1; });
    return x;
  });
  (void)rt->launch();
  return rt;
}

}  // namespace

int main(int argc, char** argv) try {
  Args a = parse(argc, argv);
  const bool pg = is_postgres(a.db);
  {
    auto rt = open(a, false);
    if (count_old(*rt) < a.old) {
      std::cerr << "filling " << a.old << " old finished workflows...\n";
      auto t0 = Clock::now();
      fill(*rt, pg, a.old - count_old(*rt));
      std::cerr << "filled in " << std::chrono::duration<double>(Clock::now() - t0).count() << " s\n";
    }
    // Fresh statistics, as autovacuum would have by the time a table holds a
    // million old rows: without them PostgreSQL plans retention's first
    // batches over a table it believes empty (measured: 1,000 deletions in
    // 10 s before, 18,000 once autovacuum had analyzed).
    if (pg)
      rt->run_sql_write([](keel::Sql& sql) {
        (void)sql.execute("ANALYZE keel.workflow_status");
        (void)sql.execute("ANALYZE keel.operation_outputs");
      });
  }
  std::printf("%-28s %12s %8s %14s\n", "phase", "workflows/s", "x base", "old deleted");
  for (int r = 0; r < a.rounds; ++r) {
    double base = 0;
    {
      auto rt = open(a, false);
      base = run_phase(*rt, a.clients, a.phase_s);
      std::printf("%-28s %12.0f %8.2f %14s\n", ("baseline " + std::to_string(r + 1)).c_str(), base, 1.0, "-");
    }
    auto rt = open(a, true);
    int64_t before = count_old(*rt);
    double with = run_phase(*rt, a.clients, a.phase_s);
    int64_t deleted = before - count_old(*rt);
    std::printf("%-28s %12.0f %8.2f %14lld\n", ("retention " + std::to_string(r + 1)).c_str(), with, with / base,
                static_cast<long long>(deleted));
    std::fflush(stdout);
    if (count_old(*rt) == 0) {
      std::printf("(every old workflow deleted: refill for more rounds)\n");
      break;
    }
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "keel_retention_bench: " << e.what() << '\n';
  return 1;
}
