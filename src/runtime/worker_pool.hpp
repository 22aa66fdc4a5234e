// A bounded pool of threads with a FIFO run queue: where workflow executions
// run (RuntimeConfig::max_workflow_threads). Threads are created on demand,
// up to the limit, and live until stop(). A task that blocks (a step running
// user code) holds its thread; queued tasks then wait for a free one.
// A task may suspend itself (suspend_current: a workflow waiting with a long
// history, RuntimeConfig::max_suspended_workflows): it keeps its thread until
// it ends but no longer counts against the limit, so another thread takes
// the queue's next task. At most max_threads tasks run unsuspended and at
// most max_suspended are suspended: the pool never holds more than
// max_threads + max_suspended threads. Thread-safe.
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
  explicit WorkerPool(size_t max_threads, size_t max_suspended = 0);
  ~WorkerPool();  // stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues task. Throws RuntimeStateError when the pool has no thread and
  // cannot create one, or is stopped. A task's exception is logged.
  void submit(std::function<void()> task);
  // Tasks waiting for a thread.
  size_t backlog() const;
  // Called by a task on its pool thread: from now until the task returns it
  // counts as suspended, not against max_threads. False (nothing changes)
  // when max_suspended tasks are suspended already, or off a pool thread;
  // true again for a task suspended already.
  [[nodiscard]] bool suspend_current();
  // Threads created so far (never more than the limit).
  size_t threads() const;
  // One consistent reading, for the metrics.
  struct Load {
    size_t threads = 0;  // created so far
    size_t busy = 0;     // running a task
    size_t backlog = 0;  // tasks waiting for a thread
    size_t suspended = 0;  // tasks suspended (suspend_current)
  };
  Load load() const;
  size_t max_threads() const { return max_threads_; }
  // Runs what is queued, then joins every thread. Idempotent.
  void stop();

 private:
  void work();
  // Whether a thread may take the queue's next task: fewer than max_threads
  // run unsuspended. Under mu_.
  bool can_take() const { return running_ - suspended_ < max_threads_; }
  // Threads that could take a task now. Under mu_.
  size_t takers() const { return can_take() ? std::min(idle_, max_threads_ - (running_ - suspended_)) : 0; }

  const size_t max_threads_;
  const size_t max_suspended_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  std::vector<std::thread> threads_;         // guarded by mu_
  size_t idle_ = 0;                          // guarded by mu_
  size_t running_ = 0;                       // threads in a task; guarded by mu_
  size_t suspended_ = 0;                     // of them, suspended; guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
};

}  // namespace keel::detail
