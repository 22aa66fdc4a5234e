// The list cursor of list_workflows (the admin API's ?cursor=, the CLI's
// --cursor), decoded by sysdb/workflow_query: line 1 is the cursor, line 2
// the order ("oldest" or anything else: newest), the rest a workflow ID.
// Documented failure: UsageError. A cursor a page returned must decode
// to that page's last row (the SQL binds its created_at and ID).
#include "fuzz_support.hpp"
#include "keel/errors.hpp"
#include "sysdb/workflow_query.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = keel::fuzz::fields(keel::fuzz::text(data, size), 3);
  const sysdb::WorkflowTable table{"keel_workflow_status", ""};
  ListWorkflowsQuery q;
  q.cursor = f[0];
  q.order = f[1] == "oldest" ? ListOrder::OldestFirst : ListOrder::NewestFirst;
  if (keel::fuzz::only<UsageError>([&] { sysdb::validate(q); }))
    FUZZ_CHECK(!sysdb::page_sql(q, table, "workflow_id").sql.empty());

  // Round trip: a page of one row out of two hands out a cursor for that row.
  WorkflowInfo last;
  last.id = f[2];
  last.created_at_ms = static_cast<int64_t>(std::hash<std::string>{}(f[0]));
  ListWorkflowsQuery one;
  one.order = q.order;
  one.limit = 1;
  WorkflowPage page = sysdb::make_page(one, {last, WorkflowInfo{}});
  FUZZ_CHECK(!page.next_cursor.empty());
  one.cursor = page.next_cursor;
  auto sql = sysdb::page_sql(one, table, "workflow_id");  // no filters: params are created_at, id, limit + 1
  FUZZ_CHECK(sql.params.size() == 3);
  FUZZ_CHECK(std::get<int64_t>(sql.params[0]) == last.created_at_ms);
  FUZZ_CHECK(std::get<std::string>(sql.params[1]) == last.id);
  // The cursor of one order does not continue the other.
  one.order = one.order == ListOrder::NewestFirst ? ListOrder::OldestFirst : ListOrder::NewestFirst;
  keel::fuzz::only<UsageError>([&] {
    sysdb::validate(one);
    FUZZ_CHECK(false);
  });
  return 0;
}
