// A workflow run queued for a pool thread, which the thread that waits for
// its result may take first (Engine::await_result): whoever takes it runs it,
// the other finds it taken and does nothing.
//
// Why: a caller that starts a workflow and waits for its result at once
// (start(...).result()) otherwise hands the run to a pool thread and sleeps
// until that thread hands the outcome back: two thread wake-ups on the
// workflow's critical path, each tens of microseconds on a busy machine.
// Taking the run instead costs one atomic exchange.
//
// Thread-safe: take_and_run may be called from any threads, and runs the
// body at most once.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <exception>
#include <functional>
#include <utility>

namespace keel::detail {

class QueuedRun {
 public:
  explicit QueuedRun(std::function<void()> body) : body_(std::move(body)) {}
  QueuedRun(const QueuedRun&) = delete;
  QueuedRun& operator=(const QueuedRun&) = delete;

  // Runs the body here unless another thread took it first. An exception
  // from the body is logged, as the pool logs its tasks' (the body records
  // the workflow's own failures itself).
  void take_and_run() {
    if (!take()) return;
    auto body = std::move(body_);  // only the taker touches body_
    try {
      body();
    } catch (const std::exception& e) {
      spdlog::error("a workflow task failed: {}", e.what());
    } catch (...) {
      spdlog::error("a workflow task failed with a non-standard exception");
    }
  }
  // Takes it without running it (a submit that failed): true if no thread
  // had taken it yet, so the body will never run.
  [[nodiscard]] bool take() { return !taken_.exchange(true, std::memory_order_acq_rel); }

 private:
  std::atomic<bool> taken_{false};
  std::function<void()> body_;
};

}  // namespace keel::detail
