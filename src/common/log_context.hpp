// The log context: which workflow (and which step of it) the calling thread
// works for, so that every log line records it as a field of its own
// (common/log_format.hpp reads it) instead of in its text.
//
// Who sets it: the engine around a workflow's run on its pool thread, and
// around lines about one workflow logged elsewhere (recovery, parking,
// queues); Context::step around a step's body; Context::transaction around
// a transaction's body, which runs on whichever thread leads the commit
// batch (possibly another workflow's: so the scope names the workflow too).
// Each scope restores the context it replaced when it ends: scopes nest (a
// step inside a workflow, a child run inline, a transaction body led for
// another workflow).
// Thread-safety: per thread (thread_local). The context refers to strings
// owned by the scope's creator, which outlive the scope.
#pragma once

#include <string>
#include <string_view>

namespace keel::detail {

struct LogContext {
  std::string_view workflow_id;  // empty: outside any workflow
  std::string_view step;         // empty: not in a step or transaction
  int function_id = 0;           // the step's position (StepInfo::function_id), when step is set
};

// The calling thread's context (empty fields outside any scope).
const LogContext& current_log_context();

class LogContextScope {
 public:
  // The thread works for this workflow, outside any step.
  explicit LogContextScope(std::string_view workflow_id) : LogContextScope(workflow_id, {}, 0) {}
  // The thread runs this step (or transaction) of this workflow.
  LogContextScope(std::string_view workflow_id, std::string_view step, int function_id);
  ~LogContextScope();
  LogContextScope(const LogContextScope&) = delete;
  LogContextScope& operator=(const LogContextScope&) = delete;

 private:
  LogContext outer_;
};

}  // namespace keel::detail
