/// @file
/// keel/workflow.hpp — a registered workflow, and how it is started.
///
/// Contract:
///  * A Workflow<R, Args...> is a typed name returned by
///    Runtime::register_workflow. It is a cheap value; copying it is fine.
///  * A workflow function has the shape R fn(keel::Context&, Args...). Its
///    arguments and result cross the database as JSON, so each of R and Args
///    needs nlohmann to_json/from_json. It must be deterministic apart from
///    what it does through the Context: on recovery it runs again from the top
///    and every recorded operation returns its recorded result.
///
/// Thread-safety: value types; thread-safe to copy and read.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>

namespace keel {

class Context;

/// A typed workflow name (the contract of keel/workflow.hpp).
template <class R, class... Args>
class Workflow {
 public:
  /// The workflow's result type.
  using result_type = R;
  /// Names the workflow registered as `name`; R and Args are not checked
  /// against the registration.
  explicit Workflow(std::string name) : name_(std::move(name)) {}
  /// The registered workflow name.
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

/// How Runtime::start starts a workflow.
struct StartOptions {
  /// The workflow ID, which is also its idempotency key: starting an ID that
  /// exists returns a handle to that workflow and runs nothing again. Empty: a
  /// fresh UUID.
  std::string workflow_id;
  /// Cancel the workflow when it is still running this long after its start.
  /// The deadline is stored, so it holds across crashes.
  std::optional<std::chrono::milliseconds> timeout;
};

/// How Context::start_child starts a child workflow. The child's ID and
/// deadline are recorded with the parent's operation: a replay returns the same
/// child and never starts a second one.
struct ChildOptions {
  /// The child's workflow ID; empty: "<parent id>-<position>". As for
  /// StartOptions::workflow_id, an ID that exists is that workflow (nothing is
  /// started; WorkflowConflictError when it is another workflow's name).
  std::string workflow_id;
  /// The child's own timeout, counted from its start; it replaces the
  /// parent's deadline. Must be positive (UsageError).
  std::optional<std::chrono::milliseconds> timeout;
  /// Without a timeout: true (the default) gives the child the parent's
  /// deadline, so a parent that times out does not leave its children
  /// running past it; false starts the child with no deadline (it outlives
  /// the parent's).
  bool inherit_deadline = true;
};

/// How Runtime::fork_workflow and Client::fork_workflow copy a workflow
/// (docs/operations.md). The fork is a new workflow of the same name and
/// inputs that keeps the original's recorded outcomes before start_step (their
/// steps do not run again) and runs from there.
struct ForkOptions {
  /// The first position that runs again. The original's records at positions
  /// below it are copied; 0 or 1 copies none: a restart from the beginning.
  /// At most one past the original's last recorded position (UsageError).
  int start_step = 0;
  /// The fork's workflow ID; empty: a fresh UUID. An ID that exists is refused
  /// (WorkflowConflictError).
  std::string workflow_id;
  /// The application version whose executors run the fork; empty: the
  /// original's. Forking an old version's workflow onto the new version is
  /// how an operator moves it past a change (docs/upgrades.md).
  std::string application_version;
};

/// @cond
namespace detail {

template <class F>
struct workflow_traits : workflow_traits<decltype(&F::operator())> {};

template <class R, class... A>
struct workflow_traits<R (*)(Context&, A...)> {
  using result = R;
  using workflow = Workflow<R, std::decay_t<A>...>;
  using args = std::tuple<std::decay_t<A>...>;
};
template <class R, class... A>
struct workflow_traits<R(Context&, A...)> : workflow_traits<R (*)(Context&, A...)> {};
template <class C, class R, class... A>
struct workflow_traits<R (C::*)(Context&, A...) const> : workflow_traits<R (*)(Context&, A...)> {};
template <class C, class R, class... A>
struct workflow_traits<R (C::*)(Context&, A...)> : workflow_traits<R (*)(Context&, A...)> {};

}  // namespace detail
/// @endcond
}  // namespace keel
