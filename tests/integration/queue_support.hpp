// Test support for queues: waiting for a condition, and the start/end times
// the system database recorded for a queue's workflows (checked against the
// queue's limits from outside, as a sweep over time).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "keel/keel.hpp"
#include "support/eventually.hpp"

namespace keel::testing {

struct QueuedRun {
  std::string id;
  std::string executor;
  int64_t started_at = 0;   // dequeued: ENQUEUED -> PENDING
  int64_t finished_at = 0;  // left PENDING (updated_at of a terminal workflow)
};

inline std::vector<QueuedRun> queued_runs(Sql& sql, const std::string& queue) {
  std::string table = sql.dialect() == "sqlite" ? "keel_workflow_status" : "keel.workflow_status";
  std::vector<QueuedRun> runs;
  for (const auto& row : sql.query("SELECT workflow_id, executor_id, started_at, updated_at FROM " + table +
                                       " WHERE queue_name = $1 AND status = 'SUCCESS' ORDER BY started_at",
                                   {queue}))
    runs.push_back({row.get_string(0), row.get_string(1), row.get_int(2), row.get_int(3)});
  return runs;
}

// The most runs PENDING at one instant ([started, finished) intervals), over
// all executors, or over one executor when `executor` is given.
inline int max_overlap(const std::vector<QueuedRun>& runs, const std::string& executor = "") {
  std::vector<std::pair<int64_t, int>> edges;  // (time, +1 start / -1 end); ends sort first
  for (const auto& r : runs) {
    if (!executor.empty() && r.executor != executor) continue;
    edges.push_back({r.started_at, +1});
    edges.push_back({r.finished_at, -1});
  }
  std::sort(edges.begin(), edges.end());
  int now = 0, most = 0;
  for (const auto& e : edges) most = std::max(most, now += e.second);
  return most;
}

// The most starts within any window (t - period, t].
inline int max_starts_in_window(const std::vector<QueuedRun>& runs, int64_t period_ms) {
  std::vector<int64_t> starts;
  for (const auto& r : runs) starts.push_back(r.started_at);
  std::sort(starts.begin(), starts.end());
  int most = 0;
  size_t lo = 0;
  for (size_t hi = 0; hi < starts.size(); ++hi) {
    while (starts[lo] <= starts[hi] - period_ms) ++lo;
    most = std::max(most, static_cast<int>(hi - lo + 1));
  }
  return most;
}

}  // namespace keel::testing
