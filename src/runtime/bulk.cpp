#include "runtime/bulk.hpp"

#include <algorithm>

#include "common/clock.hpp"
#include "keel/errors.hpp"

namespace keel::detail {

void note_failure(BulkResult& result, const std::string& id, const std::string& message) {
  ++result.failed;
  if (result.failures.size() < static_cast<size_t>(kMaxBulkFailures)) result.failures.push_back({id, message});
}

BulkResult run_bulk(sysdb::SystemDatabase& db, ListWorkflowsQuery filter, const BulkOptions& options,
                    const PageAction& act) {
  if (!filter.cursor.empty()) throw UsageError("a bulk operation acts on every match: its filter takes no cursor");
  // Workflows started during the walk sort after it (oldest first): leave
  // them out, so that a steady stream of new matches cannot keep it going.
  int64_t began = now_ms() + 1;
  filter.created_before_ms = filter.created_before_ms ? std::min(*filter.created_before_ms, began) : began;
  filter.order = ListOrder::OldestFirst;
  BulkResult result;
  if (options.dry_run) {
    filter.limit = 1;
    filter.count_total = true;
    result.matched = db.list_workflows(filter).total.value_or(0);
    return result;
  }
  filter.limit = kBulkPageSize;
  filter.count_total = false;
  for (;;) {
    WorkflowPage page = db.list_workflows(filter);
    result.matched += static_cast<int64_t>(page.workflows.size());
    result.changed += act(page.workflows, result);
    if (options.on_progress) options.on_progress(BulkProgress{result.matched, result.changed});
    if (page.next_cursor.empty()) return result;
    filter.cursor = page.next_cursor;
  }
}

PageAction each(const std::function<bool(const std::string& id)>& act_one) {
  return [act_one](const std::vector<WorkflowInfo>& page, BulkResult& result) {
    int64_t changed = 0;
    for (const auto& w : page) {
      try {
        if (act_one(w.id)) ++changed;
      } catch (const Error& e) {
        note_failure(result, w.id, e.what());
      }
    }
    return changed;
  };
}

int64_t delete_page(sysdb::SystemDatabase& db, const std::vector<WorkflowInfo>& page,
                    const std::function<void(const std::string& id)>& on_deleted) {
  std::vector<std::string> ids;
  for (const auto& w : page) ids.push_back(w.id);
  std::vector<std::string> deleted = db.delete_finished(ids);
  if (on_deleted)
    for (const auto& id : deleted) on_deleted(id);
  return static_cast<int64_t>(deleted.size());
}

ListWorkflowsQuery finished_only(ListWorkflowsQuery filter) {
  if (filter.statuses.empty()) {
    filter.statuses = {WorkflowStatus::Success, WorkflowStatus::Error, WorkflowStatus::Cancelled,
                       WorkflowStatus::MaxRecoveryAttemptsExceeded};
    return filter;
  }
  for (auto s : filter.statuses)
    if (!is_terminal(s))
      throw UsageError("delete acts on finished workflows only; status " + to_string(s) +
                       " is not finished (cancel such workflows first)");
  return filter;
}

bool release_for_resume(sysdb::SystemDatabase& db, const WorkflowInfo& before, int64_t now) {
  const std::vector<WorkflowStatus> from{WorkflowStatus::Cancelled, WorkflowStatus::MaxRecoveryAttemptsExceeded};
  if (before.queue_name.empty())
    return db.transition(before.id, from, WorkflowStatus::Pending, now, /*reset_recovery=*/true, std::string());
  try {
    return db.transition(before.id, from, WorkflowStatus::Enqueued, now, /*reset_recovery=*/true, std::nullopt);
  } catch (const ConstraintError&) {
    throw DeduplicatedError("workflow '" + before.id +
                            "' cannot resume: its deduplication ID is held by another workflow");
  }
}

void delete_finished_workflow(sysdb::SystemDatabase& db, const std::string& id) {
  auto info = db.get_workflow(id);
  if (!info) throw WorkflowNotFoundError("no workflow with ID '" + id + "'");
  auto refuse = [&](WorkflowStatus s) {
    throw WorkflowConflictError("workflow '" + id + "' is " + to_string(s) +
                                ": only a finished workflow can be deleted (cancel it first)");
  };
  if (!is_terminal(info->status)) refuse(info->status);
  if (db.delete_finished({id}).empty()) {
    auto now = db.get_workflow(id);  // resumed in between
    if (now) refuse(now->status);
  }
}

}  // namespace keel::detail
