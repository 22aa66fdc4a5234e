// Crash tests of the core: a helper program (keel_crash_worker) runs workflows
// whose steps leave marks outside the database; it is SIGKILLed at chosen
// points — before and after every checkpoint commit, around and inside every
// step, inside transactions, while waiting in recv, get_event and sleep —
// then restarted until it finishes. Each case checks that every step's effect
// happened the allowed number of times, that transactions' rows exist exactly
// once, that messages are consumed exactly once and that every workflow ends
// with the right result and the same checkpoints as a run without a crash.
//
// The sweep kills at every hit of every point (N = 1..count, the count being
// measured by a reference run). KEEL_CRASH_SWEEP_STRIDE=k keeps one N in k
// (the last hit is always kept), for slow builds (sanitizers).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "keel/keel.hpp"
#include "support/temp_dir.hpp"
#include "worker_harness.hpp"

using namespace std::chrono_literals;

namespace {

using Json = keel::Json;
using Clock = std::chrono::steady_clock;
using keel::testing::TempDir;
using namespace keel::crash;


// ============================================================== scenarios

struct Scenario {
  std::string name;
  // workflow ID -> the result it must end with (also the set of workflows
  // the database must hold).
  std::map<std::string, Json> expected;
  // One workflow writes at a time (the main program only reads while it
  // runs): the commit after a step's mark is that step's checkpoint, which
  // allows the exact accounting of marks.
  bool sequential = false;
  std::vector<std::string> points;  // the fault points this scenario hits
};

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = [] {
    const std::vector<std::string> commits_and_steps{"checkpoint.before_commit", "checkpoint.after_commit",
                                                     "step.before", "step.after", "in_step"};
    auto with = [&](std::vector<std::string> extra) {
      auto v = commits_and_steps;
      v.insert(v.end(), extra.begin(), extra.end());
      return v;
    };
    auto steps_result = [](int d) { return Json{{"d", d}, {"err_ok", true}}; };
    return std::vector<Scenario>{
        {"steps", {{"steps-1", steps_result(1150)}}, true, with({"tx_body"})},
        {"parallel",
         {{"par-1", steps_result(1070)}, {"par-2", steps_result(1090)}, {"par-3", steps_result(1110)}},
         false,
         with({"tx_body"})},
        {"messages",
         {{"msg-recv", Json::array({"hello-1", "hello-2", "<none>"})}, {"msg-send", "sent"}},
         false,
         with({"wait.begin"})},
        {"sleep", {{"sleep-1", Json{{"slept_enough", true}}}}, true, with({"wait.begin"})},
        {"recv_timeout",
         {{"recv-1", Json{{"message", nullptr}, {"waited_enough", true}}}},
         true,
         with({"wait.begin"})},
        {"events", {{"ev-pub", 42}, {"ev-sub", 43}}, false, with({"wait.begin"})},
        {"child", {{"parent-1", 110}, {"parent-1-2", 109}}, true, with({"tx_body"})},
        // Only for the external-kill tests.
        {"recv_late", {{"late-1", Json{{"message", "late-message"}, {"extra", nullptr}}}}, true, {}},
    };
  }();
  return all;
}

const Scenario& scenario(const std::string& name) {
  for (const auto& s : scenarios())
    if (s.name == name) return s;
  throw std::invalid_argument("no scenario " + name);
}

bool is_commit_point(const std::string& p) { return p.starts_with("checkpoint."); }

using StepKey = std::pair<std::string, std::string>;  // (workflow id, step or transaction name)

// ============================================================== the database, read after the runs

struct AppRow {
  std::string workflow_id, name, value;
  int64_t run = 0;
};
struct Notification {
  std::string destination, topic, message;
  int64_t consumed = 0;
};

struct DbState {
  std::map<std::string, keel::WorkflowInfo> workflows;
  std::map<std::string, std::vector<keel::StepInfo>> steps;
  std::vector<AppRow> rows;
  std::vector<Notification> notifications;
  std::map<StepKey, std::string> events;  // (workflow id, key) -> value JSON
};

DbState inspect(const std::string& db_path) {
  keel::RuntimeConfig cfg;
  cfg.database_url = "sqlite:" + db_path;
  cfg.executor_id = "crash-test-inspector";  // never recovers the worker's workflows
  keel::Runtime rt(cfg);
  DbState s;
  for (auto& w : rt.list_workflows({.limit = 10000})) {
    s.steps[w.id] = rt.list_steps(w.id);
    s.workflows.emplace(w.id, std::move(w));
  }
  rt.run_sql_read([&](keel::Sql& sql) {
    for (auto& r : sql.query("SELECT workflow_id, name, run, value FROM crash_app_rows ORDER BY rowid"))
      s.rows.push_back({r.get_string(0), r.get_string(1), r.get_string(3), r.get_int(2)});
    for (auto& r : sql.query(
             "SELECT destination_id, topic, message, consumed FROM keel_notifications ORDER BY message_id"))
      s.notifications.push_back({r.get_string(0), r.get_string(1), r.get_string(2), r.get_int(3)});
    for (auto& r : sql.query("SELECT workflow_id, key, value FROM keel_workflow_events"))
      s.events[{r.get_string(0), r.get_string(1)}] = r.get_string(2);
  });
  return s;
}

const std::regex kRunInMessage(R"( \(run (\d+)\))");

// A workflow's checkpoints without what legitimately differs between runs:
// the run that executed a step, timestamps (sleep, now) and the deadlines of
// waits (recorded only when a wait actually waited, which is timing).
Json normalized_steps(const std::vector<keel::StepInfo>& steps) {
  Json out = Json::array();
  for (const auto& s : steps) {
    if (s.name == "keel.deadline") continue;
    Json j{{"function_id", s.function_id}, {"name", s.name}, {"child", s.child_workflow_id}};
    if (s.name != "keel.sleep" && s.name != "keel.now" && s.output) {
      Json o = *s.output;
      if (o.is_object()) o.erase("run");
      j["output"] = o;
    }
    if (s.error) j["error"] = {s.error->type_name, std::regex_replace(s.error->message, kRunInMessage, "")};
    out.push_back(std::move(j));
  }
  return out;
}

// The run whose execution of a step or transaction was checkpointed.
std::optional<int> recorded_run(const keel::StepInfo& s) {
  if (s.output && s.output->is_object() && s.output->contains("run")) return s.output->at("run").get<int>();
  if (s.error) {
    std::smatch m;
    if (std::regex_search(s.error->message, m, kRunInMessage)) return std::stoi(m[1]);
  }
  return std::nullopt;
}

// ============================================================== reference run

struct Reference {
  std::map<std::string, int> counts;  // fault point -> hits in a run without a crash
  DbState db;
  std::set<StepKey> steps;         // every step that leaves a mark
  std::set<StepKey> transactions;  // every transaction
};

Reference reference_run(const std::string& scenario_name, const std::vector<Kill>& kills = {},
                        const std::vector<std::string>& extra = {}) {
  TempDir dir;
  Paths p(dir);
  auto runs = run_until_done(p, scenario_name, kills, extra);
  const RunResult& last = runs.back();
  if (!last.succeeded()) throw std::runtime_error("reference run failed: " + last.describe());
  Reference ref;
  auto counts = last.of_kind("counts");
  if (counts.size() != 1) throw std::runtime_error("no counts: " + last.describe());
  for (auto& [point, n] : counts[0].at("counts").items()) ref.counts[point] = n.get<int>();
  ref.db = inspect(p.db);
  for (const auto& t : read_trace(p.marks)) {
    if (t.kind == "mark") ref.steps.insert({t.a, t.b});
    if (t.kind == "txbody") ref.transactions.insert({t.a, t.b});
  }
  return ref;
}

// ============================================================== the checks

// Checks everything after a sequence of runs that ended with an exit 0.
void check_outcome(const Scenario& sc, const Reference& ref, const Paths& p, const std::vector<RunResult>& runs) {
  std::ostringstream history;
  for (const auto& r : runs) history << r.describe() << "\n";
  SCOPED_TRACE("worker runs:\n" + history.str());

  // --- every run but the last died of SIGKILL; the last exited 0.
  ASSERT_FALSE(runs.empty());
  for (size_t i = 0; i + 1 < runs.size(); ++i) ASSERT_TRUE(runs[i].killed()) << runs[i].describe();
  const RunResult& last = runs.back();
  ASSERT_TRUE(last.succeeded()) << last.describe();
  std::set<int> killed_runs;
  for (const auto& r : runs)
    if (r.killed()) killed_runs.insert(r.run);

  // --- the results printed by the last run.
  std::map<std::string, Json> printed;
  for (const auto& m : last.of_kind("result")) printed[m.at("workflow")] = m.at("result");
  EXPECT_TRUE(last.of_kind("error").empty());
  for (const auto& [id, want] : sc.expected) {
    ASSERT_TRUE(printed.count(id)) << "no result printed for " << id;
    EXPECT_EQ(printed[id], want) << "result of " << id;
  }
  if (sc.name == "events") {
    std::map<std::string, Json> ev;
    for (const auto& m : last.of_kind("event")) ev[m.at("key")] = m.at("value");
    EXPECT_EQ(ev["answer"], Json(42));
    EXPECT_EQ(ev["stage"], Json("computed"));
  }

  // --- the database: the same workflows, results and checkpoints as a run
  // without a crash.
  DbState db = inspect(p.db);
  std::set<std::string> ids, want_ids;
  for (const auto& [id, w] : db.workflows) ids.insert(id);
  for (const auto& [id, w] : sc.expected) want_ids.insert(id);
  EXPECT_EQ(ids, want_ids);
  for (const auto& [id, w] : db.workflows) {
    SCOPED_TRACE("workflow " + id);
    EXPECT_EQ(w.status, keel::WorkflowStatus::Success) << keel::to_string(w.status);
    if (sc.expected.count(id)) {
      ASSERT_TRUE(w.output.has_value());
      EXPECT_EQ(*w.output, sc.expected.at(id));
    }
    EXPECT_LE(w.recovery_attempts, static_cast<int>(killed_runs.size()));
    ASSERT_TRUE(ref.db.steps.count(id));
    EXPECT_EQ(normalized_steps(db.steps[id]).dump(1), normalized_steps(ref.db.steps.at(id)).dump(1));
  }

  // --- events and messages: as in the reference; every message consumed.
  EXPECT_EQ(db.events, ref.db.events);
  ASSERT_EQ(db.notifications.size(), ref.db.notifications.size()) << "messages sent more or less than once";
  for (size_t i = 0; i < db.notifications.size(); ++i) {
    EXPECT_EQ(db.notifications[i].destination, ref.db.notifications[i].destination);
    EXPECT_EQ(db.notifications[i].message, ref.db.notifications[i].message);
    EXPECT_EQ(db.notifications[i].consumed, 1) << "message " << db.notifications[i].message << " not consumed";
  }

  // The checkpoint of each step/transaction, by key.
  std::map<StepKey, const keel::StepInfo*> recorded;
  for (const auto& [id, steps] : db.steps)
    for (const auto& s : steps) recorded[{id, s.name}] = &s;

  // --- transactions: their rows exist exactly once, written by the run whose
  // checkpoint was recorded.
  std::map<StepKey, std::vector<AppRow>> rows;
  for (const auto& r : db.rows) rows[{r.workflow_id, r.name}].push_back(r);
  EXPECT_EQ(db.rows.size(), ref.transactions.size()) << "application rows written more or less than once";
  for (const auto& key : ref.transactions) {
    SCOPED_TRACE("transaction " + key.first + "/" + key.second);
    ASSERT_EQ(rows[key].size(), 1u);
    ASSERT_TRUE(recorded.count(key));
    EXPECT_EQ(std::optional<int>(static_cast<int>(rows[key][0].run)), recorded_run(*recorded[key]));
    EXPECT_EQ(Json::parse(rows[key][0].value), recorded[key]->output->at("v"));
  }

  // --- marks: how often each step's effect happened.
  auto trace = read_trace(p.marks);
  std::map<StepKey, std::vector<int>> mark_runs, tx_runs;        // runs, in file order
  std::map<StepKey, std::map<int, size_t>> mark_pos, tx_pos;     // run -> index of the (last) line
  std::map<std::pair<std::string, int>, size_t> last_mark_of_wf;  // (wf, run) -> index of its last mark
  std::map<int, std::vector<size_t>> after_commits;               // run -> indexes of after_commit hits
  for (size_t i = 0; i < trace.size(); ++i) {
    const auto& t = trace[i];
    if (t.kind == "mark") {
      mark_runs[{t.a, t.b}].push_back(t.run);
      mark_pos[{t.a, t.b}][t.run] = i;
      last_mark_of_wf[{t.a, t.run}] = i;
    } else if (t.kind == "txbody") {
      tx_runs[{t.a, t.b}].push_back(t.run);
      tx_pos[{t.a, t.b}][t.run] = i;
    } else if (t.kind == "hit" && t.a == "checkpoint.after_commit") {
      after_commits[t.run].push_back(i);
    }
  }
  // The hook's kill line for every planned kill that happened.
  for (const auto& r : runs) {
    if (!r.killed() || !r.planned_kill) continue;
    bool found = false;
    for (const auto& t : trace)
      found = found || (t.kind == "kill" && t.run == r.run && t.a == r.planned_kill->point &&
                        t.b == std::to_string(r.planned_kill->after));
    EXPECT_TRUE(found) << "run " << r.run << " died of SIGKILL without the planned kill";
  }
  for (const auto& [key, rs] : mark_runs) EXPECT_TRUE(ref.steps.count(key)) << "unexpected step " << key.second;

  auto in_flight = [&](const std::map<int, size_t>& pos, int run) {
    // The step ran in `run` and no commit followed before the process died.
    auto it = pos.find(run);
    if (it == pos.end()) return false;
    const auto& ac = after_commits[run];
    return std::none_of(ac.begin(), ac.end(), [&](size_t i) { return i > it->second; });
  };

  auto check_executions = [&](const StepKey& key, const std::vector<int>& rs, const std::map<int, size_t>& pos,
                              const char* what) {
    SCOPED_TRACE(std::string(what) + " " + key.first + "/" + key.second);
    ASSERT_FALSE(rs.empty()) << "never ran";
    ASSERT_TRUE(recorded.count(key)) << "no checkpoint";
    for (size_t i = 1; i < rs.size(); ++i) EXPECT_LT(rs[i - 1], rs[i]) << "ran twice in one process";
    // Never again once its checkpoint was written: the recorded execution is the last one.
    EXPECT_EQ(recorded_run(*recorded.at(key)), std::optional<int>(rs.back()));
    // Earlier executions were lost to a crash.
    for (size_t i = 0; i + 1 < rs.size(); ++i)
      EXPECT_TRUE(killed_runs.count(rs[i])) << "re-ran although run " << rs[i] << " was not killed";
    if (sc.sequential) {
      // Exactly: once, plus once for each crash between its execution and its commit.
      size_t want = 1;
      for (int r : killed_runs) want += in_flight(pos, r) ? 1 : 0;
      EXPECT_EQ(rs.size(), want) << "runs of each execution: " << Json(rs).dump();
    }
  };
  for (const auto& key : ref.steps) check_executions(key, mark_runs[key], mark_pos[key], "step");
  for (const auto& key : ref.transactions) check_executions(key, tx_runs[key], tx_pos[key], "transaction");

  // At most one step of a workflow is lost per crash: the last it started.
  for (int r : killed_runs) {
    std::map<std::string, std::vector<StepKey>> lost;
    for (const auto& key : ref.steps) {
      const auto& rs = mark_runs[key];
      bool ran_here = std::find(rs.begin(), rs.end(), r) != rs.end();
      if (ran_here && recorded.count(key) && recorded_run(*recorded[key]) != r) lost[key.first].push_back(key);
    }
    for (const auto& [wf, keys] : lost) {
      EXPECT_EQ(keys.size(), 1u) << "run " << r << " lost several steps of " << wf;
      size_t last_of_wf = last_mark_of_wf[{wf, r}];
      EXPECT_EQ(mark_pos[keys[0]][r], last_of_wf)
          << "run " << r << " lost step " << keys[0].second << " of " << wf << " which was not its last";
    }
  }

  // Program order: a step runs only after every earlier step is recorded.
  for (const auto& [id, steps] : db.steps) {
    std::optional<int> prev_recorded;
    std::string prev_name;
    for (const auto& s : steps) {
      StepKey key{id, s.name};
      if (!ref.steps.count(key) || mark_runs[key].empty()) continue;
      if (prev_recorded) {
        EXPECT_LE(*prev_recorded, mark_runs[key].front())
            << id << ": step " << s.name << " ran in run " << mark_runs[key].front() << " before step "
            << prev_name << " was recorded (run " << *prev_recorded << ")";
      }
      prev_recorded = recorded_run(s);
      prev_name = s.name;
    }
  }
}

// ============================================================== sweep helpers

#ifndef KEEL_CRASH_DEFAULT_STRIDE
#define KEEL_CRASH_DEFAULT_STRIDE 1  // sanitizer builds use 2 (see CMakeLists.txt)
#endif

int sweep_stride() {
  static const int stride = [] {
    const char* s = std::getenv("KEEL_CRASH_SWEEP_STRIDE");
    return std::max(1, s && *s ? std::atoi(s) : KEEL_CRASH_DEFAULT_STRIDE);
  }();
  return stride;
}

// Which hits to kill at, 1..count: every one (or one in `stride`), the last
// always. The number of waits depends on timing: a handful of them suffice.
std::vector<int> hits_to_sweep(int count, const std::string& point) {
  int stride = sweep_stride();
  if (point == "wait.begin") stride = std::max(stride, (count + 5) / 6);
  std::vector<int> ns;
  for (int n = 1; n <= count; n += stride) ns.push_back(n);
  if (!ns.empty() && ns.back() != count) ns.push_back(count);
  return ns;
}

// Whether the Nth hit (N <= the reference count) is reached in every run:
// commits of concurrent workflows may share a group commit, and waits are
// timing.
bool hit_is_certain(const Scenario& sc, const std::string& point) {
  if (point == "wait.begin") return false;
  return sc.sequential || !is_commit_point(point);
}

std::string param_name(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

// ============================================================== kill at every hit of every point

struct SweepParam {
  std::string scenario;
  std::string point;
};

std::vector<SweepParam> sweep_params() {
  std::vector<SweepParam> v;
  for (const auto& s : scenarios())
    for (const auto& p : s.points) v.push_back({s.name, p});
  return v;
}

void PrintTo(const SweepParam& p, std::ostream* os) { *os << p.scenario << " / " << p.point; }

class KillAt : public ::testing::TestWithParam<SweepParam> {};

TEST_P(KillAt, EveryHitThenRecover) {
  const Scenario& sc = scenario(GetParam().scenario);
  const std::string& point = GetParam().point;
  Reference ref = reference_run(sc.name);
  // The reference itself: the right results and one mark per step.
  ASSERT_GT(ref.counts[point], 0) << "the scenario never hits " << point;
  ASSERT_FALSE(ref.steps.empty());

  int killed_cases = 0, cases = 0;
  for (int n : hits_to_sweep(ref.counts[point], point)) {
    SCOPED_TRACE("scenario " + sc.name + ", SIGKILL at hit #" + std::to_string(n) + " of " + point);
    TempDir dir;
    Paths p(dir);
    auto runs = run_until_done(p, sc.name, {Kill{point, n}});
    ++cases;
    if (runs.front().killed()) ++killed_cases;
    if (hit_is_certain(sc, point)) {
      EXPECT_TRUE(runs.front().killed()) << "hit not reached: " << runs.front().describe();
    }
    check_outcome(sc, ref, p, runs);
    if (HasFailure()) break;  // one broken case is enough to read
  }
  EXPECT_GE(killed_cases, 1) << "no case of the sweep crashed (" << cases << " cases)";
  std::cout << "[ sweep    ] " << sc.name << " / " << point << ": " << cases << " cases (stride "
            << sweep_stride() << "), " << killed_cases << " crashed\n";
}

INSTANTIATE_TEST_SUITE_P(Crash, KillAt, ::testing::ValuesIn(sweep_params()),
                         [](const auto& p) { return param_name(p.param.scenario + "_" + p.param.point); });

// ============================================================== crash again during recovery

// The first run dies with its second step between execution and checkpoint;
// the recovering run is then killed at every hit of a point; a third run
// finishes.
struct RecoveryParam {
  std::string scenario;
  std::string point;
};

std::vector<RecoveryParam> recovery_params() {
  std::vector<RecoveryParam> v;
  for (const char* s : {"steps", "child", "sleep"})
    for (const char* p : {"checkpoint.before_commit", "checkpoint.after_commit", "step.after"}) v.push_back({s, p});
  return v;
}

void PrintTo(const RecoveryParam& p, std::ostream* os) { *os << p.scenario << " / " << p.point; }

class KillDuringRecovery : public ::testing::TestWithParam<RecoveryParam> {};

TEST_P(KillDuringRecovery, EveryHitThenRecoverAgain) {
  const Scenario& sc = scenario(GetParam().scenario);
  const std::string& point = GetParam().point;
  const Kill first{"step.after", 2};
  Reference ref = reference_run(sc.name);
  // The hits of a recovering run (run 2, after the first crash).
  Reference rec = reference_run(sc.name, {first});
  ASSERT_GT(rec.counts[point], 0) << "the recovering run never hits " << point;
  for (int n : hits_to_sweep(rec.counts[point], point)) {
    SCOPED_TRACE("scenario " + sc.name + ", run 1 killed at step.after #2, run 2 at hit #" + std::to_string(n) +
                 " of " + point);
    TempDir dir;
    Paths p(dir);
    auto runs = run_until_done(p, sc.name, {first, Kill{point, n}});
    ASSERT_GE(runs.size(), 2u);
    EXPECT_TRUE(runs[0].killed());
    EXPECT_TRUE(runs[1].killed()) << "hit not reached: " << runs[1].describe();
    check_outcome(sc, ref, p, runs);
    if (HasFailure()) break;
  }
}

INSTANTIATE_TEST_SUITE_P(Crash, KillDuringRecovery, ::testing::ValuesIn(recovery_params()),
                         [](const auto& p) { return param_name(p.param.scenario + "_" + p.param.point); });

// ============================================================== external kills while waiting

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void check_wait_resumed(const std::string& scenario_name, int wait_ms) {
  const Scenario& sc = scenario(scenario_name);
  const std::vector<std::string> extra{"--wait-ms", std::to_string(wait_ms)};
  Reference ref = reference_run(sc.name, {}, extra);
  TempDir dir;
  Paths p(dir);
  auto e = kill_while_waiting(p, sc.name, std::chrono::milliseconds(wait_ms / 2), extra, extra);
  ASSERT_TRUE(e.runs[0].killed()) << e.runs[0].describe();
  check_outcome(sc, ref, p, e.runs);
  double after_restart = ms_between(e.restarted_at, e.finished_at);
  double since_wait = ms_between(e.waiting_at, e.finished_at);
  std::cout << "[ timing   ] " << scenario_name << ": wait " << wait_ms << " ms, killed after " << wait_ms / 2
            << " ms; restart ran " << after_restart << " ms; " << since_wait << " ms since the wait began\n";
  // The recovered wait lasts what was left of it, not the whole duration again.
  EXPECT_LT(after_restart, wait_ms - 500.0) << "the recovered wait started over";
  // And it did not end early: the deadline was recorded just before the
  // first wait began (250 ms of slack for that and the clocks).
  EXPECT_GE(since_wait, wait_ms - 250.0) << "the wait ended before its recorded deadline";
  EXPECT_LT(since_wait, wait_ms + 5000.0);
}

TEST(CrashWhileWaiting, RecvTimeoutWaitsOnlyWhatIsLeft) { check_wait_resumed("recv_timeout", 4000); }

TEST(CrashWhileWaiting, SleepWaitsOnlyWhatIsLeft) { check_wait_resumed("sleep", 4000); }

// Killed from outside while waiting in recv (60 s timeout); the restarted
// process sends the message: the recovered recv gets it right away, once. A
// third process sends it again with the same idempotency key: nothing new.
TEST(CrashWhileWaiting, RecvReceivesMessageSentAfterRestart) {
  const Scenario& sc = scenario("recv_late");
  Reference ref = reference_run(sc.name, {}, {"--send"});
  TempDir dir;
  Paths p(dir);
  auto e = kill_while_waiting(p, sc.name, 300ms, {}, {"--send"});
  ASSERT_TRUE(e.runs[0].killed()) << e.runs[0].describe();
  check_outcome(sc, ref, p, e.runs);
  EXPECT_LT(ms_between(e.restarted_at, e.finished_at), 30000.0) << "the message did not wake the recovered recv";
  // A third process sends again with the same key: nothing new arrives.
  auto again = run_worker(p, sc.name, 3, std::nullopt, {"--send"});
  ASSERT_TRUE(again.succeeded()) << again.describe();
  DbState db = inspect(p.db);
  ASSERT_EQ(db.notifications.size(), 1u);
  EXPECT_EQ(db.notifications[0].consumed, 1);
}

// The same with waits that park at once (park_after 0): the first process
// is killed while the workflow is parked (no thread holds it, only the
// parking lot's memory), the restarted one resumes it by replay; the sleep
// waits only what is left.
TEST(CrashWhileParked, RecvReceivesMessageSentAfterRestart) {
  const Scenario& sc = scenario("recv_late");
  const std::vector<std::string> park{"--park-after", "0"};
  std::vector<std::string> send = park;
  send.push_back("--send");
  Reference ref = reference_run(sc.name, {}, send);
  TempDir dir;
  Paths p(dir);
  auto e = kill_while_waiting(p, sc.name, 300ms, park, send);
  ASSERT_TRUE(e.runs[0].killed()) << e.runs[0].describe();
  check_outcome(sc, ref, p, e.runs);
  EXPECT_LT(ms_between(e.restarted_at, e.finished_at), 30000.0) << "the message did not wake the recovered recv";
}

// A 3 s sleep, killed from outside 1.5 s in, with the worker's `options`
// (how the wait waits): the restarted process waits only what is left.
// `point`: a fault point the reference run must hit (how it waited), if any.
void check_sleep_waits_only_what_is_left(std::vector<std::string> options, const std::string& point = "") {
  const Scenario& sc = scenario("sleep");
  options.insert(options.begin(), {"--wait-ms", "3000"});
  Reference ref = reference_run(sc.name, {}, options);
  if (!point.empty()) {
    ASSERT_GT(ref.counts[point], 0) << "the reference run's sleep never hit " << point;
  }
  TempDir dir;
  Paths p(dir);
  auto e = kill_while_waiting(p, sc.name, 1500ms, options, options);
  ASSERT_TRUE(e.runs[0].killed()) << e.runs[0].describe();
  check_outcome(sc, ref, p, e.runs);
  EXPECT_LT(ms_between(e.restarted_at, e.finished_at), 3000.0 - 500.0) << "the recovered sleep started over";
  EXPECT_GE(ms_between(e.waiting_at, e.finished_at), 3000.0 - 250.0) << "the sleep ended before its deadline";
}

TEST(CrashWhileParked, SleepWaitsOnlyWhatIsLeft) { check_sleep_waits_only_what_is_left({"--park-after", "0"}); }

// The same with waits suspended instead of parked (max_suspended_workflows;
// --suspend-after 1: every wait after the first step suspends, in its thread
// outside the pool). Killed at the instant the recv has suspended, the
// restarted process receives the message once; killed from outside while
// suspended in a sleep, the restarted one waits only what is left (the
// deadline's record went in before the wait suspended).
TEST(CrashWhileSuspended, KilledAsTheRecvSuspendsTheRestartedProcessReceivesOnce) {
  const Scenario& sc = scenario("recv_late");
  const std::vector<std::string> suspend{"--park-after", "0", "--suspend-after", "1"};
  std::vector<std::string> send = suspend;
  send.push_back("--send");
  Reference ref = reference_run(sc.name, {}, send);
  ASSERT_GT(ref.counts["wait.suspended"], 0) << "no wait of the reference run was suspended";
  TempDir dir;
  Paths p(dir);
  std::vector<RunResult> runs{run_worker(p, sc.name, 1, Kill{"wait.suspended", 1}, suspend)};
  ASSERT_TRUE(runs[0].killed()) << "the recv never suspended: " << runs[0].describe();
  runs.push_back(run_worker(p, sc.name, 2, std::nullopt, send));
  check_outcome(sc, ref, p, runs);
}

TEST(CrashWhileSuspended, SleepWaitsOnlyWhatIsLeft) {
  check_sleep_waits_only_what_is_left({"--park-after", "0", "--suspend-after", "1"}, "wait.suspended");
}

}  // namespace
