// Retention (RetentionConfig, keel/config.hpp): a background thread that, on
// the one live executor with the smallest executor_id, cancels PENDING and
// ENQUEUED workflows past the global timeout and deletes finished workflows
// past their age or beyond the row budget, batch by batch.
//
// Pacing: after each batch it sleeps nine times as long as the batch took,
// so that the write path (the group committer, other processes) has the
// database at least 90% of the time; bench/retention_bench.cpp measures
// what it costs concurrent workflows (a pause of four times cost them up to
// 27% of their throughput; nine times, at most 17%).
//
// Thread-safety: owned by the Engine; start() once; the destructor stops the
// thread (RAII), between batches.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "keel/config.hpp"
#include "keel/status.hpp"

namespace keel::detail {

class Engine;

class Retention {
 public:
  Retention(Engine& engine, RetentionConfig config);
  ~Retention();
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  void start();
  // One pass now, on this thread, whichever executor is the smallest (tests).
  void run_once();

  // Whether config asks for anything.
  static bool wanted(const RetentionConfig& config);

 private:
  void run();
  bool is_our_turn();
  void time_out();
  // Deletes, batch by batch, the finished workflows filter matches, oldest
  // first, at most `budget`; returns how many it deleted.
  int64_t delete_finished(ListWorkflowsQuery filter, int64_t budget);
  bool pause(std::chrono::steady_clock::duration d);  // false when stopping

  Engine& engine_;
  const RetentionConfig config_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace keel::detail
