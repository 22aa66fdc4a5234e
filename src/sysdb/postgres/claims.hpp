// The statements that record operations on PostgreSQL (docs/postgres.md,
// "The step's claim"), built with Statement: what hangs off a claim (
// set_event's upsert, the workflow's end) reuses the claim's placeholders, so
// no parameter number is written by hand anywhere.
//
// A claim locks the workflow's row (FOR NO KEY UPDATE waits for a unit of
// that workflow in flight elsewhere, then sees its latest status) in CTE
// `wf`, and inserts the record(s) in CTE `ins` only while the workflow is
// PENDING and owned by this executor (the takeover fence). ON CONFLICT
// decides races on a position against every committed or in-flight insert,
// whatever the snapshot. Statements that must follow only a successful claim
// hang off `ins` (or `whole`), so they run exactly when it went in.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sysdb/postgres/statement.hpp"
#include "sysdb/system_database.hpp"

namespace keel::sysdb::postgres::claims {

// The placeholders a claim bound, for what is built on it.
struct Refs {
  std::string workflow_id;   // text
  std::string completed_at;  // bigint: the record's completion time (one() only)
};

// One record that consumes no message (a step's: the common case) takes the
// single-record forms, which parse no JSON; any other list the JSON form.
bool needs_list(const std::vector<OperationRecord>& ops);
// Whether a record among ops consumes a message (consumes_message_id).
bool consumes_message(const std::vector<OperationRecord>& ops);

// CTEs wf and ins for one record.
Refs one(Statement& s, const std::string& id, const OperationRecord& op, const std::string& owner);
// CTEs wf, ins and `whole` (true when every record went in) for a list,
// plus `con`, which marks the message a recv among them consumes, only when
// whole; nothing goes in when that message is consumed already. The list
// travels as one JSON array; the message is found by its key (a join with
// the JSON rows would be planned as a scan).
Refs list(Statement& s, const std::string& id, const std::vector<OperationRecord>& ops, const std::string& owner);
// one() or list() as needs_list chooses, ending with `whole` either way.
Refs any(Statement& s, const std::string& id, const std::vector<OperationRecord>& ops, const std::string& owner);

// The answer of a claim: the status, how many records went in, the owner.
inline constexpr std::string_view kAnswer =
    "SELECT (SELECT status FROM wf), (SELECT count(*) FROM ins), (SELECT executor_id FROM wf)";
// For a list: a further column that raises KL001 (keel.refuse_claim,
// undoing the statement's inserts) when only some records went in.
void refuse_partial(Statement& s, const Refs& r);

// A step's claim without a row lock: the insert happens only while the
// workflow is PENDING here, as the statement reads the row. It may go in
// just after a takeover or cancel commits, when its snapshot predates it:
// the body it records did run, and the new owner finds the record.
Statement step(const std::string& id, const OperationRecord& op, const std::string& owner);
// One() that raises KL001 when it inserted nothing, so that it can travel
// unanswered in a pipeline (Connection::defer_check).
Statement one_or_raise(const std::string& id, const OperationRecord& op, const std::string& owner);
// The record alone, after a probe that locked the row (run_transaction).
Statement insert(const std::string& id, const OperationRecord& op);

}  // namespace keel::sysdb::postgres::claims
