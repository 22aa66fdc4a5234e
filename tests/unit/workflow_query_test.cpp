// The list query's SQL (sysdb/workflow_query.hpp) as SQLite plans it, on the
// schema Keel's own migrations build: `name = ? AND status = ?` for a status
// that is rare in a working system reads the status index, not the name
// index (SQLite keeps no value statistics, so it cannot tell ERROR from
// SUCCESS by itself; on 2,500,000 workflows the name index took 13-18 ms a page,
// docs/performance.md "A full database").
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <memory>
#include <string>

#include "sysdb/sqlite/migrations.hpp"
#include "sysdb/workflow_query.hpp"

namespace keel::sysdb {
namespace {

// The backends' own tables: turning the steering off there fails these tests.
const WorkflowTable& kSqlite = sqlite_workflow_table();
const WorkflowTable& kPostgres = postgres_workflow_table();
const std::string kColumns = "workflow_id, created_at";  // what the merged page orders by

class WorkflowQueryPlan : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(":memory:", &raw), SQLITE_OK);
    db_.reset(raw);
    for (auto m : sqlite::migrations()) {
      char* err = nullptr;
      ASSERT_EQ(sqlite3_exec(db_.get(), std::string(m).c_str(), nullptr, nullptr, &err), SQLITE_OK)
          << (err ? err : "") << "\n" << m;
    }
  }
  // Every line of EXPLAIN QUERY PLAN, joined.
  std::string plan(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    std::string full = "EXPLAIN QUERY PLAN " + sql;
    EXPECT_EQ(sqlite3_prepare_v2(db_.get(), full.c_str(), -1, &raw, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_.get()) << "\n" << sql;
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> st(raw, &sqlite3_finalize);
    std::string out;
    while (st && sqlite3_step(st.get()) == SQLITE_ROW)
      out += reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 3)) + std::string("\n");
    return out;
  }
  std::string page_plan(const ListWorkflowsQuery& q) { return plan(page_sql(q, kSqlite, kColumns).sql); }
  std::string count_plan(const ListWorkflowsQuery& q) { return plan(count_sql(q, kSqlite).sql); }

 private:
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db_{nullptr, &sqlite3_close};
};

TEST_F(WorkflowQueryPlan, ANameWithARareStatusReadsTheStatusIndex) {
  for (auto s : {WorkflowStatus::Error, WorkflowStatus::Pending, WorkflowStatus::Cancelled}) {
    ListWorkflowsQuery q{.statuses = {s}, .name = "checkout"};
    auto p = page_plan(q);
    EXPECT_NE(p.find("keel_workflow_status_by_status_created"), std::string::npos) << p;
    EXPECT_EQ(p.find("keel_workflow_status_by_name"), std::string::npos) << p;
    auto c = count_plan(q);
    EXPECT_NE(c.find("keel_workflow_status_by_status"), std::string::npos) << c;
    EXPECT_EQ(c.find("keel_workflow_status_by_name"), std::string::npos) << c;
  }
  // Several rare statuses: each part of the merged page reads its status's rows.
  auto p = page_plan({.statuses = {WorkflowStatus::Error, WorkflowStatus::Pending}, .name = "checkout"});
  EXPECT_EQ(p.find("keel_workflow_status_by_name"), std::string::npos) << p;
}

TEST_F(WorkflowQueryPlan, TheNameIndexStaysUsableOtherwise) {
  // SUCCESS is most rows: its part of a page is not steered (the ERROR part
  // of the same page is), and a name alone reads its index.
  auto mixed = page_sql({.statuses = {WorkflowStatus::Success, WorkflowStatus::Error}, .name = "checkout"}, kSqlite,
                        kColumns);
  EXPECT_NE(mixed.sql.find("status IN ($1) AND name = $2"), std::string::npos) << mixed.sql;
  EXPECT_NE(mixed.sql.find("status IN ($4) AND +name = $5"), std::string::npos) << mixed.sql;
  EXPECT_EQ(count_sql({.statuses = {WorkflowStatus::Success}, .name = "checkout"}, kSqlite).sql.find("+name"),
            std::string::npos);
  auto p = page_plan({.name = "checkout"});
  EXPECT_NE(p.find("keel_workflow_status_by_name"), std::string::npos) << p;
}

TEST_F(WorkflowQueryPlan, PostgreSQLIsNeverSteered) {
  // Its planner has value statistics and combines indexes; and `+name` is no
  // valid expression for text there.
  ListWorkflowsQuery q{.statuses = {WorkflowStatus::Error}, .name = "checkout"};
  EXPECT_EQ(page_sql(q, kPostgres, kColumns).sql.find("+name"), std::string::npos);
  EXPECT_EQ(count_sql(q, kPostgres).sql.find("+name"), std::string::npos);
}

}  // namespace
}  // namespace keel::sysdb
