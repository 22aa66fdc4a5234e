// list_workflows for both backends: the SQL of a filtered, ordered page and
// of its count (the same WHERE), and the cursor that carries a page's last
// row to the next query. One place, so that SQLite and PostgreSQL filter,
// order and page alike; a backend only names its table and how it compares
// workflow IDs (PostgreSQL: COLLATE "C", the byte order SQLite uses).
//
// Keyset pagination: the cursor holds the last row's (created_at,
// workflow_id); the next page starts strictly after it in the query's order,
// so rows inserted in between never shift a page.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/sql.hpp"
#include "keel/status.hpp"

namespace keel::sysdb {

// How a backend spells the table and an ordered comparison of workflow IDs,
// and whether its planner needs telling which index reads fewer rows.
struct WorkflowTable {
  std::string name;          // "keel_workflow_status", "keel.workflow_status"
  std::string id_collation;  // appended to workflow_id where it is compared or ordered
  // True where the planner keeps no statistics of values (SQLite as Keel
  // runs it: no ANALYZE, and Debian's build has no STAT4), so that it cannot
  // tell `name = ? AND status = 'ERROR'` (a few rows) from `name = ? AND
  // status = 'SUCCESS'` (most of them). Such a query then keeps the planner
  // off the name index when every status it asks for is one that is rare in
  // a working system (all but SUCCESS): the status index reads fewer rows.
  bool steer_rare_statuses = false;
};

// Each backend's table, defined beside its list_workflows (one definition,
// which the tests of the plans read too).
const WorkflowTable& sqlite_workflow_table();    // sqlite/workflows.cpp
const WorkflowTable& postgres_workflow_table();  // postgres/workflows.cpp

struct QuerySql {
  std::string sql;
  std::vector<SqlValue> params;
};

// Throws keel::UsageError for a limit outside 1..kMaxListLimit or a cursor
// that no query of this order returned.
void validate(const ListWorkflowsQuery& q);

// SELECT columns ... WHERE filters [AND after cursor] ORDER BY ... LIMIT
// q.limit + 1 (the extra row says whether a next page exists).
QuerySql page_sql(const ListWorkflowsQuery& q, const WorkflowTable& t, const std::string& columns);
// SELECT count(*) under the same filters, ignoring cursor and limit.
QuerySql count_sql(const ListWorkflowsQuery& q, const WorkflowTable& t);

// "'SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'": the
// terminal statuses (keel::is_terminal) as an SQL list.
const std::string& terminal_statuses_sql();

// Turns the rows of page_sql (up to limit + 1) into the page: drops the extra
// row and, when there was one, sets next_cursor after the last kept row.
WorkflowPage make_page(const ListWorkflowsQuery& q, std::vector<WorkflowInfo> rows);

}  // namespace keel::sysdb
