// Forking a workflow (docs/operations.md): a new workflow of the same name and
// inputs that keeps the original's records before a position and runs from
// there. Shared by Runtime and Client: both copy through here, and differ
// only in who runs the fork.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "keel/status.hpp"
#include "keel/workflow.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

// The process that asks, when it can run workflows: a fork of its own version
// whose name it registers goes to it; any other fork is released (executor
// '') for an executor of the fork's version to claim (ExecutorLease).
struct ForkRunner {
  std::string executor_id;
  std::string application_version;
  bool registers = false;  // it registers the original's workflow name
};

// Validates options (UsageError), reads the original (WorkflowNotFoundError),
// and writes the fork in one commit (WorkflowConflictError when its ID
// exists). Returns the fork's row as written.
WorkflowInfo fork_workflow(sysdb::SystemDatabase& db, const std::string& id, const ForkOptions& options,
                           const std::function<std::optional<ForkRunner>(const WorkflowInfo& original)>& runner);

}  // namespace keel::detail
