// Bulk operations and deletion, shared by Runtime and Client (keel/bulk.hpp):
// the walk over a filter's matches, the filter of a delete, the release that
// is a resume without running, and the delete of one workflow.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "keel/bulk.hpp"
#include "keel/status.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

// Acts on one page of matches; returns how many it changed. Failures it
// records in the result (note_failure).
using PageAction = std::function<int64_t(const std::vector<WorkflowInfo>& page, BulkResult& result)>;

// Walks every workflow that matches filter and was created before the walk
// began, oldest first, kBulkPageSize at a time, calling act on each page.
// Throws UsageError for a filter with a cursor (it would skip matches).
BulkResult run_bulk(sysdb::SystemDatabase& db, ListWorkflowsQuery filter, const BulkOptions& options,
                    const PageAction& act);

// A PageAction from an action on one workflow (true: changed); what it
// throws is a failure of that workflow, and the walk goes on.
PageAction each(const std::function<bool(const std::string& id)>& act_one);

void note_failure(BulkResult& result, const std::string& id, const std::string& message);

// Deletes the finished workflows of `page` in one commit (the others are
// left alone), calling on_deleted with each ID deleted; returns how many.
int64_t delete_page(sysdb::SystemDatabase& db, const std::vector<WorkflowInfo>& page,
                    const std::function<void(const std::string& id)>& on_deleted = {});

// The filter of a delete: the finished statuses only. Throws UsageError
// when filter.statuses names one that is not finished.
ListWorkflowsQuery finished_only(ListWorkflowsQuery filter);

// Resume without running it here: a workflow of a queue goes back to it
// (ENQUEUED), any other becomes PENDING under no executor, for an executor of
// its version to claim. Only from CANCELLED or MAX_RECOVERY_ATTEMPTS_EXCEEDED;
// false otherwise. Throws WorkflowNotFoundError, DeduplicatedError (its
// queue's deduplication ID is held by another workflow).
bool release_for_resume(sysdb::SystemDatabase& db, const WorkflowInfo& before, int64_t now_ms);

// Deletes one finished workflow. Throws WorkflowNotFoundError, or
// WorkflowConflictError when it is not finished (cancel it first).
void delete_finished_workflow(sysdb::SystemDatabase& db, const std::string& id);

}  // namespace keel::detail
