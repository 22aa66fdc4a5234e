/// @file
/// keel/handle.hpp — a handle to a started workflow.
///
/// Contract:
///  * A Handle names a workflow by ID; it holds no lock and no thread. It stays
///    valid as long as the Runtime that made it.
///  * result() waits until the workflow is terminal and returns its output, or
///    throws: the workflow's recorded error (see errors.hpp),
///    WorkflowCancelledError, DeadLetterError. result_for(t) throws
///    keel::TimeoutError when t passes first; the workflow goes on.
///  * result() (untimed, outside any workflow) on a workflow of this process
///    that no pool thread has taken yet runs it on the calling thread, as a
///    pool thread would (same checkpoints, same recovery): no hand-off to a
///    pool thread and back, and no wait behind a busy pool. result_for()
///    never does (it must return at its timeout), nor a workflow waiting for
///    a child (its thread is its own).
///  * Inside a workflow, waiting on a child's handle is deterministic: the
///    child's final result is durable.
///
/// Thread-safety: thread-safe; many threads may wait on the same workflow.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "keel/serialization.hpp"
#include "keel/status.hpp"

namespace keel {

class Runtime;

/// @cond
namespace detail {
// Compiled in the runtime; see runtime.cpp.
Json await_workflow_result(Runtime& rt, const std::string& id, std::optional<std::chrono::milliseconds> timeout);
WorkflowInfo describe_workflow(Runtime& rt, const std::string& id);
}  // namespace detail
/// @endcond

/// A handle to a started workflow (the contract of keel/handle.hpp); R is the
/// type result() decodes.
template <class R>
class Handle {
 public:
  /// Names the workflow `id`; checks nothing (Runtime::retrieve does).
  Handle(Runtime& rt, std::string id) : rt_(&rt), id_(std::move(id)) {}

  /// The workflow ID this handle names.
  const std::string& id() const { return id_; }
  /// The workflow's status now; throws WorkflowNotFoundError when it does not exist.
  WorkflowStatus status() const { return info().status; }
  /// The workflow's row now; throws WorkflowNotFoundError when it does not exist.
  WorkflowInfo info() const { return detail::describe_workflow(*rt_, id_); }

  /// Waits until the workflow is terminal and returns its output, or throws
  /// its recorded error, WorkflowCancelledError or DeadLetterError. May run
  /// the workflow on this thread (see the contract above).
  R result() const { return decode(detail::await_workflow_result(*rt_, id_, std::nullopt)); }
  /// As result(), but throws TimeoutError when `timeout` passes first; the
  /// workflow goes on.
  R result_for(std::chrono::milliseconds timeout) const {
    return decode(detail::await_workflow_result(*rt_, id_, timeout));
  }

 private:
  static R decode(const Json& j) {
    if constexpr (std::is_void_v<R>) {
      (void)j;
    } else {
      return from_json_value<R>(j);
    }
  }
  Runtime* rt_;
  std::string id_;
};

}  // namespace keel
