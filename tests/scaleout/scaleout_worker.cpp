// keel_scaleout_worker: one executor process of the scale-out tests. Talks to
// the test through stdout ("@@ <json>" lines) and files in --dir.
//
//   --mode race   launch, say "ready", wait for the file --dir/barrier, start
//                 workflow `once` with --workflow-id, print its result, exit.
//   --mode serve  launch (printing what it recovered), start --start N
//                 `parked` workflows named --prefix0.., say "ready", then run
//                 until the file --dir/stop appears.
//
// Workflow effects: transactions insert rows into scale_effects (created by
// the test) naming the executor that ran them; steps append lines to
// --dir/marks. `parked` waits inside its "park" step until --dir/go-all or
// --dir/go-<executor> exists.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "keel/keel.hpp"

namespace {

using namespace std::chrono_literals;
using keel::Context;
using keel::Json;

struct Options {
  std::string db, executor, dir, mode, workflow_id, prefix = "p";
  int start = 0;
  int heartbeat_ms = 100;
  int lease_ms = 1000;
};

Options g_opt;

void emit(const Json& j) {
  std::string line = "@@ " + j.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

std::string path(const std::string& name) { return (std::filesystem::path(g_opt.dir) / name).string(); }

// One line per execution of a step body: O_APPEND writes of one line are atomic.
void mark(const std::string& line) {
  int fd = ::open(path("marks").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open marks");
  std::string l = line + "\n";
  ssize_t n = ::write(fd, l.data(), l.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(l.size())) throw std::runtime_error("short write to marks");
}

int64_t effect(keel::Sql& sql, const std::string& id, const std::string& what) {
  sql.execute("INSERT INTO scale_effects (workflow_id, what, executor) VALUES ($1, $2, $3)", {id, what, g_opt.executor});
  auto row = sql.query_one("SELECT COUNT(*) FROM scale_effects WHERE workflow_id = $1 AND what = $2", {id, what});
  return row ? row->get_int(0) : 0;
}

struct Workflows {
  keel::Workflow<int64_t> once;
  keel::Workflow<std::string> parked;
};

Workflows register_all(keel::Runtime& rt) {
  auto once = rt.register_workflow("once", [](Context& ctx) -> int64_t {
    const std::string id = ctx.workflow_id();
    int64_t n = ctx.transaction("count", [id](keel::Sql& sql) { return effect(sql, id, "count"); });
    ctx.step("mark", [&] {
      mark("once " + id + " " + g_opt.executor);
      return 0;
    });
    return n;
  });
  auto parked = rt.register_workflow("parked", [](Context& ctx) -> std::string {
    const std::string id = ctx.workflow_id();
    ctx.transaction("charge", [id](keel::Sql& sql) { return effect(sql, id, "charge"); });
    ctx.step("park", [&] {
      emit({{"kind", "parked"}, {"id", id}, {"executor", g_opt.executor}});
      while (!std::filesystem::exists(path("go-all")) && !std::filesystem::exists(path("go-" + g_opt.executor)))
        std::this_thread::sleep_for(10ms);
      mark("park " + id + " " + g_opt.executor);
      emit({{"kind", "unparked"}, {"id", id}, {"executor", g_opt.executor}});
      return 0;
    });
    ctx.transaction("ship", [id](keel::Sql& sql) { return effect(sql, id, "ship"); });
    ctx.step("after", [&] {
      mark("after " + id + " " + g_opt.executor);
      return 0;
    });
    return "done-" + id;
  });
  return {once, parked};
}

int run() {
  keel::RuntimeConfig cfg;
  cfg.database_url = g_opt.db;
  cfg.executor_id = g_opt.executor;
  cfg.poll_interval = 20ms;
  cfg.heartbeat_interval = std::chrono::milliseconds(g_opt.heartbeat_ms);
  cfg.lease_timeout = std::chrono::milliseconds(g_opt.lease_ms);
  cfg.sqlite_synchronous = keel::SqliteSync::Normal;
  keel::Runtime rt(cfg);
  Workflows w = register_all(rt);
  keel::LaunchReport report;
  try {
    report = rt.launch();
  } catch (const keel::ConfigError& e) {
    emit({{"kind", "config_error"}, {"what", e.what()}});
    return 3;
  }
  emit({{"kind", "launched"}, {"recovered", report.recovered}});
  if (g_opt.mode == "race") {
    emit({{"kind", "ready"}});
    while (!std::filesystem::exists(path("barrier"))) std::this_thread::sleep_for(1ms);
    auto handle = rt.start(w.once, {.workflow_id = g_opt.workflow_id});
    emit({{"kind", "result"}, {"value", handle.result()}});
    return 0;
  }
  for (int i = 0; i < g_opt.start; ++i) (void)rt.start(w.parked, {.workflow_id = g_opt.prefix + std::to_string(i)});
  emit({{"kind", "ready"}});
  while (!std::filesystem::exists(path("stop"))) std::this_thread::sleep_for(20ms);
  return 0;
}

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "keel_scaleout_worker: " << why
            << "\nusage: keel_scaleout_worker --db URL --executor ID --dir DIR --mode race|serve"
               " [--workflow-id ID] [--start N --prefix P] [--heartbeat-ms MS --lease-ms MS]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--db") g_opt.db = value();
    else if (a == "--executor") g_opt.executor = value();
    else if (a == "--dir") g_opt.dir = value();
    else if (a == "--mode") g_opt.mode = value();
    else if (a == "--workflow-id") g_opt.workflow_id = value();
    else if (a == "--prefix") g_opt.prefix = value();
    else if (a == "--start") g_opt.start = std::stoi(value());
    else if (a == "--heartbeat-ms") g_opt.heartbeat_ms = std::stoi(value());
    else if (a == "--lease-ms") g_opt.lease_ms = std::stoi(value());
    else usage("unknown argument '" + a + "'");
  }
  if (g_opt.db.empty() || g_opt.executor.empty() || g_opt.dir.empty()) usage("--db, --executor and --dir are required");
  if (g_opt.mode != "race" && g_opt.mode != "serve") usage("--mode must be race or serve");
  try {
    return run();
  } catch (const std::exception& e) {
    emit({{"kind", "error"}, {"what", e.what()}});
    return 1;
  }
}
