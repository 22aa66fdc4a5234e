// keel_fill_bench — fills a system database with finished workflows, so that
// the other benchmarks can be run against a full database (issue 19, part 3:
// step latency and 64-client throughput with 10,000,000 operation rows within
// 1.2x of an empty database; bench/growth.sh runs them side by side).
//
// The rows are copies of what the engine itself wrote: a template workflow of
// --operations steps (each returning a short JSON value, as a checkout's
// steps do) runs once through the Runtime; its workflow_status row and its
// operation_outputs rows are then copied --workflows times by SQL, with
// fresh IDs spread over the key space as random IDs are (a multiplicative
// hash of the row number, so an index on the ID is filled the way random
// UUIDs fill it, not appended in order) and creation times spread over the
// last 30 days. Every column the engine wrote is copied, whatever the schema
// version: the column lists are read from the database.
//
// In batches of --batch workflows, one transaction each (progress on
// stderr); then ANALYZE. On PostgreSQL run VACUUM afterwards (bench/growth.sh
// does) so that the table is as an aged one is: hint bits and visibility map
// set. A database that already holds --workflows filled rows is left as it
// is; one with a different number is refused.
//
// Usage: keel_fill_bench --db URL [--workflows 2500000] [--operations 4] [--batch 250000]
// Prints one line: the rows the database holds and its size per workflow.
// Not a test: nothing here asserts a duration.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "keel/keel.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string db;
  int64_t workflows = 2'500'000;
  int operations = 4;
  int64_t batch = 250'000;
};

Options parse(int argc, char** argv) {
  Options o;
  CLI::App app{"keel_fill_bench: fill a system database with copies of a finished workflow"};
  app.add_option("--db", o.db, "sqlite:PATH or postgresql://...")->required();
  app.add_option("--workflows", o.workflows, "finished workflows to add")->check(CLI::PositiveNumber);
  app.add_option("--operations", o.operations, "recorded operations per workflow")->check(CLI::Range(1, 1000));
  app.add_option("--batch", o.batch, "workflows per transaction")->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return o;
}

constexpr const char* kTemplateId = "fill-template";
constexpr const char* kFillPrefix = "fill-";  // filled IDs: fill-<8 hex of a hash of i>-<i>
constexpr int64_t kSpanMs = 30LL * 86'400'000;

struct Dialect {
  bool pg;
  std::string status_table() const { return pg ? "keel.workflow_status" : "keel_workflow_status"; }
  std::string ops_table() const { return pg ? "keel.operation_outputs" : "keel_operation_outputs"; }
  // Rows first..last of the series, as a FROM item naming its column i.
  std::string series(int64_t first, int64_t last) const {
    if (pg) return "generate_series(" + std::to_string(first) + "::bigint, " + std::to_string(last) + ") AS s(i)";
    return "(WITH RECURSIVE r(i) AS (SELECT " + std::to_string(first) + " UNION ALL SELECT i + 1 FROM r WHERE i < " +
           std::to_string(last) + ") SELECT i FROM r) AS s";
  }
  // Row i's workflow ID: a multiplicative hash first, so IDs spread over the
  // key space as random UUIDs do; the row number after it keeps them unique.
  std::string id_of_i() const {
    std::string hash = "((s.i * 2654435761) % 4294967296)";
    std::string hex = pg ? "lpad(to_hex(" + hash + "), 8, '0')" : "printf('%08x', " + hash + ")";
    return "'" + std::string(kFillPrefix) + "' || " + hex + " || '-' || s.i";
  }
  std::string columns_query(const std::string& table) const {
    if (pg)
      return "SELECT column_name FROM information_schema.columns WHERE table_schema = 'keel' AND table_name = '" +
             table.substr(table.find('.') + 1) + "' ORDER BY ordinal_position";
    return "SELECT name FROM pragma_table_info('" + table + "') ORDER BY cid";
  }
};

std::vector<std::string> columns_of(keel::Sql& sql, const Dialect& d, const std::string& table) {
  std::vector<std::string> out;
  for (const auto& row : sql.query(d.columns_query(table))) out.push_back(row.get_string(0));
  return out;
}

// A mix of names and outcomes for the list queries to filter (as
// keel_list_bench's fill): 60 % checkout, 20 % payment, 19 % shipping, 1 %
// refund; 0.1 % ERROR. Nothing PENDING: a runtime would recover it.
constexpr const char* kNameMix =
    "CASE WHEN s.i % 100 = 7 THEN 'refund' WHEN s.i % 10 < 6 THEN 'checkout' WHEN s.i % 10 < 8 THEN 'payment' "
    "ELSE 'shipping' END";
constexpr const char* kStatusMix = "CASE WHEN s.i % 1000 = 3 THEN 'ERROR' ELSE t.status END";

// The SELECT list copying template row t for series row s: the ID and the
// times replaced, every other column as the engine wrote it.
std::string copy_list(const std::vector<std::string>& columns, const Dialect& d, int64_t total, bool status_row) {
  std::string created = "(t.created_at_base + s.i * " + std::to_string(kSpanMs / total) + ")";
  std::string list;
  for (const auto& c : columns) {
    if (!list.empty()) list += ", ";
    if (c == "workflow_id") list += d.id_of_i();
    else if (c == "name" && status_row) list += kNameMix;
    else if (c == "status" && status_row) list += kStatusMix;
    else if (c == "created_at" || c == "updated_at" || c == "started_at" || c == "completed_at")
      list += "CASE WHEN t." + c + " IS NULL THEN NULL ELSE t." + c + " - t.t0 + " + created + " END";
    else list += "t." + c;
  }
  return list;
}

std::string joined(const std::vector<std::string>& columns) {
  std::string out;
  for (const auto& c : columns) out += (out.empty() ? "" : ", ") + c;
  return out;
}

// The template: a workflow of n steps, each returning a short JSON value.
keel::Workflow<std::string, std::string> register_template(keel::Runtime& rt, int n) {
  return rt.register_workflow("filledCheckout", [n](keel::Context& ctx, std::string sku) {
    for (int k = 0; k < n; ++k)
      ctx.step("step" + std::to_string(k), [&] { return keel::Json{{"sku", sku}, {"k", k}, {"ok", true}}; });
    return std::string("order-") + sku;
  });
}

int64_t count_filled(keel::Runtime& rt, const Dialect& d) {
  int64_t n = 0;
  rt.run_sql_read([&](keel::Sql& sql) {
    n = sql.query("SELECT count(*) FROM " + d.status_table() + " WHERE workflow_id LIKE '" + kFillPrefix + "%' AND "
                  "workflow_id <> '" + kTemplateId + "'")
            .at(0)
            .get_int(0);
  });
  return n;
}

void fill(keel::Runtime& rt, const Dialect& d, const Options& o) {
  std::vector<std::string> status_cols, ops_cols;
  rt.run_sql_read([&](keel::Sql& sql) {
    status_cols = columns_of(sql, d, d.status_table());
    ops_cols = columns_of(sql, d, d.ops_table());
  });
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string base = std::to_string(now_ms - kSpanMs);
  // t: the template's rows, with t0 (its creation time) and the base the
  // copies' times start from.
  const std::string status_src = "(SELECT w.*, w.created_at AS t0, " + base + " AS created_at_base FROM " +
                                 d.status_table() + " w WHERE w.workflow_id = '" + kTemplateId + "') AS t";
  const std::string ops_src = "(SELECT o.*, w.created_at AS t0, " + base + " AS created_at_base FROM " +
                              d.ops_table() + " o JOIN " + d.status_table() +
                              " w ON w.workflow_id = o.workflow_id WHERE o.workflow_id = '" + kTemplateId + "') AS t";
  auto t0 = Clock::now();
  for (int64_t first = 1; first <= o.workflows; first += o.batch) {
    int64_t last = std::min(o.workflows, first + o.batch - 1);
    rt.run_sql_write([&](keel::Sql& sql) {
      // SQLite: a cache that holds the indexes, or the random IDs make every
      // insert read its page from the file again.
      if (!d.pg) (void)sql.execute("PRAGMA cache_size = -1048576");
      (void)sql.execute("INSERT INTO " + d.status_table() + " (" + joined(status_cols) + ") SELECT " +
                        copy_list(status_cols, d, o.workflows, true) + " FROM " + status_src + " CROSS JOIN " +
                        d.series(first, last));
      (void)sql.execute("INSERT INTO " + d.ops_table() + " (" + joined(ops_cols) + ") SELECT " +
                        copy_list(ops_cols, d, o.workflows, false) + " FROM " + ops_src + " CROSS JOIN " +
                        d.series(first, last));
    });
    std::cerr << "filled " << last << " of " << o.workflows << " workflows after "
              << std::chrono::duration<double>(Clock::now() - t0).count() << " s\n";
  }
  rt.run_sql_write([&](keel::Sql& sql) { (void)sql.execute("ANALYZE"); });
}

// Bytes the database takes (PostgreSQL: the whole database; SQLite: the file).
int64_t database_bytes(keel::Runtime& rt, const Dialect& d) {
  int64_t bytes = 0;
  rt.run_sql_read([&](keel::Sql& sql) {
    bytes = d.pg ? sql.query("SELECT pg_database_size(current_database())").at(0).get_int(0)
                 : sql.query("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size").at(0).get_int(0);
  });
  return bytes;
}

}  // namespace

int main(int argc, char** argv) try {
  Options o = parse(argc, argv);
  keel::RuntimeConfig config;
  config.database_url = o.db;
  config.executor_id = "fill-bench";
  config.executor_lease = false;
  keel::Runtime rt(config);
  Dialect d{o.db.rfind("postgres", 0) == 0};
  auto templ = register_template(rt, o.operations);
  (void)rt.launch();
  (void)rt.start(templ, keel::StartOptions{.workflow_id = kTemplateId}, std::string("sku-17")).result();
  int64_t have = count_filled(rt, d);
  if (have == 0) fill(rt, d, o);
  else if (have != o.workflows)
    throw std::runtime_error("the database holds " + std::to_string(have) + " filled workflows, not --workflows");
  int64_t ops = 0, wfs = 0;
  rt.run_sql_read([&](keel::Sql& sql) {
    wfs = sql.query("SELECT count(*) FROM " + d.status_table()).at(0).get_int(0);
    ops = sql.query("SELECT count(*) FROM " + d.ops_table()).at(0).get_int(0);
  });
  int64_t bytes = database_bytes(rt, d);
  std::printf("%lld workflows, %lld operation rows, %.1f MiB, %.0f bytes per workflow\n", static_cast<long long>(wfs),
              static_cast<long long>(ops), static_cast<double>(bytes) / (1 << 20),
              static_cast<double>(bytes) / static_cast<double>(wfs));
  return 0;
} catch (const std::exception& e) {
  std::cerr << "keel_fill_bench: " << e.what() << '\n';
  return 1;
}
