// The upgrade check (keel/upgrade_check.hpp): each selected workflow replays
// its recorded history in a verifying Execution, on the caller's thread. A
// verifying execution answers every recorded operation from its record and
// stops (HistoryEnd) at the first operation without one, before it does
// anything; recorded() names the first position whose record differs.
#include "keel/upgrade_check.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <ostream>

#include "common/log_context.hpp"
#include "runtime/execution.hpp"
#include "runtime/runtime_access.hpp"
#include "runtime/transaction_body.hpp"

namespace keel {

namespace detail {

namespace {

HistoryCheck unknown_name(HistoryCheck c) {
  c.called = "(not registered in this build)";
  c.message = "workflow '" + c.workflow_name + "' is not registered in this build: it could not run";
  return c;
}

// " (code registered at file:line)", to find the code that changed.
std::string where(const HistoryCheck& c) {
  return c.registered_at.empty() ? std::string() : " (code registered at " + c.registered_at + ")";
}

HistoryCheck mismatch(HistoryCheck c, const Execution::Mismatch& m) {
  c.position = m.position;
  c.recorded = m.recorded;
  c.called = m.called;
  c.message = "at operation " + std::to_string(m.position) + " the history recorded '" + m.recorded +
              "' but the code now calls '" + m.called + "'" + where(c);
  return c;
}

// The inputs, or a recorded outcome, no longer decode into the code's types.
HistoryCheck does_not_fit(HistoryCheck c, const std::string& why) {
  c.position = c.replayed;
  c.called = "(a value of another type)";
  c.message =
      "a recorded value no longer fits the code at operation " + std::to_string(c.replayed) + ": " + why + where(c);
  return c;
}

// The code returned (or threw) while the history goes on: operations removed.
HistoryCheck ended_early(HistoryCheck c, const sysdb::OperationRecord& next) {
  c.position = next.function_id;
  c.recorded = next.name;
  c.called = "(the workflow ends)";
  c.message = "the code ends at operation " + std::to_string(c.replayed) + " but the history goes on with '" +
              next.name + "' at " + std::to_string(next.function_id) + where(c);
  return c;
}

HistoryCheck check_one(Engine& engine, const WorkflowInfo& info) {
  HistoryCheck c{info.id, info.name, info.status};
  auto fn = engine.find_registered(info.name);
  if (!fn) return unknown_name(std::move(c));
  c.registered_at = engine.registered_at(info.name);
  std::map<int, sysdb::OperationRecord> recorded;
  for (auto& op : engine.db().load_operations(info.id)) recorded.emplace(op.function_id, std::move(op));
  Execution exec(engine, info, std::move(recorded));
  exec.set_verifying();
  Execution* outer = current_execution();
  set_current_execution(&exec);
  LogContextScope log_context(info.id);
  bool ended = false;  // the code returned or threw: its history must end there too
  std::optional<std::string> unfit;  // a recorded value (or the inputs) no longer fits the code's types
  try {
    Context ctx(exec);
    (void)(*fn)(ctx, info.inputs);
    ended = true;
  } catch (const HistoryEnd&) {
  } catch (const NonDeterminismError&) {
    // Its mismatch, unless code of the workflow threw one of its own.
    ended = !exec.mismatch();
  } catch (const SerializationError& e) {
    unfit = e.what();
  } catch (...) {
    ended = true;  // a recorded error rethrown, or the code's own: the run ends here
  }
  set_current_execution(outer);
  c.replayed = exec.positions_taken();
  if (exec.mismatch()) return mismatch(std::move(c), *exec.mismatch());
  if (unfit) return does_not_fit(std::move(c), *unfit);
  if (ended)
    if (const auto* next = exec.recorded_after_end()) return ended_early(std::move(c), *next);
  c.ok = true;
  c.message = "ok: " + std::to_string(c.replayed) + " operation(s) replayed";
  return c;
}

std::vector<WorkflowInfo> selected(sysdb::SystemDatabase& db, const HistorySelection& s) {
  std::vector<WorkflowInfo> all;
  // Pages through (newest first) until `limit` workflows of the status.
  auto add = [&](WorkflowStatus status, int limit) {
    ListWorkflowsQuery q;
    q.statuses = {status};
    q.name = s.name;
    q.application_version = s.application_version;
    do {
      q.limit = std::min(limit, kMaxListLimit);
      WorkflowPage page = db.list_workflows(q);
      limit -= static_cast<int>(page.workflows.size());
      for (auto& w : page.workflows) all.push_back(std::move(w));
      q.cursor = page.next_cursor;
    } while (limit > 0 && !q.cursor.empty());
  };
  constexpr int kAll = std::numeric_limits<int>::max();
  if (s.pending) add(WorkflowStatus::Pending, kAll);
  if (s.enqueued) add(WorkflowStatus::Enqueued, kAll);
  if (s.recent_finished > 0) {
    add(WorkflowStatus::Success, s.recent_finished);
    add(WorkflowStatus::Error, s.recent_finished);
  }
  return all;
}

}  // namespace

}  // namespace detail

std::vector<HistoryCheck> verify_histories(Runtime& rt, const HistorySelection& selection) {
  detail::forbid_in_transaction_body("keel::verify_histories");
  detail::Engine& engine = detail::RuntimeAccess::engine(rt);
  engine.db().require_current_schema();
  std::vector<HistoryCheck> checks;
  for (const WorkflowInfo& info : detail::selected(engine.db(), selection))
    checks.push_back(detail::check_one(engine, info));
  return checks;
}

int run_upgrade_check(Runtime& rt, const HistorySelection& selection, std::ostream& out) {
  std::vector<HistoryCheck> checks = verify_histories(rt, selection);
  size_t failed = 0;
  for (const HistoryCheck& c : checks) {
    if (!c.ok) ++failed;
    out << (c.ok ? "ok       " : "MISMATCH ") << c.workflow_id << " (" << c.workflow_name << ", "
        << to_string(c.status) << "): " << c.message << "\n";
  }
  out << checks.size() << " workflow(s) checked, " << failed << " would not replay on this build\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace keel
