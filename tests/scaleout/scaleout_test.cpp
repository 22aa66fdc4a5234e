// Scale-out: several executor processes (keel_scaleout_worker) on one
// database, no control plane. Real processes, real SIGKILL / SIGSTOP.
//
// Runs on SQLite (label scaleout) and, with KEEL_TEST_DATABASE_URL set, on a
// PostgreSQL database of its own (label postgres). Leases are short here
// (heartbeat 100 ms, lease 1 s); waits are for conditions, with deadlines far
// above the lease so that sanitizer builds pass too.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "support/child_process.hpp"
#include "support/runtime_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using keel::Json;
using keel::testing::ChildProcess;
using keel::testing::Clock;
using keel::testing::TempDir;

constexpr auto kDeadline = 60s;          // a worker's answer, even under sanitizers
constexpr auto kTakeoverBound = 20s;     // lease (1 s) + heartbeats + generous slack

// One keel_scaleout_worker process and the "@@" messages it printed.
class Worker {
 public:
  Worker(const TempDir& dir, const std::string& db, const std::string& executor, std::vector<std::string> extra)
      : executor_(executor) {
    std::vector<std::string> args{"--db", db, "--executor", executor, "--dir", dir.path().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<ChildProcess>(KEEL_SCALEOUT_WORKER, args, dir.file(executor + ".stderr"));
  }
  // The first message of this kind (and matching id when given) not yet
  // consumed; the library's log lines are kept in log().
  Json wait_for(const std::string& kind, const std::string& id = "") {
    auto deadline = Clock::now() + kDeadline;
    for (;;) {
      for (size_t i = 0; i < messages_.size(); ++i) {
        const Json& m = messages_[i];
        if (m.value("kind", "") == kind && (id.empty() || m.value("id", "") == id)) {
          Json found = m;
          messages_.erase(messages_.begin() + static_cast<long>(i));
          return found;
        }
        if (m.value("kind", "") == "error" || m.value("kind", "") == "config_error")
          if (kind != m.value("kind", "")) throw std::runtime_error(executor_ + ": " + m.dump());
      }
      if (!read_one(deadline)) throw std::runtime_error(executor_ + " exited before saying " + kind);
    }
  }
  // Reads output until a log line containing text appears.
  void wait_for_log(const std::string& text) {
    auto deadline = Clock::now() + kDeadline;
    while (log_.find(text) == std::string::npos)
      if (!read_one(deadline)) throw std::runtime_error(executor_ + " exited before logging '" + text + "'");
  }
  int wait_exit() {
    while (read_one(Clock::now() + kDeadline)) {
    }
    return proc_->wait();
  }
  ChildProcess& process() { return *proc_; }
  const std::string& log() const { return log_; }

 private:
  bool read_one(Clock::time_point deadline) {
    auto line = proc_->read_line(deadline);
    if (!line) return false;
    if (line->starts_with("@@ ")) messages_.push_back(Json::parse(line->substr(3)));
    else log_ += *line + "\n";
    return true;
  }
  std::string executor_;
  std::unique_ptr<ChildProcess> proc_;
  std::vector<Json> messages_;
  std::string log_;
};

std::vector<std::string> serve(int start = 0, const std::string& prefix = "p") {
  return {"--mode", "serve", "--start", std::to_string(start), "--prefix", prefix};
}

void touch(const TempDir& dir, const std::string& name) { std::ofstream(dir.file(name)) << "x"; }

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class ScaleOut : public ::testing::Test {
 protected:
  ScaleOut() {
    keel::RuntimeConfig cfg;
    cfg.database_url = db;
    cfg.executor_id = "inspector";
    cfg.executor_lease = false;
    inspector = std::make_unique<keel::Runtime>(cfg);  // never launched: reads only
    inspector->run_sql_write([](keel::Sql& sql) {
      sql.execute_script(
          "CREATE TABLE IF NOT EXISTS scale_effects (workflow_id TEXT NOT NULL, what TEXT NOT NULL, "
          "executor TEXT NOT NULL)");
    });
  }
  ~ScaleOut() override {
    inspector.reset();
    if (keel::testing::testing_on_postgres())
      keel::testing::detail::PgTestDatabases::instance().drop(keel::testing::detail::database_for(dir));
  }

  std::unique_ptr<Worker> spawn(const std::string& executor, std::vector<std::string> args) {
    args.insert(args.end(), {"--heartbeat-ms", "100", "--lease-ms", "1000"});
    return std::make_unique<Worker>(dir, db, executor, args);
  }
  std::string owner(const std::string& id) {
    auto info = inspector->get_workflow(id);
    return info ? info->executor_id : "";
  }
  keel::WorkflowStatus status(const std::string& id) {
    auto info = inspector->get_workflow(id);
    return info ? info->status : keel::WorkflowStatus::Pending;
  }
  // executor of each row of scale_effects for (id, what)
  std::vector<std::string> effects(const std::string& id, const std::string& what) {
    std::vector<std::string> out;
    inspector->run_sql_read([&](keel::Sql& sql) {
      for (auto& r : sql.query("SELECT executor FROM scale_effects WHERE workflow_id = $1 AND what = $2", {id, what}))
        out.push_back(r.get_string(0));
    });
    return out;
  }
  // executors of the marks lines "<what> <id> <executor>"
  std::vector<std::string> marks(const std::string& what, const std::string& id) {
    std::ifstream in(dir.file("marks"));
    std::vector<std::string> out;
    std::string w, i, e;
    while (in >> w >> i >> e)
      if (w == what && i == id) out.push_back(e);
    return out;
  }
  void stop_all(std::vector<Worker*> workers) {
    touch(dir, "stop");
    for (Worker* w : workers) {
      int st = w->wait_exit();
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << keel::testing::describe_status(st) << "\n" << w->log();
    }
  }

  TempDir dir;
  std::string db = keel::testing::test_db_url(dir);
  std::unique_ptr<keel::Runtime> inspector;
};

// One workflow ID started by four processes at the same instant: it runs
// once, and every process gets its result.
TEST_F(ScaleOut, OneWorkflowIdStartedByFourProcessesRunsOnce) {
  std::vector<std::unique_ptr<Worker>> ws;
  for (int i = 0; i < 4; ++i)
    ws.push_back(spawn("e" + std::to_string(i), {"--mode", "race", "--workflow-id", "race-1"}));
  for (auto& w : ws) w->wait_for("ready");
  touch(dir, "barrier");
  for (auto& w : ws) EXPECT_EQ(w->wait_for("result")["value"], 1);
  for (auto& w : ws) EXPECT_EQ(w->wait_exit(), 0) << w->log();
  EXPECT_EQ(effects("race-1", "count").size(), 1u);
  EXPECT_EQ(marks("once", "race-1").size(), 1u);
  auto info = inspector->get_workflow("race-1");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, keel::WorkflowStatus::Success);
  EXPECT_EQ(marks("once", "race-1").at(0), info->executor_id);  // the step ran where the workflow ran
}

// A SIGKILLed executor's parked workflows are taken over by exactly one of
// two live executors, within a bounded time, and completed once; the killed
// executor, restarted with its id, finds nothing left to recover.
TEST_F(ScaleOut, KilledExecutorIsTakenOverByExactlyOneSurvivor) {
  auto b = spawn("b", serve());
  auto c = spawn("c", serve());
  b->wait_for("ready");
  c->wait_for("ready");
  const std::vector<std::string> ids{"a-0", "a-1", "a-2", "a-3"};
  auto a = spawn("a", serve(4, "a-"));
  for (const auto& id : ids) a->wait_for("parked", id);
  a->process().kill_now();
  a->process().wait();

  auto t0 = Clock::now();
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& id : ids)
          if (owner(id) == "a") return false;
        return true;
      },
      kTakeoverBound))
      << "no takeover within the bound";
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  const std::string taker = owner(ids[0]);
  ASSERT_TRUE(taker == "b" || taker == "c") << taker;
  for (const auto& id : ids) EXPECT_EQ(owner(id), taker) << id << ": one claim moves all of a's workflows";
  Worker& winner = taker == "b" ? *b : *c;
  for (const auto& id : ids) winner.wait_for("parked", id);  // replayed up to the park step

  touch(dir, "go-all");
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& id : ids)
          if (status(id) != keel::WorkflowStatus::Success) return false;
        return true;
      },
      kTakeoverBound));
  for (const auto& id : ids) {
    EXPECT_EQ(inspector->get_workflow(id)->output, Json("done-" + id));
    EXPECT_EQ(effects(id, "charge"), std::vector<std::string>{"a"}) << id;  // before the kill, not again
    EXPECT_EQ(effects(id, "ship"), std::vector<std::string>{taker}) << id;  // exactly once, by the taker
    EXPECT_EQ(marks("after", id), std::vector<std::string>{taker}) << id;   // never in the other survivor
    EXPECT_EQ(marks("park", id), std::vector<std::string>{taker}) << id;
  }

  auto again = spawn("a", serve());
  EXPECT_EQ(again->wait_for("launched")["recovered"], Json::array()) << "a's workflows belong to " << taker;
  again->wait_for("ready");
  stop_all({b.get(), c.get(), again.get()});
  std::cerr << "takeover after SIGKILL took " << took.count() << " ms (lease 1000 ms)\n";
}

// An executor that stalls past its lease (SIGSTOP) loses its workflow to a
// live one; when it continues (SIGCONT) it writes nothing more for it: the
// checkpoint of its step in flight is refused, and the transaction after it
// runs once, in the new owner.
TEST_F(ScaleOut, StalledExecutorIsFencedAfterTakeover) {
  auto b = spawn("b", serve());
  b->wait_for("ready");
  auto a = spawn("a", serve(1, "f-"));
  a->wait_for("parked", "f-0");
  // A stall that lands inside a's own database transaction holds its locks,
  // and nobody can take it over until it continues: stall again then.
  bool taken = false;
  for (int attempt = 0; attempt < 5 && !taken; ++attempt) {
    a->process().signal(SIGSTOP);
    taken = wait_until([&] { return owner("f-0") == "b"; }, 5s);
    if (!taken) {
      a->process().signal(SIGCONT);
      std::this_thread::sleep_for(300ms);
    }
  }
  ASSERT_TRUE(taken) << "b never took over the stalled a";
  b->wait_for("parked", "f-0");
  touch(dir, "go-a");
  a->process().signal(SIGCONT);
  a->wait_for("unparked", "f-0");  // a's step body finished; its checkpoint must be refused
  a->wait_for_log("taken over by another executor");
  EXPECT_EQ(status("f-0"), keel::WorkflowStatus::Pending);
  EXPECT_TRUE(effects("f-0", "ship").empty()) << "a ran the transaction after losing the workflow";

  touch(dir, "go-b");
  ASSERT_TRUE(wait_until([&] { return status("f-0") == keel::WorkflowStatus::Success; }, kTakeoverBound));
  EXPECT_EQ(inspector->get_workflow("f-0")->output, Json("done-f-0"));
  EXPECT_EQ(inspector->get_workflow("f-0")->executor_id, "b");
  EXPECT_EQ(effects("f-0", "charge"), std::vector<std::string>{"a"});
  EXPECT_EQ(effects("f-0", "ship"), std::vector<std::string>{"b"});
  EXPECT_EQ(marks("after", "f-0"), std::vector<std::string>{"b"});
  stop_all({a.get(), b.get()});
}

// A second live process with an executor id in use is refused; a process
// restarted after a SIGKILL with its id takes its lease over at once (its
// predecessor's pid is gone) and recovers its workflows itself.
TEST_F(ScaleOut, LiveExecutorIdIsRefusedAndRestartAfterCrashRecovers) {
  auto first = spawn("k", serve(2, "k-"));
  first->wait_for("parked", "k-0");
  first->wait_for("parked", "k-1");
  auto dup = spawn("k", serve());
  auto refused = dup->wait_for("config_error");
  EXPECT_NE(refused["what"].get<std::string>().find("'k' is held by a live process"), std::string::npos) << refused;
  int st = dup->wait_exit();
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 3) << keel::testing::describe_status(st);

  first->process().kill_now();
  first->process().wait();
  auto restarted = spawn("k", serve());
  auto launched = restarted->wait_for("launched");
  EXPECT_EQ(launched["recovered"].size(), 2u) << launched;
  restarted->wait_for("parked", "k-0");
  restarted->wait_for("parked", "k-1");
  touch(dir, "go-all");
  ASSERT_TRUE(wait_until(
      [&] {
        return status("k-0") == keel::WorkflowStatus::Success && status("k-1") == keel::WorkflowStatus::Success;
      },
      kTakeoverBound));
  EXPECT_EQ(effects("k-0", "ship").size(), 1u);
  EXPECT_EQ(effects("k-1", "ship").size(), 1u);
  stop_all({restarted.get()});
}

}  // namespace
