// keel_crash_worker: the helper program of the crash tests (crash_test.cpp).
//
// It runs one scenario of workflows on a SQLite system database and prints
// their results. Its steps leave marks outside the database, in the trace
// file, so that the test can count how often each step's effect happened.
// With --kill-at POINT --kill-after N it raises SIGKILL at the Nth hit of a
// fault point; the test then runs it again (recovery happens in launch()).
//
//   keel_crash_worker --db PATH --marks FILE --scenario NAME --run R
//                     [--kill-at POINT --kill-after N] [--wait-ms MS] [--send]
//                     [--park-after MS] [--code v1|v2]
//
// --code picks the build of the "upgrade" scenario's workflow: v1, or v2,
// which adds a step behind ctx.patched("fast-path") (two builds of one
// workflow, for the upgrade crash test).
//
// Fault points: the engine's ("checkpoint.before_commit",
// "checkpoint.after_commit", "step.before", "step.after", "wait.begin") and
// the worker's own: "in_step" (inside a step body, after its mark is written)
// and "tx_body" (inside a transaction body, after its INSERT).
//
// The trace file (opened O_APPEND, one write() per line, so lines from
// several threads never interleave and survive a SIGKILL) holds, in order:
//   start R <pid>            the process started
//   hit R <point> <n>        the nth hit of a fault point
//   kill R <point> <n>       SIGKILL is raised right after this line
//   mark R <wf> <step>       a step body ran (fsync'ed: its external effect)
//   txbody R <wf> <name>     a transaction body ran (may be rolled back)
//
// stdout: lines "@@ <json>" (other lines are the library's logging):
//   {"kind":"waiting"}                          first wait.begin of the process
//   {"kind":"launched","recovered":[ids]}
//   {"kind":"result","workflow":id,"result":json}
//   {"kind":"error","workflow":id,"type":t,"message":m}
//   {"kind":"event","workflow":id,"key":k,"value":v}
//   {"kind":"counts","counts":{point:n}}
// Exit status: 0 when every workflow of the scenario returned, 3 when one
// failed, 2 on bad arguments, 4 on an unexpected exception.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "keel/keel.hpp"

using namespace std::chrono_literals;
using keel::Context;
using keel::Json;

namespace {

// ---------------------------------------------------------------- output

void write_all(int fd, const std::string& s) {
  const char* p = s.data();
  size_t left = s.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("keel_crash_worker: write");
      std::_Exit(5);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void emit(const Json& j) { write_all(STDOUT_FILENO, "@@ " + j.dump() + "\n"); }

// ---------------------------------------------------------------- trace and fault points

int g_trace_fd = -1;
int g_run = 0;

void trace(const std::string& line, bool durable = false) {
  write_all(g_trace_fd, line + "\n");  // one write() of O_APPEND: atomic w.r.t. other lines
  if (durable && ::fsync(g_trace_fd) != 0) {
    std::perror("keel_crash_worker: fsync");
    std::_Exit(5);
  }
}

struct FaultState {
  std::mutex mu;
  std::map<std::string, int, std::less<>> counts;
  std::string kill_at;
  int kill_after = 0;
  bool announced_wait = false;
};
FaultState g_fault;

// Called by the engine's fault hook and by the worker's own points.
void hit(std::string_view point) {
  std::lock_guard lock(g_fault.mu);
  auto it = g_fault.counts.find(point);
  if (it == g_fault.counts.end()) it = g_fault.counts.emplace(std::string(point), 0).first;
  int n = ++it->second;
  std::string suffix = " " + std::to_string(g_run) + " " + std::string(point) + " " + std::to_string(n);
  trace("hit" + suffix);
  if (point == "wait.begin" && !g_fault.announced_wait) {
    g_fault.announced_wait = true;
    emit({{"kind", "waiting"}});
  }
  if (n == g_fault.kill_after && point == g_fault.kill_at) {
    trace("kill" + suffix);
    std::raise(SIGKILL);
  }
}

// A step's effect outside the database.
void mark(const std::string& workflow_id, std::string_view step) {
  trace("mark " + std::to_string(g_run) + " " + workflow_id + " " + std::string(step), /*durable=*/true);
}

// A step whose output records the run that executed it, so that the test can
// tell which execution's result was checkpointed. Returns the value only.
Json stepv(Context& ctx, const std::string& name, const Json& value) {
  Json out = ctx.step(name, [&] {
    mark(ctx.workflow_id(), name);
    hit("in_step");
    return Json{{"v", value}, {"run", g_run}};
  });
  return out.at("v");
}

// A transaction inserting one application row; its output records the run.
Json txv(Context& ctx, const std::string& name, const Json& value) {
  const std::string id = ctx.workflow_id();  // the body must not touch the Context
  Json out = ctx.transaction(name, [&, id](keel::Sql& sql) {
    trace("txbody " + std::to_string(g_run) + " " + id + " " + name);
    sql.execute("INSERT INTO crash_app_rows (workflow_id, name, run, value) VALUES ($1, $2, $3, $4)",
                {id, name, int64_t{g_run}, value.dump()});
    hit("tx_body");
    return Json{{"v", value}, {"run", g_run}};
  });
  return out.at("v");
}

// ---------------------------------------------------------------- workflows

struct Workflows {
  keel::Workflow<Json, int> steps;
  keel::Workflow<Json> msg_recv;
  keel::Workflow<std::string, std::string> msg_send;
  keel::Workflow<Json, int> sleep;
  keel::Workflow<Json, int> recv_timeout;
  keel::Workflow<Json, int> recv_late;
  keel::Workflow<int> ev_pub;
  keel::Workflow<int, std::string> ev_sub;
  keel::Workflow<int, int> child;
  keel::Workflow<int> parent;
  keel::Workflow<Json> upgrade;
};

// The upgrade scenario's workflow, as build v1 or v2 has it: v2 runs step
// "c" behind a patch, so runs recorded by v1 past that point keep v1's path.
keel::Workflow<Json> register_upgrade(keel::Runtime& rt, bool v2) {
  return rt.register_workflow("upgrade_wf", [v2](Context& ctx) -> Json {
    stepv(ctx, "a", 1);
    bool patched = v2 && ctx.patched("fast-path");
    if (patched) stepv(ctx, "c", 3);
    auto go = ctx.recv<bool>("go", 60s);
    stepv(ctx, "b", 2);
    return Json{{"path", patched ? "new" : "old"}, {"go", go.value_or(false)}};
  });
}

Workflows register_all(keel::Runtime& rt, bool v2) {
  auto steps = rt.register_workflow("steps_wf", [](Context& ctx, int seed) -> Json {
    int a = stepv(ctx, "s1", seed + 1).get<int>();
    int b = stepv(ctx, "s2", a * 2).get<int>();
    int t = txv(ctx, "tx_insert", b + 100).get<int>();
    bool err_ok = false;
    try {
      ctx.step("s_err", [&]() -> int {
        mark(ctx.workflow_id(), "s_err");
        hit("in_step");
        throw std::runtime_error("planned failure (run " + std::to_string(g_run) + ")");
      });
    } catch (const keel::WorkflowCancelledError&) {
      throw;
    } catch (const std::exception& e) {
      err_ok = std::string_view(e.what()).starts_with("planned failure (run ");
    }
    int c = stepv(ctx, "s3", t + 3).get<int>();
    int d = stepv(ctx, "s4", c * 10).get<int>();
    return Json{{"d", d}, {"err_ok", err_ok}};
  });

  auto msg_recv = rt.register_workflow("msg_recv_wf", [](Context& ctx) -> Json {
    ctx.set_event("ready1", true);
    auto m1 = ctx.recv<std::string>("inbox", 60s);
    Json g1 = stepv(ctx, "got1", m1.value_or("<none>"));
    ctx.set_event("ready2", true);
    auto m2 = ctx.recv<std::string>("inbox", 60s);
    Json g2 = stepv(ctx, "got2", m2.value_or("<none>"));
    // Nothing else was sent: a message delivered twice would show up here.
    auto m3 = ctx.recv<std::string>("inbox", 200ms);
    return Json::array({g1, g2, m3.value_or("<none>")});
  });

  auto msg_send = rt.register_workflow("msg_send_wf", [](Context& ctx, std::string dest) -> std::string {
    stepv(ctx, "prep", 1);
    ctx.send(dest, std::string("hello-2"), "inbox");
    stepv(ctx, "done", 2);
    return "sent";
  });

  auto sleep = rt.register_workflow("sleep_wf", [](Context& ctx, int ms) -> Json {
    stepv(ctx, "before", 1);
    auto t0 = ctx.now();
    ctx.sleep(std::chrono::milliseconds(ms));
    auto t1 = ctx.now();
    stepv(ctx, "after", 2);
    return Json{{"slept_enough", t1 - t0 >= std::chrono::milliseconds(ms)}};
  });

  auto recv_timeout = rt.register_workflow("recv_timeout_wf", [](Context& ctx, int ms) -> Json {
    stepv(ctx, "before", 1);
    auto t0 = ctx.now();
    auto m = ctx.recv<std::string>("never", std::chrono::milliseconds(ms));
    auto t1 = ctx.now();
    stepv(ctx, "after", 2);
    return Json{{"message", m ? Json(*m) : Json(nullptr)},
                {"waited_enough", t1 - t0 >= std::chrono::milliseconds(ms)}};
  });

  auto recv_late = rt.register_workflow("recv_late_wf", [](Context& ctx, int ms) -> Json {
    stepv(ctx, "before", 1);
    auto m = ctx.recv<std::string>("late", std::chrono::milliseconds(ms));
    Json got = stepv(ctx, "got", m ? Json(*m) : Json(nullptr));
    auto extra = ctx.recv<std::string>("late", 200ms);
    return Json{{"message", got}, {"extra", extra ? Json(*extra) : Json(nullptr)}};
  });

  auto ev_pub = rt.register_workflow("ev_pub_wf", [](Context& ctx) -> int {
    int x = stepv(ctx, "compute", 7).get<int>();
    ctx.set_event("stage", std::string("computed"));
    ctx.sleep(150ms);  // ev_sub waits in get_event meanwhile
    int y = stepv(ctx, "finish", x * 6).get<int>();
    ctx.set_event("answer", y);
    return y;
  });

  auto ev_sub = rt.register_workflow("ev_sub_wf", [](Context& ctx, std::string pub) -> int {
    auto v = ctx.get_event<int>(pub, "answer", 60s);
    return stepv(ctx, "consume", v ? *v + 1 : -1).get<int>();
  });

  auto child = rt.register_workflow("child_wf", [](Context& ctx, int x) -> int {
    int y = stepv(ctx, "c1", x * x).get<int>();
    int t = txv(ctx, "c_tx", y + 100).get<int>();
    return stepv(ctx, "c2", t).get<int>();
  });

  auto parent = rt.register_workflow("parent_wf", [child](Context& ctx) -> int {
    int a = stepv(ctx, "p1", 3).get<int>();
    auto h = ctx.start_child(child, a);
    int r = h.result();
    return stepv(ctx, "p2", r + 1).get<int>();
  });

  return Workflows{steps,  msg_recv, msg_send, sleep,  recv_timeout,
                   recv_late, ev_pub, ev_sub, child, parent, register_upgrade(rt, v2)};
}

// ---------------------------------------------------------------- scenarios

constexpr auto kResultTimeout = std::chrono::milliseconds(120s);

// Sequential scenarios start a workflow only when it does not exist yet, so
// that the restarted process writes nothing concurrently with the recovered
// workflow (the test's exact accounting relies on it). Concurrent scenarios
// call start() unconditionally: on an existing ID it must run nothing twice.
template <class R, class... Args, class... A>
void get_or_start(keel::Runtime& rt, const keel::Workflow<R, Args...>& wf, const std::string& id, A&&... args) {
  if (rt.get_workflow(id)) return;
  (void)rt.start(wf, {.workflow_id = id}, std::forward<A>(args)...);
}

bool await_results(keel::Runtime& rt, const std::vector<std::string>& ids) {
  bool ok = true;
  for (const auto& id : ids) {
    try {
      Json r = rt.retrieve<Json>(id).result_for(kResultTimeout);
      emit({{"kind", "result"}, {"workflow", id}, {"result", r}});
    } catch (const keel::RecordedError& e) {
      emit({{"kind", "error"}, {"workflow", id}, {"type", e.type_name()}, {"message", e.what()}});
      ok = false;
    } catch (const std::exception& e) {
      emit({{"kind", "error"}, {"workflow", id}, {"type", keel::detail::demangle(typeid(e).name())},
            {"message", e.what()}});
      ok = false;
    }
  }
  return ok;
}

struct Options {
  std::string db, marks, scenario, kill_at;
  int run = 1;
  int kill_after = 0;
  std::optional<int> wait_ms;
  bool send = false;
  std::optional<int> park_after_ms;  // RuntimeConfig::park_after (0: waits park at once)
  std::optional<int> suspend_after;  // RuntimeConfig::suspend_after_operations (waits suspend instead of parking)
  std::string code = "v1";           // the upgrade scenario's build
};

bool run_scenario(keel::Runtime& rt, const Workflows& w, const Options& o) {
  const std::string& s = o.scenario;
  if (s == "steps") {
    get_or_start(rt, w.steps, "steps-1", 5);
    return await_results(rt, {"steps-1"});
  }
  if (s == "parallel") {
    for (int i = 1; i <= 3; ++i) (void)rt.start(w.steps, {.workflow_id = "par-" + std::to_string(i)}, i);
    return await_results(rt, {"par-1", "par-2", "par-3"});
  }
  if (s == "messages") {
    (void)rt.start(w.msg_recv, {.workflow_id = "msg-recv"});
    if (!rt.get_event<bool>("msg-recv", "ready1", kResultTimeout)) throw std::runtime_error("ready1 never set");
    // Sent again by every run: the idempotency key makes it one message.
    rt.send("msg-recv", std::string("hello-1"), "inbox", "msg-recv:hello-1");
    if (!rt.get_event<bool>("msg-recv", "ready2", kResultTimeout)) throw std::runtime_error("ready2 never set");
    (void)rt.start(w.msg_send, {.workflow_id = "msg-send"}, std::string("msg-recv"));
    return await_results(rt, {"msg-send", "msg-recv"});
  }
  if (s == "sleep") {
    get_or_start(rt, w.sleep, "sleep-1", o.wait_ms.value_or(300));
    return await_results(rt, {"sleep-1"});
  }
  if (s == "recv_timeout") {
    get_or_start(rt, w.recv_timeout, "recv-1", o.wait_ms.value_or(400));
    return await_results(rt, {"recv-1"});
  }
  if (s == "recv_late") {
    get_or_start(rt, w.recv_late, "late-1", o.wait_ms.value_or(60000));
    if (o.send) rt.send("late-1", std::string("late-message"), "late", "late-1:message");
    return await_results(rt, {"late-1"});
  }
  if (s == "events") {
    (void)rt.start(w.ev_sub, {.workflow_id = "ev-sub"}, std::string("ev-pub"));
    (void)rt.start(w.ev_pub, {.workflow_id = "ev-pub"});
    auto answer = rt.get_event<int>("ev-pub", "answer", kResultTimeout);
    emit({{"kind", "event"}, {"workflow", "ev-pub"}, {"key", "answer"}, {"value", answer ? Json(*answer) : Json()}});
    auto stage = rt.get_event<std::string>("ev-pub", "stage", kResultTimeout);
    emit({{"kind", "event"}, {"workflow", "ev-pub"}, {"key", "stage"}, {"value", stage ? Json(*stage) : Json()}});
    return await_results(rt, {"ev-pub", "ev-sub"});
  }
  if (s == "child") {
    get_or_start(rt, w.parent, "parent-1");
    return await_results(rt, {"parent-1", "parent-1-2"});
  }
  if (s == "upgrade") {
    // v1 starts upg-old, which waits for "go" (the test kills v1 meanwhile);
    // v2 starts upg-new and lets both go.
    get_or_start(rt, w.upgrade, "upg-old");
    if (o.code == "v1") return await_results(rt, {"upg-old"});
    get_or_start(rt, w.upgrade, "upg-new");
    for (std::string id : {"upg-old", "upg-new"}) rt.send(id, true, "go", "go:" + id);
    return await_results(rt, {"upg-old", "upg-new"});
  }
  throw std::invalid_argument("unknown scenario '" + s + "'");
}

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "keel_crash_worker: " << why
            << "\nusage: keel_crash_worker --db PATH --marks FILE --scenario NAME --run R"
               " [--kill-at POINT --kill-after N] [--wait-ms MS] [--send] [--park-after MS] [--code v1|v2]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&]() -> int {
      std::string v = value();
      try {
        return std::stoi(v);
      } catch (const std::exception&) {
        usage(a + " needs a number, got '" + v + "'");
      }
    };
    if (a == "--db") o.db = value();
    else if (a == "--marks") o.marks = value();
    else if (a == "--scenario") o.scenario = value();
    else if (a == "--run") o.run = number();
    else if (a == "--kill-at") o.kill_at = value();
    else if (a == "--kill-after") o.kill_after = number();
    else if (a == "--wait-ms") o.wait_ms = number();
    else if (a == "--send") o.send = true;
    else if (a == "--park-after") o.park_after_ms = number();
    else if (a == "--suspend-after") o.suspend_after = number();
    else if (a == "--code") o.code = value();
    else usage("unknown argument '" + a + "'");
  }
  if (o.db.empty() || o.marks.empty() || o.scenario.empty()) usage("--db, --marks and --scenario are required");
  if (o.kill_at.empty() != (o.kill_after == 0)) usage("--kill-at and --kill-after go together");
  if (o.code != "v1" && o.code != "v2") usage("--code is v1 or v2");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  g_run = o.run;
  g_trace_fd = ::open(o.marks.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (g_trace_fd < 0) {
    std::perror(("keel_crash_worker: open " + o.marks).c_str());
    return 2;
  }
  g_fault.kill_at = o.kill_at;
  g_fault.kill_after = o.kill_after;
  trace("start " + std::to_string(g_run) + " " + std::to_string(::getpid()), true);

  bool ok = false;
  try {
    keel::RuntimeConfig cfg;
    cfg.database_url = "sqlite:" + o.db;
    cfg.executor_id = "crash-worker";
    cfg.sqlite_synchronous = keel::SqliteSync::Full;
    cfg.poll_interval = 20ms;
    cfg.fault_hook = [](std::string_view point) { hit(point); };
    if (o.park_after_ms) cfg.park_after = std::chrono::milliseconds(*o.park_after_ms);
    if (o.suspend_after) cfg.suspend_after_operations = *o.suspend_after;
    keel::Runtime rt(cfg);
    // The application's table, in the same file: created before launch() so
    // that workflows recovered by launch() always find it.
    rt.run_sql_write([](keel::Sql& sql) {
      sql.execute_script(
          "CREATE TABLE IF NOT EXISTS crash_app_rows (workflow_id TEXT NOT NULL, name TEXT NOT NULL, "
          "run INTEGER NOT NULL, value TEXT NOT NULL)");
    });
    Workflows w = register_all(rt, o.code == "v2");
    auto report = rt.launch();
    emit({{"kind", "launched"}, {"recovered", report.recovered}});
    ok = run_scenario(rt, w, o);
    rt.shutdown();
  } catch (const std::exception& e) {
    emit({{"kind", "exception"}, {"type", keel::detail::demangle(typeid(e).name())}, {"message", e.what()}});
    std::cerr << "keel_crash_worker: " << e.what() << "\n";
    return 4;
  }
  Json counts = Json::object();
  {
    std::lock_guard lock(g_fault.mu);
    for (const auto& [point, n] : g_fault.counts) counts[point] = n;
  }
  emit({{"kind", "counts"}, {"counts", counts}});
  return ok ? 0 : 3;
}
