// keel_list_bench: how fast list_workflows answers a filtered page over a
// big workflow table (issue 15: a page of 100 over 2,000,000 workflows in
// <= 20 ms, on SQLite and on PostgreSQL). Fills the system database with
// synthetic rows by SQL (a realistic mix: mostly finished, a few errors and
// running, several names, a queue, children), then times each query: the
// median and the 90th percentile of --reps runs after warm-up runs.
//
//   keel_list_bench --db sqlite:/tmp/list.db [--rows 2000000] [--reps 25]
//   keel_list_bench --db postgresql://postgres@127.0.0.1:54371/listbench
//
// An existing database with at least --rows rows is reused as it is (the
// fill takes a minute); a smaller one is refused. Results on stdout, one line
// per query; progress on stderr. Not part of ctest.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "keel/keel.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string db;
  int64_t rows = 2'000'000;
  int reps = 25;
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
    else if (k == "--rows") a.rows = std::stoll(next());
    else if (k == "--reps") a.reps = std::stoi(next());
    else throw std::runtime_error("unknown option " + k + " (see the comment at the top of bench/list_bench.cpp)");
  }
  if (a.db.empty()) throw std::runtime_error("--db URL is required");
  return a;
}

bool is_postgres(const std::string& url) { return url.rfind("postgres", 0) == 0; }

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kStart = 1'760'000'000'000;  // the fill spreads creations over 30 days from here

// One row per i: the mix below, as SQL expressions of i (both dialects).
std::string fill_sql(bool pg, int64_t rows) {
  std::string table = pg ? "keel.workflow_status" : "keel_workflow_status";
  std::string series = pg ? "generate_series(1::bigint, " + std::to_string(rows) + ") AS s(i)"
                          : "s";
  std::string with = pg ? "" : "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < " +
                                   std::to_string(rows) + ") ";
  std::string created = std::to_string(kStart) + " + i * " + std::to_string(30 * kDayMs / rows);
  return with + "INSERT INTO " + table +
         " (workflow_id, name, status, inputs, executor_id, application_version, parent_id, queue_name, "
         "created_at, updated_at) SELECT 'wf-' || i, "
         "CASE WHEN i % 100 = 7 THEN 'refund' WHEN i % 10 < 6 THEN 'checkout' WHEN i % 10 < 8 THEN 'payment' "
         "ELSE 'shipping' END, "
         "CASE WHEN i % 1000 = 3 THEN 'ERROR' WHEN i % 1000 = 4 THEN 'PENDING' WHEN i % 1000 = 19 THEN 'ENQUEUED' "
         "WHEN i % 1000 = 6 THEN 'CANCELLED' ELSE 'SUCCESS' END, "
         "'[]', 'bench', CASE WHEN i % 5000 = 11 THEN 'v0-old' ELSE 'v1' END, "
         "CASE WHEN i % 5 = 1 THEN 'wf-' || (i - 1) ELSE NULL END, "
         "CASE WHEN i % 10 = 9 THEN 'payments' ELSE NULL END, " +
         created + ", " + created + " + 500 FROM " + series;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Case {
  std::string label;
  keel::ListWorkflowsQuery query;
};

}  // namespace

int main(int argc, char** argv) try {
  Args a = parse(argc, argv);
  const bool pg = is_postgres(a.db);
  keel::RuntimeConfig config;
  config.database_url = a.db;
  config.executor_id = "list-bench";
  config.executor_lease = false;
  keel::Runtime rt(config);
  (void)rt.launch();

  int64_t have = 0;
  rt.run_sql_read([&](keel::Sql& sql) {
    auto rows = sql.query(pg ? "SELECT count(*) FROM keel.workflow_status" : "SELECT count(*) FROM keel_workflow_status");
    have = rows.at(0).get_int(0);
  });
  if (have == 0) {
    std::cerr << "filling " << a.rows << " rows...\n";
    auto t0 = Clock::now();
    rt.run_sql_write([&](keel::Sql& sql) { (void)sql.execute(fill_sql(pg, a.rows)); });
    if (pg) rt.run_sql_write([&](keel::Sql& sql) { (void)sql.execute("ANALYZE keel.workflow_status"); });
    else rt.run_sql_write([&](keel::Sql& sql) { (void)sql.execute("ANALYZE"); });
    std::cerr << "filled in " << ms_since(t0) / 1000 << " s\n";
    have = a.rows;
  } else if (have < a.rows) {
    throw std::runtime_error("the database holds " + std::to_string(have) + " rows, fewer than --rows");
  }

  using keel::WorkflowStatus;
  const int64_t mid = kStart + 15 * kDayMs;
  std::vector<Case> cases{
      {"no filter, newest first", {}},
      {"no filter, oldest first", {.order = keel::ListOrder::OldestFirst}},
      {"status=ERROR", {.statuses = {WorkflowStatus::Error}}},
      {"status=PENDING,ENQUEUED", {.statuses = {WorkflowStatus::Pending, WorkflowStatus::Enqueued}}},
      {"name=refund (1%)", {.name = "refund"}},
      {"name=checkout status=ERROR", {.statuses = {WorkflowStatus::Error}, .name = "checkout"}},
      {"id_prefix=wf-12345", {.id_prefix = "wf-12345"}},
      {"created in one hour", {.created_after_ms = mid, .created_before_ms = mid + 3'600'000}},
      {"status=ERROR created in one day",
       {.statuses = {WorkflowStatus::Error}, .created_after_ms = mid, .created_before_ms = mid + kDayMs}},
      {"queue=payments", {.queue_name = "payments"}},
      {"queue=payments status=ENQUEUED", {.statuses = {WorkflowStatus::Enqueued}, .queue_name = "payments"}},
      {"parent=wf-1000", {.parent_id = "wf-1000"}},
      {"status=PENDING version=v0-old", {.statuses = {WorkflowStatus::Pending}, .application_version = "v0-old"}},
      {"status=PENDING executor=bench", {.statuses = {WorkflowStatus::Pending}, .executor_id = "bench"}},
      {"version=v0-old (unindexed, 0.02%)", {.application_version = "v0-old"}},
  };
  std::printf("%-40s %10s %10s %8s\n", "query (page of 100)", "median ms", "p90 ms", "rows");
  auto time_case = [&](const std::string& label, const std::function<size_t()>& run) {
    for (int i = 0; i < 3; ++i) (void)run();
    std::vector<double> ms;
    size_t got = 0;
    for (int i = 0; i < a.reps; ++i) {
      auto t0 = Clock::now();
      got = run();
      ms.push_back(ms_since(t0));
    }
    std::sort(ms.begin(), ms.end());
    std::printf("%-40s %10.2f %10.2f %8zu\n", label.c_str(), ms[ms.size() / 2], ms[ms.size() * 9 / 10], got);
    std::fflush(stdout);
  };
  for (const auto& c : cases)
    time_case(c.label, [&] { return rt.list_workflows_page(c.query).workflows.size(); });

  // Deep pages: the 200th page of 100 by cursor costs what the first does.
  keel::ListWorkflowsQuery deep{.statuses = {WorkflowStatus::Success}};
  for (int i = 0; i < 200; ++i) deep.cursor = rt.list_workflows_page(deep).next_cursor;
  time_case("status=SUCCESS, page 200 by cursor", [&] { return rt.list_workflows_page(deep).workflows.size(); });
  keel::ListWorkflowsQuery counted{.statuses = {WorkflowStatus::Error}, .count_total = true};
  time_case("status=ERROR with count_total", [&] { return rt.list_workflows_page(counted).workflows.size(); });
  counted.name = "checkout";
  time_case("name=checkout status=ERROR, count_total", [&] { return rt.list_workflows_page(counted).workflows.size(); });
  std::printf("(%lld rows, %s)\n", static_cast<long long>(have), pg ? "PostgreSQL" : "SQLite");
  return 0;
} catch (const std::exception& e) {
  std::cerr << "keel_list_bench: " << e.what() << '\n';
  return 1;
}
