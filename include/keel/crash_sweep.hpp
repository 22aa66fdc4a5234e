/// @file
/// keel/crash_sweep.hpp — crash-test your own workflows: kill the process
/// at every checkpoint boundary, recover, and check your invariants.
///
/// Contract:
/// keel::testing::sweep_crashes(sweep) first runs sweep's workflows once in a
/// child process without a crash (the reference run) and counts the hits of
/// each crash point (by default: just before and just after every
/// checkpoint commit). Then, for every point and every k from 1 to its
/// count, on a fresh database:
///  1. a child process registers the workflows (sweep.setup), launches,
///     starts the work (sweep.start) and is killed with SIGKILL at the k-th
///     hit of the point;
///  2. child processes launch again (recovery) and call sweep.start again,
///     as a client retries a request that got no answer, until one sees no
///     workflow PENDING or ENQUEUED and exits;
///  3. in this process, a Runtime on that database (sweep.setup'd, not
///     launched) is handed to sweep.check with what the case observed: how
///     often each step body ran across all the processes, whether the crash
///     happened. check throws (or fails a GoogleTest expectation) when an
///     invariant does not hold.
///
/// Guarantees:
///  * Real crashes: each child is forked from this process and dies by
///    SIGKILL, as under kill -9; nothing is flushed or unwound.
///  * Each case has its own database (sweep.database_url(case), or a fresh
///    SQLite file in a temporary directory that is removed afterwards).
///  * A child that does not finish within sweep.case_timeout is killed, and
///    the case is reported as failed ("did not finish"); the sweep goes on.
///
/// Not guaranteed / the caller's part:
///  * Call it from a process with no Runtime alive and no other threads
///    that hold locks (a test's main thread): the children are fork()ed
///    and run sweep.setup / sweep.start there.
///  * sweep.start runs in every child of a case (the crash may come before
///    the start's commit): it must start the work with fixed workflow IDs
///    (and idempotency keys for its messages), so that a retry starts
///    nothing twice, and every workflow it starts must be able to finish
///    without outside help.
///  * Step bodies' side effects outside the database are at least once: the
///    report counts them (CrashCase::step_runs) so that check can assert
///    how many runs each case allows.
///
/// Thread-safety: sweep_crashes is blocking and not reentrant; the
/// callbacks run in one thread of a child process (setup, start) or of this
/// process (setup, check).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "keel/config.hpp"
#include "keel/runtime.hpp"

/// @namespace keel::testing
/// Tools for testing applications built on Keel (keel/crash_sweep.hpp).
namespace keel::testing {

/// What one case of a sweep observed.
struct CrashCase {
  std::string point;  ///< the crash point ("checkpoint.after_commit", ...); empty: the reference run
  int crash_at = 0;   ///< the hit of `point` at which the first child was killed (0: none)
  bool crashed = false;   ///< the first child died at that hit (false: it finished before reaching it)
  int processes = 0;      ///< child processes the case took, the killed one included
  bool finished = false;  ///< no workflow is left PENDING or ENQUEUED
  /// Step name -> how many times its body ran, over all the case's processes
  /// (retries of a failing body count too).
  std::map<std::string, int> step_runs;
  bool held = false;    ///< finished, and check returned without an error
  std::string failure;  ///< when !held: what went wrong

  /// The number of runs of step `name`'s body (0 when it never ran).
  [[nodiscard]] int runs_of(const std::string& name) const;
};

/// What a sweep found; one CrashCase per crash point and hit.
struct CrashSweepReport {
  CrashCase reference;           ///< the run without a crash
  std::map<std::string, int> hits;  ///< crash point -> hits in the reference run
  std::vector<CrashCase> cases;  ///< one per point and k = 1..hits[point]

  /// Every case (and the reference run) held.
  [[nodiscard]] bool ok() const;
  /// One line per case: point, k, crashed, processes, step runs, held or the failure.
  [[nodiscard]] std::string summary() const;
};

/// What to sweep: the workflows, how to start them, what must hold.
struct CrashSweep {
  /// Registers the workflows (and queues) on a Runtime; called in every
  /// child before launch, and in this process before check.
  std::function<void(Runtime&)> setup;
  /// Starts the work on the launched Runtime of each child of a case, with
  /// fixed workflow IDs (see the file's contract).
  std::function<void(Runtime&)> start;
  /// The invariants, checked in this process once a case has finished, on a
  /// Runtime over the case's database (setup called, not launched). Throws
  /// (any std::exception) when one does not hold; GoogleTest expectations
  /// work too.
  std::function<void(Runtime&, const CrashCase&)> check;
  /// The crash points to sweep, among RuntimeConfig::fault_hook's points.
  std::vector<std::string> points = {"checkpoint.before_commit", "checkpoint.after_commit"};
  /// The base configuration of every Runtime the sweep makes; database_url
  /// and fault_hook are set by the sweep.
  RuntimeConfig config = {};
  /// The database of case number `n` (0: the reference run); each must be
  /// fresh. Unset: a SQLite file in a temporary directory.
  std::function<std::string(int n)> database_url;
  /// How long a case's child processes may take, in all.
  std::chrono::milliseconds case_timeout{60000};
};

/// Runs the sweep (see the file's contract). Throws UsageError when setup,
/// start or check is missing or points is empty, and std::runtime_error
/// when a child process cannot be made.
[[nodiscard]] CrashSweepReport sweep_crashes(const CrashSweep& sweep);

}  // namespace keel::testing
