/// @file
/// keel/queue.hpp — named queues: declared limits, and how a workflow is enqueued.
///
/// Contract:
///  * A queue is declared in each process that should run its workflows, with
///    Runtime::register_queue before launch(). Its declaration (concurrency,
///    worker_concurrency, rate_limit, priority_enabled) is stored in the
///    system database: the first launch declaring the queue stores it, a later
///    launch declaring it alike goes on, and a launch declaring it otherwise
///    throws ConfigError (naming the queue and each differing field, with
///    both values) before it recovers or dequeues anything, unless its
///    declaration sets update_stored: then launch() replaces the stored
///    declaration (one transaction) and every dequeuer, in every process,
///    enforces the new limits from its next dequeue on. Dequeuers always
///    enforce the stored limits, never their own process's copy.
///  * Runtime::enqueue (or Client::enqueue, or Context::enqueue from inside a
///    workflow) records the workflow as ENQUEUED.
///    A dequeuer thread of each launched Runtime moves ENQUEUED workflows of
///    the queues registered there, whose workflow names are registered there,
///    to PENDING under its executor id and runs them. A workflow of a queue no
///    process registers stays ENQUEUED.
///  * Order: lower `priority` first when the queue has priority_enabled
///    (otherwise priorities are ignored), then FIFO by creation time (epoch
///    milliseconds), ties broken by workflow ID.
///  * Limits, across all processes on one system database:
///    ~~~{.unparsed}
///      concurrency         at no instant are more than this many of the
///                          queue's workflows PENDING (running or waiting to
///                          be recovered), over all executors;
///      worker_concurrency  nor more than this many under one executor id;
///      rate_limit          within any window of `period`, at most `limit`
///                          workflows are dequeued (started).
///    ~~~
///    Dequeuers of one queue are serialised in the database, so the limits hold
///    however many processes dequeue (docs/queues.md has the argument).
///  * Partitioned queues (QueueOptions::partitioned): every workflow is
///    enqueued with a non-empty EnqueueOptions::partition_key (stored in its
///    row), and concurrency and worker_concurrency hold per partition key
///    instead of over the whole queue: with concurrency 1, at no instant do
///    two workflows of one key run, while different keys run in parallel.
///    rate_limit counts the whole queue's starts. An enqueue without a key
///    into a partitioned queue, or with one into a plain queue, throws
///    UsageError (a Client checks the stored declaration, when there is one).
///    Deduplication stays per queue, across partitions.
///  * A deduplication ID is exclusive among a queue's ENQUEUED and PENDING
///    workflows: enqueueing another one throws DeduplicatedError and writes
///    nothing. Once the holder finishes, the ID may be used again.
///  * The workflow ID is the idempotency key, as for Runtime::start: enqueueing
///    an ID that exists returns a handle to that workflow, enqueues nothing.
///  * The timeout counts from the dequeue (the time spent ENQUEUED is free).
///  * Resuming a cancelled (or dead-lettered) workflow of a queue enqueues it
///    again in its queue; it runs when the queue's limits allow, from its last
///    checkpoint.
///
/// Non-guarantees: no fairness between executors; a crashed executor's
/// dequeued workflows keep their slots (PENDING) until it is relaunched or a
/// live executor takes its workflows over (its lease expired: lease_timeout,
/// keel/config.hpp). Limits count workflows, not threads.
///
/// Thread-safety: value types.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace keel {

/// A queue's rate limit (QueueOptions::rate_limit).
struct RateLimit {
  int limit = 0;                     ///< at most this many starts ...
  std::chrono::milliseconds period{0};  ///< ... within any window this long
};

/// A queue's declaration (Runtime::register_queue); unset limits do not limit.
struct QueueOptions {
  std::string name;                       ///< the queue's name; not empty
  std::optional<int> concurrency;         ///< global limit, over all executors
  std::optional<int> worker_concurrency;  ///< limit per executor (process)
  std::optional<RateLimit> rate_limit;    ///< dequeues per window, over all executors
  bool priority_enabled = false;          ///< order by EnqueueOptions::priority
  /// concurrency and worker_concurrency count per partition key
  /// (EnqueueOptions::partition_key, then required); rate_limit stays per queue.
  bool partitioned = false;
  /// launch() replaces the queue's stored declaration with this one instead
  /// of refusing a different one (ConfigError). Meant for the deploy that
  /// changes a queue's limits: while two processes set it with different
  /// declarations, the last one launched wins.
  bool update_stored = false;
};

/// Throws UsageError for an empty name, ConfigError for a limit that is not
/// positive (or a worker_concurrency above concurrency).
void validate(const QueueOptions& options);

/// How a workflow is enqueued (Runtime::enqueue, Client::enqueue).
struct EnqueueOptions {
  /// As StartOptions::workflow_id: the idempotency key; empty: a fresh UUID.
  std::string workflow_id;
  /// Lower runs first; 0 (the default) is the most urgent. Must be 0 unless
  /// the queue has priority_enabled; never negative.
  int priority = 0;
  /// Empty: none. See the contract above.
  std::string deduplication_id;
  /// The workflow's partition in a partitioned queue (QueueOptions::
  /// partitioned): required there (not empty), forbidden elsewhere
  /// (UsageError either way).
  std::string partition_key;
  /// Cancel the workflow when it still runs this long after its dequeue.
  std::optional<std::chrono::milliseconds> timeout;
  /// Context::enqueue only (a Runtime or Client enqueue has no parent):
  /// without a timeout, true (the default) gives the workflow its parent's
  /// deadline, false none (as ChildOptions::inherit_deadline).
  bool inherit_deadline = true;
};

/// A queue registered in this process and its workflows now
/// (Runtime::list_queues). The counts are every process's, read in one
/// query; the limits are the stored declaration, which every dequeuer
/// enforces (update_stored is false).
struct QueueInfo {
  QueueOptions options;  ///< the stored declaration (keel_queues)
  int64_t enqueued = 0;  ///< ENQUEUED workflows of the queue: its depth
  int64_t running = 0;   ///< PENDING (dequeued) workflows of the queue, every executor's
};

}  // namespace keel
