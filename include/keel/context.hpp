/// @file
/// keel/context.hpp — what a workflow does durably.
///
/// Contract (docs/guarantees.md has the full list):
///  * Every operation below takes the next position (function id) in the
///    workflow. Its outcome is checkpointed; on recovery the workflow re-runs
///    from the top and each recorded operation returns its recorded outcome
///    without running again. If the code now calls an operation whose name
///    differs from the one recorded at that position, NonDeterminismError
///    names both.
///  * step: runs at least once, and never again once its result is recorded.
///    Its exception is recorded and rethrown (see errors.hpp) on first run and
///    on replay alike. idempotency_key() inside the step is stable across
///    retries and recoveries: use it for external calls.
///  * transaction: the body's SQL and the checkpoint commit in one database
///    transaction: exactly once. On an exception the body's writes are rolled
///    back and the error is recorded — except a serialization failure or
///    deadlock, which runs the body again (keel/transaction_options.hpp). The
///    body may run on another thread (it is batched with other commits) and
///    may run more than once; it may use only the keel::Sql it is given: a
///    Context, Runtime, Handle or Client call from the body throws UsageError
///    naming the call (it would wait for the commit that waits for the body).
///  * set_event: last writer wins; readers see the latest value.
///  * send: delivered exactly once. recv: consumes each message exactly once,
///    oldest first; returns nullopt when the timeout passes. The deadline is
///    recorded, so a recv interrupted by a crash waits only what is left.
///  * write_stream: appended exactly once at the stream's next offset;
///    close_stream ends the stream; read_stream is recorded like get_event
///    (keel/stream.hpp has the stream contract).
///  * sleep: durable; a recovered sleep waits only what is left.
///  * wait_all / wait_first: wait on many workflows' ends at once, parking
///    like any wait; wait_first's answer is recorded.
///  * Cancellation (Runtime::cancel, or the workflow timeout) is observed at
///    each operation: it throws WorkflowCancelledError, which the workflow
///    should not swallow.
///
/// Thread-safety: a Context belongs to one workflow execution and one thread;
/// do not share it or use it after the workflow function returns.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "keel/handle.hpp"
#include "keel/queue.hpp"
#include "keel/serialization.hpp"
#include "keel/sql.hpp"
#include "keel/step_options.hpp"
#include "keel/stream.hpp"
#include "keel/transaction_options.hpp"
#include "keel/workflow.hpp"

namespace keel {

namespace detail {
class Execution;
}

/// The durable operations of one workflow execution, handed to the workflow
/// function (the contract of keel/context.hpp).
class Context {
 public:
  /// Made by the engine for each execution; applications never construct one.
  explicit Context(detail::Execution& exec) : exec_(exec) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  /// The ID of the workflow being executed.
  const std::string& workflow_id() const;
  /// Inside a step: "<workflow id>:<step's function id>", stable across
  /// retries and recoveries. Outside: the key the next operation will have.
  std::string idempotency_key() const;

  /// step(name, options, fn) with the default StepOptions: a single attempt.
  template <class F>
  auto step(std::string_view name, F&& fn) {
    return step(name, StepOptions{}, std::forward<F>(fn));
  }

  /// Runs fn() as the step `name`, retried as `options` says, and returns its
  /// result (converted through JSON); a replay returns the recorded result or
  /// error without running fn. Inside fn, the durable operations of this
  /// Context throw UsageError; idempotency_key() is the one to use there.
  template <class F>
  auto step(std::string_view name, const StepOptions& options, F&& fn) {
    using R = std::invoke_result_t<F&>;
    Json out = run_step(name, options, [&]() -> Json {
      if constexpr (std::is_void_v<R>) {
        fn();
        return nullptr;
      } else {
        return to_json_value<R>(fn());
      }
    });
    if constexpr (!std::is_void_v<R>) return from_json_value<R>(out);
  }

  /// transaction(name, options, fn) with the default TransactionOptions: the
  /// backend's default isolation level.
  template <class F>
  auto transaction(std::string_view name, F&& fn) {
    return transaction(name, TransactionOptions{}, std::forward<F>(fn));
  }

  /// Runs fn(sql) and commits its writes with the checkpoint, exactly once, and
  /// returns fn's result (converted through JSON); a replay returns the
  /// recorded result or error without running fn.
  template <class F>
  auto transaction(std::string_view name, const TransactionOptions& options, F&& fn) {
    using R = std::invoke_result_t<F&, Sql&>;
    Json out = run_transaction(name, options, [&](Sql& sql) -> Json {
      if constexpr (std::is_void_v<R>) {
        fn(sql);
        return nullptr;
      } else {
        return to_json_value<R>(fn(sql));
      }
    });
    if constexpr (!std::is_void_v<R>) return from_json_value<R>(out);
  }

  /// Sets this workflow's event `key` to `value`, for get_event readers.
  template <class T>
  void set_event(std::string_view key, const T& value) {
    do_set_event(key, to_json_value(value));
  }

  /// Waits up to `timeout` for the event `key` of workflow `workflow_id`;
  /// nullopt when it is not set by then. The outcome is recorded.
  template <class T>
  std::optional<T> get_event(std::string_view workflow_id, std::string_view key,
                             std::chrono::milliseconds timeout) {
    auto v = do_get_event(workflow_id, key, timeout);
    if (!v) return std::nullopt;
    return from_json_value<T>(*v);
  }

  /// Sends `message` to the workflow `destination_id` on `topic`, exactly once.
  template <class T>
  void send(std::string_view destination_id, const T& message, std::string_view topic = "") {
    do_send(destination_id, topic, to_json_value(message));
  }

  /// Consumes the oldest message to this workflow on `topic`, waiting up to
  /// `timeout`; nullopt when none arrives in time.
  template <class T>
  std::optional<T> recv(std::string_view topic, std::chrono::milliseconds timeout) {
    auto v = do_recv(topic, timeout);
    if (!v) return std::nullopt;
    return from_json_value<T>(*v);
  }

  /// Appends `value` to this workflow's stream `key`, exactly once, at its
  /// next offset (keel/stream.hpp). UsageError for an empty key or a closed
  /// stream.
  template <class T>
  void write_stream(std::string_view key, const T& value) {
    do_write_stream(key, to_json_value(value));
  }

  /// Closes this workflow's stream `key`: its readers get the end of the
  /// stream once they have read every value. Closing it again does nothing.
  void close_stream(std::string_view key);

  /// Reads the stream `key` of workflow `workflow_id` from `offset` (at most
  /// max_values values), waiting up to `timeout` while there is none and the
  /// stream has not ended. The outcome is recorded: a replay returns the
  /// same batch. UsageError on an empty key, a negative offset, max_values < 1.
  template <class T>
  StreamBatch<T> read_stream(std::string_view workflow_id, std::string_view key, int64_t offset,
                             std::chrono::milliseconds timeout, int max_values = kDefaultStreamBatch) {
    return detail::decode_stream_batch<T>(do_read_stream(workflow_id, key, offset, timeout, max_values));
  }

  /// Sleeps for `duration`, durably: the wake-up time is recorded.
  void sleep(std::chrono::milliseconds duration);

  /// Starts a child workflow exactly once: ID "<parent id>-<position>", the
  /// parent's deadline (ChildOptions' defaults).
  template <class R, class... Args, class... A>
    requires(sizeof...(A) == sizeof...(Args))
  [[nodiscard]] Handle<R> start_child(const Workflow<R, Args...>& wf, A&&... args) {
    return start_child(wf, ChildOptions{}, std::forward<A>(args)...);
  }

  /// Starts a child workflow exactly once, as `options` say (keel/workflow.hpp).
  template <class R, class... Args, class... A>
    requires(sizeof...(A) == sizeof...(Args))
  [[nodiscard]] Handle<R> start_child(const Workflow<R, Args...>& wf, const ChildOptions& options, A&&... args) {
    Json inputs = Json::array({to_json_value<Args>(Args(std::forward<A>(args)))...});
    return Handle<R>(runtime(), do_start_child(wf.name(), options, std::move(inputs)));
  }

  /// Enqueues a child workflow in a queue registered here, exactly once (see
  /// keel/queue.hpp): the enqueue and this operation's record commit
  /// together, so a replay returns the same workflow and never enqueues a
  /// second one. Its ID is options.workflow_id or "<parent id>-<position>";
  /// its parent is this workflow; its deadline as EnqueueOptions says. A
  /// DeduplicatedError is recorded and thrown again on replay. Throws as
  /// Runtime::enqueue otherwise.
  template <class R, class... Args, class... A>
    requires(sizeof...(A) == sizeof...(Args))
  [[nodiscard]] Handle<R> enqueue(const Workflow<R, Args...>& wf, const std::string& queue_name,
                                  const EnqueueOptions& options, A&&... args) {
    Json inputs = Json::array({to_json_value<Args>(Args(std::forward<A>(args)))...});
    return Handle<R>(runtime(), do_enqueue(wf.name(), queue_name, options, std::move(inputs)));
  }

  /// Ends this run and starts workflow `wf` — this workflow itself — again
  /// from the top with `args` and a fresh history, in one commit: the way to
  /// keep a long-lived loop's history (and its replays) short. The workflow
  /// ID, status (PENDING), deadline, parent and queue slot stay; its
  /// recorded operations are deleted and its inputs replaced; positions go
  /// on counting from the hand-over, so derived child IDs stay unique. A
  /// crash before the commit replays this run up to here again; after it,
  /// the next run resumes. Events, streams and unread messages stay with the
  /// workflow. Never returns (unwinds like parking: a `catch (...)` must
  /// rethrow). UsageError when `wf` is another workflow or inside a step.
  template <class R, class... Args, class... A>
    requires(sizeof...(A) == sizeof...(Args))
  [[noreturn]] void continue_as_new(const Workflow<R, Args...>& wf, A&&... args) {
    Json inputs = Json::array({to_json_value<Args>(Args(std::forward<A>(args)))...});
    do_continue_as_new(wf.name(), std::move(inputs));
  }

  /// Waits until the workflow of every handle is terminal (each one's
  /// result() then returns at once), parking like any wait. Not recorded:
  /// the ends are durable, so a replay reads them again. Throws
  /// WorkflowNotFoundError for a workflow that does not exist, UsageError for
  /// this workflow's own ID.
  template <class R>
  void wait_all(const std::vector<Handle<R>>& handles) {
    do_wait_all(ids_of(handles));
  }
  /// wait_all over workflow IDs (handles of different result types).
  void wait_all(const std::vector<std::string>& workflow_ids) { do_wait_all(workflow_ids); }

  /// Waits until the workflow of one of `handles` is terminal and returns its
  /// index (the lowest among those found terminal). Recorded: a replay returns
  /// the same index however the others have gone since. Parks like any wait.
  /// Throws UsageError for no handles or this workflow's own ID,
  /// WorkflowNotFoundError for a workflow that does not exist.
  template <class R>
  std::size_t wait_first(const std::vector<Handle<R>>& handles) {
    return *do_wait_first(ids_of(handles), std::nullopt);
  }
  /// As wait_first, but nullopt once `timeout` passes first (the deadline is
  /// recorded, as a recv's: after a crash it waits only what is left).
  template <class R>
  std::optional<std::size_t> wait_first(const std::vector<Handle<R>>& handles, std::chrono::milliseconds timeout) {
    return do_wait_first(ids_of(handles), timeout);
  }
  /// wait_first over workflow IDs (handles of different result types).
  std::optional<std::size_t> wait_first(const std::vector<std::string>& workflow_ids,
                                        std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
    return do_wait_first(workflow_ids, timeout);
  }

  /// The current time, recorded: the same value on replay.
  std::chrono::system_clock::time_point now();

  /// Whether this run takes the code added under patch `name`: the way to
  /// change a workflow while runs of it are in flight (docs/upgrades.md).
  /// `if (ctx.patched("x")) { new code } else { old code }`.
  ///
  /// True for a run that reaches this point on code that has the patch: it
  /// records a marker at this position, so its replays answer true again.
  /// False for a run whose recorded history already went past this point
  /// without the marker (it started on the old code): it takes no position,
  /// and the old code's operations replay as recorded. A patch name is used
  /// once per workflow; the markers are ordinary records (name
  /// "keel.patch:<name>").
  [[nodiscard]] bool patched(std::string_view name);

  /// The clean-up of a patch, once no run that took the old code is left:
  /// replace `if (ctx.patched("x")) { new } else { old }` by
  /// `ctx.deprecate_patch("x"); new`. Runs recorded with the patch's marker
  /// skip it here; runs from now on record nothing. Always returns true.
  /// Remove the call itself once no run recorded with the marker is left.
  bool deprecate_patch(std::string_view name);

 private:
  Json run_step(std::string_view name, const StepOptions& options, const std::function<Json()>& body);
  Json run_transaction(std::string_view name, const TransactionOptions& options,
                       const std::function<Json(Sql&)>& body);
  void do_set_event(std::string_view key, Json value);
  std::optional<Json> do_get_event(std::string_view workflow_id, std::string_view key,
                                   std::chrono::milliseconds timeout);
  void do_send(std::string_view destination_id, std::string_view topic, Json message);
  std::optional<Json> do_recv(std::string_view topic, std::chrono::milliseconds timeout);
  void do_write_stream(std::string_view key, Json value);
  StreamBatch<Json> do_read_stream(std::string_view workflow_id, std::string_view key, int64_t offset,
                                   std::chrono::milliseconds timeout, int max_values);
  [[noreturn]] void do_continue_as_new(const std::string& name, Json inputs);
  std::string do_start_child(const std::string& name, const ChildOptions& options, Json inputs);
  std::string do_enqueue(const std::string& name, const std::string& queue, const EnqueueOptions& options,
                         Json inputs);
  void do_wait_all(const std::vector<std::string>& ids);
  std::optional<std::size_t> do_wait_first(const std::vector<std::string>& ids,
                                           std::optional<std::chrono::milliseconds> timeout);
  template <class R>
  static std::vector<std::string> ids_of(const std::vector<Handle<R>>& handles) {
    std::vector<std::string> ids;
    ids.reserve(handles.size());
    for (const auto& h : handles) ids.push_back(h.id());
    return ids;
  }
  Runtime& runtime();

  detail::Execution& exec_;
};

}  // namespace keel
