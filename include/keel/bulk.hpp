/// @file
/// keel/bulk.hpp — cancel, resume and delete every workflow a filter matches
/// (Runtime and Client: cancel_workflows, resume_workflows, delete_workflows).
///
/// Contract: a bulk operation walks the matches of a ListWorkflowsQuery
/// (its order, limit and cursor are ignored: it acts on every match, oldest
/// first, a page of kBulkPageSize at a time) and applies the single-workflow
/// operation to each, as if called one by one: each workflow changes in its
/// own commit, so an interrupted bulk operation has done a prefix of its work
/// and can simply be run again. Workflows that start while it runs may or may
/// not be included. A workflow the operation does not apply to (cancel of a
/// finished one, resume of a running one) is matched but not changed.
/// With dry_run it counts the matches and changes nothing.
///
/// Thread-safety: as the Runtime or Client it is called on; the progress
/// callback runs on the calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace keel {

/// How many workflows a bulk operation reads and acts on per page.
inline constexpr int kBulkPageSize = 500;

/// Where a bulk operation stands (BulkOptions::on_progress).
struct BulkProgress {
  int64_t matched = 0;  ///< workflows walked so far
  int64_t changed = 0;  ///< of those, changed
};

/// One workflow a bulk operation could not act on, and why.
struct BulkFailure {
  std::string workflow_id;  ///< the workflow
  std::string message;      ///< the error's what()
};

/// Options of a bulk operation.
struct BulkOptions {
  bool dry_run = false;  ///< only count the matches (BulkResult::matched); change nothing
  /// Called after each page (never during a dry run).
  std::function<void(const BulkProgress&)> on_progress;
};

/// What a bulk operation did.
struct BulkResult {
  int64_t matched = 0;  ///< workflows the filter matched
  int64_t changed = 0;  ///< of those, changed (cancelled, resumed, deleted)
  /// Workflows whose operation threw (at most kMaxBulkFailures listed;
  /// failed counts them all). The operation goes on past them.
  std::vector<BulkFailure> failures;
  int64_t failed = 0;  ///< every failure, listed or not
};

/// The most failures a BulkResult lists.
inline constexpr int kMaxBulkFailures = 100;

}  // namespace keel
