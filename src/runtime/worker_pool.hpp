// A bounded pool of threads with a FIFO run queue: where workflow executions
// run (RuntimeConfig::max_workflow_threads). Threads are created on demand,
// up to the limit, and live until stop(). A task that blocks (a step running
// user code) holds its thread; queued tasks then wait for a free one.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace keel::detail {

class WorkerPool {
 public:
  explicit WorkerPool(size_t max_threads);
  ~WorkerPool();  // stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues task. Throws RuntimeStateError when the pool has no thread and
  // cannot create one, or is stopped. A task's exception is logged.
  void submit(std::function<void()> task);
  // Tasks waiting for a thread.
  size_t backlog() const;
  // Threads created so far (never more than the limit).
  size_t threads() const;
  // One consistent reading, for the metrics.
  struct Load {
    size_t threads = 0;  // created so far
    size_t busy = 0;     // running a task
    size_t backlog = 0;  // tasks waiting for a thread
  };
  Load load() const;
  size_t max_threads() const { return max_threads_; }
  // Runs what is queued, then joins every thread. Idempotent.
  void stop();

 private:
  void work();

  const size_t max_threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  std::vector<std::thread> threads_;         // guarded by mu_
  size_t idle_ = 0;                          // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
};

}  // namespace keel::detail
