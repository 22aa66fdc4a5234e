// keel/handle.hpp — a handle to a started workflow.
//
// Contract:
//  * A Handle names a workflow by ID; it holds no lock and no thread. It stays
//    valid as long as the Runtime that made it.
//  * result() waits until the workflow is terminal and returns its output, or
//    throws: the workflow's recorded error (see errors.hpp),
//    WorkflowCancelledError, DeadLetterError. result_for(t) throws
//    keel::TimeoutError when t passes first; the workflow goes on.
//  * Inside a workflow, waiting on a child's handle is deterministic: the
//    child's final result is durable.
// Thread-safety: thread-safe; many threads may wait on the same workflow.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "keel/serialization.hpp"
#include "keel/status.hpp"

namespace keel {

class Runtime;

namespace detail {
// Compiled in the runtime; see runtime.cpp.
Json await_workflow_result(Runtime& rt, const std::string& id, std::optional<std::chrono::milliseconds> timeout);
WorkflowInfo describe_workflow(Runtime& rt, const std::string& id);
}  // namespace detail

template <class R>
class Handle {
 public:
  Handle(Runtime& rt, std::string id) : rt_(&rt), id_(std::move(id)) {}

  const std::string& id() const { return id_; }
  WorkflowStatus status() const { return info().status; }
  WorkflowInfo info() const { return detail::describe_workflow(*rt_, id_); }

  R result() const { return decode(detail::await_workflow_result(*rt_, id_, std::nullopt)); }
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
