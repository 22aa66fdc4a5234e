#include "runtime/worker_pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "keel/errors.hpp"

namespace keel::detail {

namespace {
// The pool whose task runs on this thread, and whether that task suspended
// itself (WorkerPool::suspend_current).
thread_local const WorkerPool* t_pool = nullptr;
thread_local bool t_suspended = false;
}  // namespace

WorkerPool::WorkerPool(size_t max_threads, size_t max_suspended)
    : max_threads_(max_threads), max_suspended_(max_suspended) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::submit(std::function<void()> task) {
  std::unique_lock lock(mu_);
  if (stopping_) throw RuntimeStateError("the workflow thread pool is stopped");
  queue_.push_back(std::move(task));
  if (!can_take() || takers() >= queue_.size() || threads_.size() >= max_threads_ + suspended_) {
    // Notified after unlocking: a thread woken under the lock would first
    // sleep again on it.
    lock.unlock();
    cv_.notify_one();
    return;
  }
  try {
    threads_.emplace_back([this] { work(); });
  } catch (const std::system_error& e) {
    if (threads_.empty()) {
      queue_.pop_back();
      throw RuntimeStateError(std::string("cannot start a workflow thread: ") + e.what());
    }
    spdlog::warn("cannot start another workflow thread ({} running): {}", threads_.size(), e.what());
    cv_.notify_one();
  }
}

size_t WorkerPool::backlog() const {
  std::lock_guard lock(mu_);
  return queue_.size() > takers() ? queue_.size() - takers() : 0;
}

bool WorkerPool::suspend_current() {
  if (t_pool != this) return false;
  if (t_suspended) return true;
  std::lock_guard lock(mu_);
  if (suspended_ >= max_suspended_) return false;
  ++suspended_;
  t_suspended = true;
  // Its place under max_threads is free: the queue's next task takes it, on
  // an idle thread or a new one.
  if (queue_.empty() || stopping_) return true;
  if (idle_ > 0 || threads_.size() >= max_threads_ + suspended_) {  // (a thread just created counts as neither)
    cv_.notify_one();
    return true;
  }
  try {
    threads_.emplace_back([this] { work(); });
  } catch (const std::system_error& e) {
    spdlog::warn("cannot start another workflow thread ({} running): {}", threads_.size(), e.what());
  }
  return true;
}

size_t WorkerPool::threads() const {
  std::lock_guard lock(mu_);
  return threads_.size();
}

WorkerPool::Load WorkerPool::load() const {
  std::lock_guard lock(mu_);
  // A thread just created counts as busy until it first waits.
  return {threads_.size(), threads_.size() - std::min(idle_, threads_.size()),
          queue_.size() > takers() ? queue_.size() - takers() : 0, suspended_};
}

void WorkerPool::work() {
  t_pool = this;
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [&] { return stopping_ || (!queue_.empty() && can_take()); });
    --idle_;
    if (queue_.empty()) return;  // stopping, nothing left
    auto task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      spdlog::error("a workflow task failed: {}", e.what());
    } catch (...) {
      spdlog::error("a workflow task failed with a non-standard exception");
    }
    lock.lock();
    --running_;
    if (std::exchange(t_suspended, false)) --suspended_;
  }
}

void WorkerPool::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads)
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
    else if (t.joinable()) t.detach();
}

}  // namespace keel::detail
