// keel_fanout_bench — one workflow fans N children out through a queue with a
// concurrency limit (ctx.enqueue) and gathers their results (Handle::result
// inside the workflow): the time from start to the parent's result, and what
// the system database committed per child.
//
// Child: one step (x * 2). Parent: N ctx.enqueue, then ctx.wait_all and
// result() of each (--gather wait_all, the default), or result() of each in
// turn (--gather result: one wait, and maybe one parking, per child).
// Commits are the group committer's batches (keel_group_commit_batch_size
// count) and write units (its sum) during the run, divided by N; the queue's
// dequeues commit on their own connection and are not in these counts.
//
// Usage: keel_fanout_bench [--children N] [--concurrency N] [--db URL] [--threads N]
//                          [--gather wait_all|result]
//   --db  sqlite:PATH or postgresql://... (default: a fresh SQLite file under /tmp)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "bench_database.hpp"
#include "keel/keel.hpp"
#include "runtime/runtime_access.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int children = 10000;
  int concurrency = 16;
  int threads = 64;
  std::string db;
  bool wait_all = true;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: keel_fanout_bench [--children N] [--concurrency N] [--db URL] [--threads N]\n"
               "                         [--gather wait_all|result]\n");
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
    if (a == "--children") o.children = number();
    else if (a == "--concurrency") o.concurrency = number();
    else if (a == "--threads") o.threads = number();
    else if (a == "--db") o.db = value();
    else if (a == "--gather") {
      std::string g = value();
      if (g != "wait_all" && g != "result") usage(2);
      o.wait_all = g == "wait_all";
    }
    else if (a == "--help" || a == "-h") usage(0);
    else usage(2);
  }
  if (o.children <= 0 || o.concurrency <= 0 || o.threads <= 0) usage(2);
  return o;
}

// The count and sum of the group-commit batch-size histogram in the
// runtime's metrics text.
struct CommitCounts {
  double batches = 0;
  double units = 0;
};

CommitCounts commit_counts(keel::Runtime& rt) {
  CommitCounts c;
  std::istringstream in(keel::detail::RuntimeAccess::metrics_text(rt));
  for (std::string line; std::getline(in, line);) {
    auto read = [&](const std::string& name, double& into) {
      if (line.rfind(name + " ", 0) == 0) into = std::stod(line.substr(name.size() + 1));
    };
    read("keel_group_commit_batch_size_count", c.batches);
    read("keel_group_commit_batch_size_sum", c.units);
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const keel::bench::BenchDatabase db(o.db, "keel_fanout");
  keel::RuntimeConfig cfg;
  cfg.database_url = db.url();
  cfg.max_workflow_threads = o.threads;
  keel::Runtime rt(cfg);
  rt.register_queue({.name = "fanout", .concurrency = o.concurrency});
  auto leaf = rt.register_workflow("leaf", [](keel::Context& ctx, int x) {
    return ctx.step("double", [x] { return x * 2; });
  });
  auto fan_out = rt.register_workflow("fan_out", [leaf, &o](keel::Context& ctx, int n) {
    std::vector<keel::Handle<int>> parts;
    parts.reserve(static_cast<size_t>(n));
    for (int x = 0; x < n; ++x) parts.push_back(ctx.enqueue(leaf, "fanout", {}, x));
    if (o.wait_all) ctx.wait_all(parts);
    long long sum = 0;
    for (auto& h : parts) sum += h.result();
    return sum;
  });
  rt.launch();
  const CommitCounts before = commit_counts(rt);
  const auto t0 = Clock::now();
  const long long sum = rt.start(fan_out, {}, o.children).result();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const CommitCounts after = commit_counts(rt);
  const long long expected = static_cast<long long>(o.children) * (o.children - 1);
  const double n = o.children;
  std::printf("backend=%s children=%d concurrency=%d gather=%s\n", db.backend(), o.children, o.concurrency,
              o.wait_all ? "wait_all" : "result");
  std::printf("time %.2f s  (%.0f children/s)\n", seconds, n / seconds);
  std::printf("group-commit batches per child %.2f, write units per child %.2f\n",
              (after.batches - before.batches) / n, (after.units - before.units) / n);
  rt.shutdown();
  if (sum != expected) {
    std::fprintf(stderr, "wrong sum %lld, expected %lld\n", sum, expected);
    return 1;
  }
  return 0;
}
