// Finding workflows (Runtime::list_workflows_page, Client): every filter, both
// orders, cursor pagination that holds while rows are inserted, the count.
// Runs on SQLite, and on PostgreSQL under ctest -L postgres.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "keel/client.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

using keel::ListOrder;
using keel::ListWorkflowsQuery;
using keel::WorkflowStatus;

class ListTest : public keel::testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    rt->register_workflow("ok", [](keel::Context&, int x) { return x; });
    rt->register_workflow("fail", [](keel::Context&, int) -> int { throw std::runtime_error("no"); });
    rt->register_workflow("wait", [](keel::Context& ctx, int) { return ctx.recv<int>("go", 60s).value_or(0); });
    rt->register_workflow("parent", [](keel::Context& ctx, int n) {
      int sum = 0;
      for (int i = 0; i < n; ++i) sum += ctx.start_child(keel::Workflow<int, int>("ok"), i).result();
      return sum;
    });
    rt->register_queue({.name = "q", .concurrency = 1});
    rt->launch();
  }

  void finish(const std::string& name, const std::string& id, int x = 1) {
    auto h = rt->start(keel::Workflow<int, int>(name), {.workflow_id = id}, x);
    try {
      (void)h.result_for(20s);
    } catch (const keel::RecordedError&) {
    }
  }

  std::vector<std::string> ids(const ListWorkflowsQuery& q) {
    std::vector<std::string> out;
    for (const auto& w : rt->list_workflows(q)) out.push_back(w.id);
    return out;
  }

  // Every ID of the query, page by page (each page at most `page` long).
  std::vector<std::string> all_pages(ListWorkflowsQuery q, int page) {
    std::vector<std::string> out;
    q.limit = page;
    for (;;) {
      auto p = rt->list_workflows_page(q);
      EXPECT_LE(p.workflows.size(), static_cast<size_t>(page));
      for (const auto& w : p.workflows) out.push_back(w.id);
      if (p.next_cursor.empty()) return out;
      q.cursor = p.next_cursor;
    }
  }
};

TEST_F(ListTest, StatusesNameAndPrefixNarrowTheList) {
  finish("ok", "order-1");
  finish("ok", "order-2");
  finish("fail", "order-3");
  finish("ok", "refund-1");
  (void)rt->start(keel::Workflow<int, int>("wait"), {.workflow_id = "order-4"}, 0);
  using S = std::set<std::string>;
  auto set_of = [&](const ListWorkflowsQuery& q) {
    auto v = ids(q);
    return S(v.begin(), v.end());
  };
  EXPECT_EQ(set_of({.statuses = {WorkflowStatus::Error, WorkflowStatus::Pending}}), (S{"order-3", "order-4"}));
  EXPECT_EQ(set_of({.name = "ok"}), (S{"order-1", "order-2", "refund-1"}));
  EXPECT_EQ(set_of({.id_prefix = "order-"}), (S{"order-1", "order-2", "order-3", "order-4"}));
  EXPECT_EQ(set_of({.statuses = {WorkflowStatus::Success}, .id_prefix = "order"}), (S{"order-1", "order-2"}));
  EXPECT_EQ(set_of({.id_prefix = "ref"}), (S{"refund-1"}));
  EXPECT_TRUE(ids({.id_prefix = "x"}).empty());
  EXPECT_EQ(set_of({.executor_id = "test", .parent_id = std::nullopt}).size(), 5u);
  EXPECT_TRUE(ids({.application_version = "no-such-version"}).empty());
  rt->send("order-4", 1, "go");
}

// LIKE's wildcards are plain characters to a prefix, and a prefix ending
// in the highest code point (U+10FFFF) or a continuation byte 0xBF (ÿ) still
// bounds its range (PostgreSQL takes only valid UTF-8 as text).
TEST_F(ListTest, APrefixMatchesCharactersNotPatterns) {
  const std::string top = "\xf4\x8f\xbf\xbf";  // U+10FFFF
  const std::string y = "\xc3\xbf";              // ÿ, U+00FF
  finish("ok", "a%b");
  finish("ok", "a_c");
  finish("ok", "abc");
  finish("ok", top + top + "-x");
  finish("ok", top + "z");
  finish("ok", y + "1");
  finish("ok", "\xc4\x80");  // U+0100, just above ÿ
  EXPECT_EQ(ids({.id_prefix = "a%"}), std::vector<std::string>{"a%b"});
  EXPECT_EQ(ids({.id_prefix = "a_"}), std::vector<std::string>{"a_c"});
  EXPECT_EQ(ids({.id_prefix = top + top}), std::vector<std::string>{top + top + "-x"});
  EXPECT_EQ(ids({.id_prefix = top}).size(), 2u);
  EXPECT_EQ(ids({.id_prefix = y}), std::vector<std::string>{y + "1"});
}

TEST_F(ListTest, TimeRangesAreHalfOpen) {
  finish("ok", "early");
  std::this_thread::sleep_for(20ms);
  auto early = rt->get_workflow("early")->created_at_ms;
  finish("ok", "late");
  auto late = rt->get_workflow("late")->created_at_ms;
  ASSERT_LT(early, late);
  EXPECT_EQ(ids({.created_after_ms = late}), std::vector<std::string>{"late"});
  EXPECT_EQ(ids({.created_before_ms = late}), std::vector<std::string>{"early"});
  EXPECT_EQ(ids({.created_after_ms = early, .created_before_ms = early + 1}), std::vector<std::string>{"early"});
  auto updated = rt->get_workflow("late")->updated_at_ms;
  EXPECT_EQ(ids({.updated_after_ms = updated}), std::vector<std::string>{"late"});
  EXPECT_EQ(ids({.updated_before_ms = updated}), std::vector<std::string>{"early"});
}

TEST_F(ListTest, QueueAndParentFilters) {
  (void)rt->enqueue(keel::Workflow<int, int>("ok"), "q", {.workflow_id = "queued"}, 1);
  ASSERT_EQ(rt->retrieve<int>("queued").result_for(20s), 1);
  (void)rt->start(keel::Workflow<int, int>("parent"), {.workflow_id = "p"}, 3);
  ASSERT_EQ(rt->retrieve<int>("p").result_for(20s), 3);
  finish("ok", "alone");
  EXPECT_EQ(ids({.queue_name = "q"}), std::vector<std::string>{"queued"});
  auto children = ids({.parent_id = "p", .order = ListOrder::OldestFirst});
  ASSERT_EQ(children.size(), 3u);
  for (const auto& c : children) EXPECT_EQ(rt->get_workflow(c)->parent_id, "p");
}

TEST_F(ListTest, BothOrdersSortByCreationThenId) {
  for (int i = 0; i < 12; ++i) finish("ok", "w" + std::to_string(100 + i));
  auto newest = ids({.order = ListOrder::NewestFirst});
  auto oldest = ids({.order = ListOrder::OldestFirst});
  ASSERT_EQ(newest.size(), 12u);
  EXPECT_EQ(std::vector<std::string>(newest.rbegin(), newest.rend()), oldest);
  auto rows = rt->list_workflows({.order = ListOrder::OldestFirst});
  for (size_t i = 1; i < rows.size(); ++i) {
    bool ordered = rows[i - 1].created_at_ms < rows[i].created_at_ms ||
                   (rows[i - 1].created_at_ms == rows[i].created_at_ms && rows[i - 1].id < rows[i].id);
    EXPECT_TRUE(ordered) << rows[i - 1].id << " before " << rows[i].id;
  }
}

// Keyset pagination: inserting rows between pages neither repeats nor skips
// any row that existed when the walk began.
TEST_F(ListTest, PagesHoldWhileRowsAreInserted) {
  for (int i = 0; i < 25; ++i) finish("ok", "old-" + std::to_string(i));
  for (ListOrder order : {ListOrder::NewestFirst, ListOrder::OldestFirst}) {
    ListWorkflowsQuery q{.order = order, .limit = 4};
    std::vector<std::string> seen;
    int inserted = 0;
    for (;;) {
      auto page = rt->list_workflows_page(q);
      for (const auto& w : page.workflows) seen.push_back(w.id);
      finish("ok", "new-" + std::to_string(static_cast<int>(order)) + "-" + std::to_string(inserted++));
      if (page.next_cursor.empty()) break;
      q.cursor = page.next_cursor;
    }
    std::set<std::string> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), seen.size()) << "no row twice";
    for (int i = 0; i < 25; ++i) EXPECT_TRUE(unique.count("old-" + std::to_string(i))) << "old-" << i;
  }
}

TEST_F(ListTest, PagesConcatenateToTheWholeListAndCountIt) {
  for (int i = 0; i < 10; ++i) finish(i % 3 ? "ok" : "fail", "c" + std::to_string(i));
  ListWorkflowsQuery q{.name = "ok", .order = ListOrder::OldestFirst};
  auto whole = ids(q);
  EXPECT_EQ(whole.size(), 6u);
  EXPECT_EQ(all_pages(q, 4), whole);
  EXPECT_EQ(all_pages(q, 1), whole);
  EXPECT_EQ(all_pages(q, 6), whole);
  q.count_total = true;
  q.limit = 2;
  auto page = rt->list_workflows_page(q);
  EXPECT_EQ(page.workflows.size(), 2u);
  EXPECT_EQ(page.total, 6);
  EXPECT_FALSE(page.next_cursor.empty());
  q.count_total = false;
  EXPECT_FALSE(rt->list_workflows_page(q).total.has_value()) << "counted only when asked";
  keel::Client client(keel::testing::test_config(dir).database_url);
  q.count_total = true;
  EXPECT_EQ(client.list_workflows_page(q).total, 6);
}

TEST_F(ListTest, ABadLimitOrCursorIsAUsageError) {
  EXPECT_THROW((void)rt->list_workflows({.limit = 0}), keel::UsageError);
  EXPECT_THROW((void)rt->list_workflows({.limit = keel::kMaxListLimit + 1}), keel::UsageError);
  EXPECT_THROW((void)rt->list_workflows({.cursor = "garbage"}), keel::UsageError);
  EXPECT_THROW((void)rt->list_workflows({.cursor = "n12.zz"}), keel::UsageError);
  for (int i = 0; i < 3; ++i) finish("ok", "u" + std::to_string(i));
  auto page = rt->list_workflows_page({.limit = 1});
  ASSERT_FALSE(page.next_cursor.empty());
  EXPECT_THROW((void)rt->list_workflows({.order = ListOrder::OldestFirst, .cursor = page.next_cursor}),
               keel::UsageError)
      << "a newest-first cursor cannot continue an oldest-first list";
  keel::Client client(keel::testing::test_config(dir).database_url);
  EXPECT_THROW((void)client.list_workflows({.limit = -1}), keel::UsageError);
}

}  // namespace
