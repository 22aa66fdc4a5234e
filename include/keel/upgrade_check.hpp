/// @file
/// keel/upgrade_check.hpp — will the code about to be deployed replay the
/// workflows already recorded? Check it before the deploy (docs/upgrades.md).
///
/// Contract:
///  * verify_histories replays each selected workflow's recorded operations
///    against the workflow functions registered in *this* Runtime (the new
///    build): every recorded operation must be the one the code now calls at
///    its position. It runs no step or transaction body, waits for nothing,
///    and writes nothing to the database; it stops each workflow where its
///    history ends (the next operation would do real work).
///  * A workflow is ok when its history replays to its end; otherwise the
///    check names the first position that differs, with the operation
///    recorded there and the one the code calls. A workflow whose name is not
///    registered here is not ok (this build could not run it), nor is one
///    whose code returns while its history goes on (operations removed).
///  * A change behind ctx.patched() is clean: old histories take the old
///    branch, as they will when they run.
///  * The Runtime need not be (and should not be) launched: launch() would
///    recover and run workflows. Its database must have this build's schema.
///  * Workflow code outside operations does run, as it does at every replay
///    (it must be deterministic anyway).
///
/// Not guaranteed: that the new code *behaves* as intended; only that every
/// recorded history replays. Steps' changed bodies are not compared.
///
/// Thread-safety: call from one thread at a time per Runtime; workflows run
/// by the Runtime meanwhile are not affected.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "keel/status.hpp"

namespace keel {

class Runtime;

/// Which workflows verify_histories checks.
struct HistorySelection {
  bool pending = true;               ///< PENDING ones (running, parked, waiting for recovery)
  bool enqueued = true;              ///< ENQUEUED ones (no history yet: their name must be registered)
  int recent_finished = 0;           ///< also the last N that ended in SUCCESS and the last N in ERROR
  std::optional<std::string> name;   ///< only workflows of this name, when set
  /// Only workflows recorded by this application version, when set: with
  /// versions routing work (docs/upgrades.md), the ones the new build will
  /// run (its own version, or the version it takes over with patches).
  std::optional<std::string> application_version;
};

/// The outcome of checking one workflow's history.
struct HistoryCheck {
  std::string workflow_id;            ///< the workflow checked
  std::string workflow_name;          ///< its registered name
  WorkflowStatus status = WorkflowStatus::Pending;  ///< its status in the database
  bool ok = false;                    ///< its whole history replays against this build
  int replayed = 0;                   ///< positions replayed before the end or the mismatch
  int position = 0;                   ///< when not ok: the first position that differs (0: the name is unknown)
  std::string recorded;               ///< when not ok: the operation recorded there (empty: none)
  std::string called;                 ///< when not ok: what the code does there
  std::string registered_at;          ///< where this build registers the workflow ("file:line")
  std::string message;                ///< one sentence, for people
};

/// Replays the selected workflows' histories against this Runtime's code
/// (see the contract above), in the database's order (newest first per
/// status). Throws DatabaseError when the database cannot be read, and
/// IncompatibleDatabaseError when its schema is not this build's.
[[nodiscard]] std::vector<HistoryCheck> verify_histories(Runtime& rt, const HistorySelection& selection = {});

/// The command-line form, for an application's own `verify` command (the
/// shop's: `shop verify --db URL`): prints one line per workflow ("ok ID
/// NAME" or the mismatch) and a summary to `out`. Returns 0 when every check
/// passed, 1 otherwise, so a deploy pipeline can gate on it.
int run_upgrade_check(Runtime& rt, const HistorySelection& selection, std::ostream& out);

}  // namespace keel
