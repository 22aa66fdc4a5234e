// The queues of one Runtime: their declarations, enqueue, and the dequeuer
// thread (keel/queue.hpp, docs/queues.md).
//
// Threads: start() (after the engine's launch) runs one dequeuer thread when
// at least one queue is registered; stop() (before the engine's shutdown, and
// in the destructor) ends and joins it, so no dequeue can move a workflow to
// PENDING that the stopping engine would then refuse to run. The dequeuer
// sleeps on the engine's notifier (WakeKey::queues(): a local enqueue, a
// local queued workflow ending, stop) and otherwise re-reads the database
// every poll_interval, which is how it sees other processes' work.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "keel/queue.hpp"
#include "keel/serialization.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

class Engine;
class Execution;

// Context::enqueue: the enqueuing workflow's execution and the position its
// record takes (committed with the enqueue).
struct EnqueueParent {
  Execution& exec;
  int function_id;
};

// Throws UsageError when the options are invalid (for a Client, which does
// not know the queue's declaration: priority is only checked to be >= 0).
void validate_enqueue_options(const EnqueueOptions& options);
// A declaration as stored and dequeued (keel_queues), and back.
sysdb::QueueSpec spec_of(const QueueOptions& q);
QueueOptions options_of(const sysdb::QueueSpec& s);
// "concurrency 10 here, 5 stored; ..." for the fields where they differ.
std::string describe_differences(const sysdb::QueueSpec& mine, const sysdb::QueueSpec& stored);
sysdb::QueuedFields queued_fields(const std::string& queue, const EnqueueOptions& options);

class Queues {
 public:
  explicit Queues(Engine& engine) : engine_(engine) {}
  ~Queues() { stop(); }
  Queues(const Queues&) = delete;
  Queues& operator=(const Queues&) = delete;

  void add(const QueueOptions& options);
  std::string enqueue(const std::string& name, const std::string& queue, const EnqueueOptions& options, Json inputs,
                      const EnqueueParent* parent = nullptr);
  // At launch, once the schema is current (before recovery and the
  // dequeuer): stores each registered queue's declaration, or compares it
  // with the stored one. Throws ConfigError naming the queue and the
  // differing fields unless the declaration asks to replace the stored one
  // (QueueOptions::update_stored).
  void declare();
  void start();
  void stop();
  // The registered queues' names (declared before launch, fixed after).
  std::vector<std::string> names() const;
  // The registered queues' declarations (a copy; fixed after launch).
  std::vector<QueueOptions> declarations() const { return queues_; }

 private:
  const QueueOptions& find(const std::string& queue) const;
  // The enqueue and the parent's record, in one commit; a DeduplicatedError
  // is recorded as the parent's operation's outcome before it is thrown.
  sysdb::InsertWorkflowResult enqueue_from(const EnqueueParent& parent, const sysdb::NewWorkflow& wf,
                                           const sysdb::QueuedFields& fields);
  void loop();
  // One dequeue of one queue; true when it took a full batch (look again now).
  bool dequeue_once(const QueueOptions& q, const std::vector<std::string>& names);

  Engine& engine_;
  std::vector<QueueOptions> queues_;  // fixed once started
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::mutex thread_mu_;
  std::thread thread_;  // guarded by thread_mu_
};

}  // namespace keel::detail
