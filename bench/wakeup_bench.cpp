// keel_wakeup_bench — what one wake-up of a parked workflow costs as its
// history grows (issue 19, part 1: the curve to flatten).
//
// For each history length H (--histories, default 10,100,1000,10000,100000):
// one workflow records H steps, sets event "ready", then loops --rounds
// times: recv("m") (parks at once: park_after = 0), a step, set_event
// ("round-r", r). The bench sends message r and waits for event "round-r":
// the round's latency is send() called -> the workflow's set_event seen, so it
// holds the wake-up (today: a replay from the top, reading H + 3r recorded
// operations) and three commits. Printed per H: the median and the best
// round, and the median's ratio to the shortest history's: today's engine
// grows linearly; the goal is within 1.5x from 100 to 100,000.
//
// Building the history takes one commit per step (about a minute for 100,000
// on PostgreSQL); it is timed and printed apart.
//
// --continue-every K: the workflow runs its H steps K at a time, each run
// handing over to the next with ctx.continue_as_new, as a long-lived loop
// keeps its history short: after H steps it holds at most K records, so the
// wake-up should not grow with H.
//
// --max-suspended N: RuntimeConfig::max_suspended_workflows (default: the
// config's). A history of at least suspend_after_operations (1,000) waits
// suspended in its thread and wakes without a replay; 0 turns that off and
// shows the replay's curve.
//
// Usage: keel_wakeup_bench [--db URL] [--histories 10,100,...] [--rounds N] [--continue-every K] [--max-suspended N]
//   --db  sqlite:PATH or postgresql://... (default: a fresh SQLite file under
//         /tmp, synchronous=NORMAL like the other benches' default runs)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench_database.hpp"
#include "keel/keel.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  std::string db;
  std::vector<int> histories{10, 100, 1000, 10000, 100000};
  int rounds = 15;
  int continue_every = 0;  // 0: one run records the whole history
  int max_suspended = keel::RuntimeConfig{}.max_suspended_workflows;
};

// The command line (CLI11): exits with its usage on a bad one.
Options parse(int argc, char** argv) {
  Options o;
  CLI::App app{"keel_wakeup_bench: a parked workflow's wake-up against its history length"};
  app.add_option("--db", o.db, "sqlite:PATH or postgresql://... (default: a temporary SQLite file)");
  app.add_option("--histories", o.histories, "history lengths, comma-separated")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rounds", o.rounds, "wake-ups measured per history")->check(CLI::PositiveNumber);
  app.add_option("--continue-every", o.continue_every, "steps per run, handed over by ctx.continue_as_new (0: off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-suspended", o.max_suspended,
                 "RuntimeConfig::max_suspended_workflows (0: every wake-up is a replay, as before)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return o;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Curve {
  int history = 0;
  double build_s = 0;
  double median_ms = 0;
  double best_ms = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const keel::bench::BenchDatabase db(o.db, "keel_wakeup");
  keel::RuntimeConfig cfg;
  cfg.database_url = db.url();
  cfg.park_after = 0ms;  // every recv parks: each round is a wake-up
  cfg.sqlite_synchronous = keel::SqliteSync::Normal;
  cfg.max_suspended_workflows = o.max_suspended;
  keel::Runtime rt(cfg);
  static const keel::Workflow<int, int, int> kWake("wake");
  const int per_run = o.continue_every;
  auto wake = rt.register_workflow("wake", [per_run](keel::Context& ctx, int history, int rounds) {
    const int here = per_run > 0 ? std::min(history, per_run) : history;
    for (int i = 0; i < here; ++i) (void)ctx.step("h", [i] { return i; });
    if (here < history) ctx.continue_as_new(kWake, history - here, rounds);
    ctx.set_event("ready", true);
    for (int r = 0; r < rounds; ++r) {
      auto m = ctx.recv<int>("m", std::chrono::hours(1));
      const int got = ctx.step("got", [&] { return m.value_or(-1); });
      ctx.set_event("round-" + std::to_string(r), got);  // a key per round: the bench waits, never polls
    }
    return rounds;
  });
  rt.launch();
  const std::string run = std::to_string(::getpid());
  std::printf("backend=%s rounds=%d continue-every=%d max-suspended=%d (median and best of each history)\n",
              db.backend(), o.rounds, o.continue_every, o.max_suspended);
  std::vector<Curve> curve;
  for (int h : o.histories) {
    const std::string id = "wake-" + run + "-" + std::to_string(h);
    Curve c;
    c.history = h;
    const auto t0 = Clock::now();
    auto handle = rt.start(wake, {.workflow_id = id}, h, o.rounds);
    if (!rt.get_event<bool>(id, "ready", 1h)) {
      std::fprintf(stderr, "history %d: never ready\n", h);
      return 1;
    }
    c.build_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> rounds;
    for (int r = 0; r < o.rounds; ++r) {
      std::this_thread::sleep_for(20ms);  // parked again (its thread gone) before the next message
      const auto s = Clock::now();
      rt.send(id, r, "m");
      auto v = rt.get_event<int>(id, "round-" + std::to_string(r), 60s);
      if (v != r) {
        std::fprintf(stderr, "history %d round %d: no answer in 60 s\n", h, r);
        return 1;
      }
      rounds.push_back(ms(Clock::now() - s));
    }
    if (handle.result_for(60s) != o.rounds) return 1;
    std::sort(rounds.begin(), rounds.end());
    c.median_ms = rounds[rounds.size() / 2];
    c.best_ms = rounds.front();
    curve.push_back(c);
    std::printf("history %7d: built in %7.2f s; wake-up round median %8.2f ms, best %8.2f ms, ratio %6.2f\n", h,
                c.build_s, c.median_ms, c.best_ms, c.median_ms / curve.front().median_ms);
    std::fflush(stdout);
  }
  rt.shutdown();
  return 0;
}
