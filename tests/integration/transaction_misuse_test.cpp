// A transaction body that calls back into Keel: each such call throws
// UsageError naming itself, at once, on both backends — before, the body
// waited for the commit that waited for it, and the process hung with no
// message. The body's writes are rolled back and the misuse is the
// transaction's recorded error, like any exception of the body.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

class TransactionMisuseTest : public keel::testing::RuntimeTest {
 protected:
  // Runs a workflow whose transaction inserts a row, then calls `misuse`;
  // returns the UsageError's message (fails the test if there was none).
  std::string misuse_message(const std::function<void(keel::Context&, keel::Runtime&)>& misuse,
                             const std::function<void()>& after_launch = [] {}) {
    rt->run_sql_write([](keel::Sql& sql) { sql.execute("CREATE TABLE IF NOT EXISTS marks (n INTEGER)"); });
    auto wf = rt->register_workflow("misuser", [&, misuse](keel::Context& ctx) {
      return ctx.transaction("reserve", [&](keel::Sql& sql) {
        sql.execute("INSERT INTO marks (n) VALUES (1)");
        misuse(ctx, *rt);
        return 1;
      });
    });
    (void)rt->register_workflow("other", [](keel::Context&) { return 2; });
    rt->launch();
    after_launch();
    auto h = rt->start(wf, {.workflow_id = "m1"});
    std::string message;
    try {
      (void)h.result_for(20s);
      ADD_FAILURE() << "the misuse was not reported";
    } catch (const keel::UsageError& e) {
      message = e.what();
    }
    EXPECT_EQ(h.status(), keel::WorkflowStatus::Error);
    int64_t marks = -1;
    rt->run_sql_read([&](keel::Sql& sql) { marks = sql.query_one("SELECT count(*) FROM marks")->get_int(0); });
    EXPECT_EQ(marks, 0) << "the body's write was not rolled back";
    return message;
  }
};

TEST_F(TransactionMisuseTest, SetEventInsideTheBodyIsAUsageErrorNamingTheCall) {
  std::string m = misuse_message([](keel::Context& ctx, keel::Runtime&) { ctx.set_event("k", 1); });
  EXPECT_NE(m.find("ctx.set_event"), std::string::npos) << m;
  EXPECT_NE(m.find("'reserve'"), std::string::npos) << m;
  EXPECT_NE(m.find("'m1'"), std::string::npos) << m;
  EXPECT_FALSE(rt->get_event<int>("m1", "k", 0ms).has_value());
}

TEST_F(TransactionMisuseTest, EveryContextOperationIsRefused) {
  EXPECT_NE(misuse_message([](keel::Context& ctx, keel::Runtime&) { ctx.step("s", [] { return 1; }); })
                .find("ctx.step"),
            std::string::npos);
}

TEST_F(TransactionMisuseTest, ANestedTransactionIsRefused) {
  EXPECT_NE(misuse_message([](keel::Context& ctx, keel::Runtime&) {
              ctx.transaction("inner", [](keel::Sql&) { return 0; });
            }).find("ctx.transaction"),
            std::string::npos);
}

TEST_F(TransactionMisuseTest, RunSqlWriteInsideTheBodyIsRefused) {
  EXPECT_NE(misuse_message([](keel::Context&, keel::Runtime& r) {
              r.run_sql_write([](keel::Sql& sql) { sql.execute("INSERT INTO marks (n) VALUES (2)"); });
            }).find("Runtime::run_sql_write"),
            std::string::npos);
}

TEST_F(TransactionMisuseTest, StartingAWorkflowInsideTheBodyIsRefused) {
  EXPECT_NE(misuse_message([](keel::Context&, keel::Runtime& r) {
              (void)r.start(keel::Workflow<int>("other"), {.workflow_id = "o1"});
            }).find("Runtime::start"),
            std::string::npos);
  EXPECT_FALSE(rt->get_workflow("o1").has_value());
}

TEST_F(TransactionMisuseTest, WaitingForAResultInsideTheBodyIsRefused) {
  EXPECT_NE(misuse_message([](keel::Context&, keel::Runtime& r) {
              (void)keel::Handle<int>(r, "m1").result();
            }).find("Handle::result"),
            std::string::npos);
}

TEST_F(TransactionMisuseTest, SendingInsideTheBodyIsRefused) {
  EXPECT_NE(misuse_message([](keel::Context&, keel::Runtime& r) { r.send("m1", 1, "t"); }).find("Runtime::send"),
            std::string::npos);
}

TEST_F(TransactionMisuseTest, AClientInsideTheBodyIsRefused) {
  std::unique_ptr<keel::Client> client;  // opened once the schema exists
  EXPECT_NE(misuse_message([&](keel::Context&, keel::Runtime&) { client->send("m1", 1, "t"); },
                           [&] { client = std::make_unique<keel::Client>(rt->config().database_url); })
                .find("Client::send"),
            std::string::npos);
}

TEST_F(TransactionMisuseTest, TheSameCallsWorkOutsideTheBody) {
  auto wf = rt->register_workflow("fine", [](keel::Context& ctx) {
    int n = ctx.transaction("t", [](keel::Sql& sql) { return static_cast<int>(sql.query("SELECT 1").size()); });
    ctx.set_event("k", n + 1);
    return ctx.step("s", [] { return 7; });
  });
  rt->launch();
  EXPECT_EQ(rt->start(wf, {.workflow_id = "f1"}).result_for(20s), 7);
  EXPECT_EQ(rt->get_event<int>("f1", "k", 0ms).value_or(-1), 2);
}

}  // namespace
