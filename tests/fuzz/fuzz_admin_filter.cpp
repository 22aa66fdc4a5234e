// The admin API's workflow filter (`GET /workflows?...`, the bulk
// operations and `keel workflow list`): admin::parse_workflow_filter over
// "name=value" lines (the decoded query parameters), for a list (paging)
// and for a bulk operation. Documented failures: FilterError with an
// "invalid_..." code; then list_workflows' own check (sysdb::validate:
// limit, cursor) throws UsageError only, and the SQL builds for any query
// it accepts.
#include "admin/workflow_filter.hpp"
#include "fuzz_support.hpp"
#include "keel/errors.hpp"
#include "sysdb/workflow_query.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = keel::fuzz::text(data, size);
  admin::FilterParams params;
  while (!in.empty() && params.size() < 32) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    size_t eq = line.find('=');
    params.emplace(std::string(line.substr(0, eq)),
                   eq == std::string_view::npos ? std::string() : std::string(line.substr(eq + 1)));
  }
  constexpr int64_t kNow = 1'765'000'000'000;
  auto coded = [](const admin::FilterError& e) {
    FUZZ_CHECK(e.code.rfind("invalid_", 0) == 0 && !e.message.empty());
  };
  for (bool paging : {true, false}) {
    ListWorkflowsQuery q;
    bool ok = true;
    try {
      q = admin::parse_workflow_filter(params, kNow, paging);
    } catch (const admin::FilterError& e) {
      coded(e);
      ok = false;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "parse_workflow_filter threw %s: %s\n", typeid(e).name(), e.what());
      std::abort();
    }
    if (!ok) continue;
    if (!paging) FUZZ_CHECK(q.cursor.empty() && q.limit == 100);
    FUZZ_CHECK(q.limit >= 1 && q.limit <= kMaxListLimit);
    const sysdb::WorkflowTable table{"keel_workflow_status", ""};
    if (keel::fuzz::only<UsageError>([&] { sysdb::validate(q); })) {
      auto page = sysdb::page_sql(q, table, "workflow_id");
      FUZZ_CHECK(!page.sql.empty());
      (void)sysdb::count_sql(q, table);
    }
  }
  return 0;
}
