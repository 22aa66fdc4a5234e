// Steps (retries, recorded errors) and transactions (exactly once).
#include <gtest/gtest.h>

#include <atomic>

#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::RuntimeTest;

namespace {

struct OutOfStock : std::runtime_error {
  explicit OutOfStock(const std::string& m) : std::runtime_error(m) {}
};

using StepTest = RuntimeTest;

// A step's record is written by the workflow's next operation before that
// operation acts: a step sees the steps before it recorded.
TEST_F(StepTest, AStepsRecordIsInBeforeTheNextOperationActs) {
  auto wf = rt->register_workflow("two_steps", [this](keel::Context& ctx) {
    ctx.step("a", [] { return 1; });
    return ctx.step("b", [&] { return static_cast<int>(rt->list_steps(ctx.workflow_id()).size()); });
  });
  rt->launch();
  EXPECT_EQ(rt->start(wf, {.workflow_id = "ab"}).result_for(10s), 1);
  EXPECT_EQ(rt->list_steps("ab").size(), 2u);
}

// The last step's record goes in the commit that ends the workflow: a
// three-step workflow commits four times (start, step 1, step 2, step 3 with
// the end), not five.
TEST_F(StepTest, TheLastStepIsRecordedInTheCommitThatEndsTheWorkflow) {
  std::atomic<bool> counting{false};
  std::atomic<int> commits{0};
  keel::testing::StopAtScopeEnd stop({&rt});
  auto config = keel::testing::test_config(dir);
  config.fault_hook = [&](std::string_view point) {
    if (counting.load() && point == "checkpoint.after_commit") ++commits;
  };
  rt.reset();
  rt = std::make_unique<keel::Runtime>(config);
  auto wf = rt->register_workflow("three_steps", [](keel::Context& ctx) {
    int sum = 0;
    for (int i = 1; i <= 3; ++i) sum += ctx.step("s" + std::to_string(i), [i] { return i; });
    return sum;
  });
  rt->launch();
  counting = true;
  EXPECT_EQ(rt->start(wf, {.workflow_id = "three"}).result_for(10s), 6);
  counting = false;
  EXPECT_EQ(commits.load(), 4);
  auto steps = rt->list_steps("three");
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps.back().output, keel::Json(3));
  EXPECT_EQ(rt->get_workflow("three")->status, keel::WorkflowStatus::Success);
}

TEST_F(StepTest, RetriesUntilSuccessWithinMaxAttempts) {
  auto wf = rt->register_workflow("flaky", [this](keel::Context& ctx) {
    return ctx.step("call", {.max_attempts = 4, .interval = 5ms, .backoff_rate = 2.0}, [&] {
      effects.hit("attempt");
      if (effects.count("attempt") < 3) throw std::runtime_error("transient");
      return std::string("done");
    });
  });
  rt->launch();
  EXPECT_EQ(rt->start(wf, {.workflow_id = "flaky-1"}).result_for(10s), "done");
  EXPECT_EQ(effects.count("attempt"), 3);
  auto steps = rt->list_steps("flaky-1");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].attempts, 3);  // recorded with the step, read back from the database
  EXPECT_EQ(steps[0].output, keel::Json("done"));
}

// Without retries a step counts one attempt, and so do Keel's own operations.
TEST_F(StepTest, OperationsWithoutRetriesCountOneAttempt) {
  auto wf = rt->register_workflow("plain", [](keel::Context& ctx) {
    int a = ctx.step("a", [] { return 1; });
    ctx.set_event("e", a);
    return a;
  });
  rt->launch();
  EXPECT_EQ(rt->start(wf, {.workflow_id = "plain-1"}).result_for(10s), 1);
  auto steps = rt->list_steps("plain-1");
  ASSERT_EQ(steps.size(), 2u);
  for (const auto& s : steps) EXPECT_EQ(s.attempts, 1) << s.name;
}

TEST_F(StepTest, ExhaustedRetriesFailWithMaxRetriesExceeded) {
  auto wf = rt->register_workflow("hopeless", [this](keel::Context& ctx) {
    return ctx.step("call", {.max_attempts = 3, .interval = 1ms}, [&]() -> int {
      effects.hit("attempt");
      throw std::runtime_error("always down");
    });
  });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "hopeless-1"});
  try {
    h.result_for(10s);
    FAIL();
  } catch (const keel::MaxRetriesExceededError& e) {
    EXPECT_NE(std::string(e.what()).find("always down"), std::string::npos);
  }
  EXPECT_EQ(effects.count("attempt"), 3);
  auto steps = rt->list_steps("hopeless-1");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].attempts, 3);
  ASSERT_TRUE(steps[0].error.has_value());
}

TEST_F(StepTest, StepErrorIsRecordedAndRethrownIdenticallyOnReplay) {
  keel::register_error_type<OutOfStock>();
  auto make = [this](keel::Runtime& r) {
    return r.register_workflow("reserve", [this](keel::Context& ctx) {
      std::string outcome;
      try {
        ctx.step("reserve", [&] {
          effects.hit("reserve");
          throw OutOfStock("pen sold out");
        });
      } catch (const OutOfStock& e) {
        outcome = std::string("caught: ") + e.what();
      }
      // Park here so the workflow can be recovered by a new runtime.
      ctx.recv<int>("go", 30s);
      return outcome;
    });
  };
  make(*rt);
  rt->launch();
  auto wf = keel::Workflow<std::string>("reserve");
  (void)rt->start(wf, {.workflow_id = "r1"});
  // Wait until the step is recorded.
  for (int i = 0; i < 200 && rt->list_steps("r1").empty(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_GE(rt->list_steps("r1").size(), 1u);
  EXPECT_EQ(rt->list_steps("r1")[0].error->type_name, "(anonymous namespace)::OutOfStock");
  restart();
  make(*rt);
  auto report = rt->launch();
  EXPECT_EQ(report.recovered, std::vector<std::string>{"r1"});
  rt->send("r1", 1, "go");
  EXPECT_EQ(rt->retrieve<std::string>("r1").result_for(10s), "caught: pen sold out");
  EXPECT_EQ(effects.count("reserve"), 1);  // replayed, not re-run
}

TEST_F(StepTest, UnregisteredErrorTypesSurfaceAsRecordedError) {
  struct Unregistered : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  auto wf = rt->register_workflow("u", [](keel::Context& ctx) {
    try {
      ctx.step("s", []() -> int { throw Unregistered("nope"); });
    } catch (const keel::RecordedError& e) {
      return e.type_name() + "|" + e.what();
    }
    return std::string("not thrown");
  });
  rt->launch();
  auto r = rt->start(wf, {}).result_for(10s);
  EXPECT_NE(r.find("Unregistered|nope"), std::string::npos) << r;
}

TEST_F(StepTest, NestedStepIsAUsageError) {
  auto wf = rt->register_workflow("nested", [](keel::Context& ctx) {
    return ctx.step("outer", [&] { return ctx.step("inner", [] { return 1; }); });
  });
  rt->launch();
  EXPECT_THROW(rt->start(wf, {}).result_for(10s), keel::UsageError);
}

TEST_F(StepTest, IdempotencyKeyIsStableAcrossRetries) {
  auto wf = rt->register_workflow("keys", [this](keel::Context& ctx) {
    std::string outside = ctx.idempotency_key();
    std::vector<std::string> seen;
    ctx.step("call", {.max_attempts = 3, .interval = 1ms}, [&] {
      seen.push_back(ctx.idempotency_key());
      effects.hit("a");
      if (seen.size() < 3) throw std::runtime_error("again");
    });
    return std::make_pair(outside, seen);
  });
  rt->launch();
  auto [outside, seen] = rt->start(wf, {.workflow_id = "wk"}).result_for(10s);
  EXPECT_EQ(outside, "wk:1");
  ASSERT_EQ(seen.size(), 3u);
  for (auto& k : seen) EXPECT_EQ(k, "wk:1");
}

class TransactionTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    wf_ = rt->register_workflow("deposit", [this](keel::Context& ctx, int amount) {
      return ctx.transaction("deposit", [&](keel::Sql& sql) {
        effects.hit("body");
        sql.execute("INSERT INTO ledger (amount) VALUES ($1)", {int64_t{amount}});
        if (amount < 0) throw std::domain_error("negative deposit");
        return sql.query_one("SELECT SUM(amount) FROM ledger")->get_int(0);
      });
    });
    rt->launch();
    rt->run_sql_write([](keel::Sql& sql) { sql.execute("CREATE TABLE ledger (amount INTEGER NOT NULL)"); });
  }
  int64_t ledger_rows() {
    int64_t n = 0;
    rt->run_sql_read([&](keel::Sql& sql) { n = sql.query_one("SELECT COUNT(*) FROM ledger")->get_int(0); });
    return n;
  }
  keel::Workflow<int64_t, int> wf_{""};
};

TEST_F(TransactionTest, CommitsTheBodyAndTheCheckpointTogether) {
  EXPECT_EQ(rt->start(wf_, {.workflow_id = "d1"}, 5).result_for(10s), 5);
  EXPECT_EQ(rt->start(wf_, {.workflow_id = "d1"}, 5).result_for(10s), 5);
  EXPECT_EQ(ledger_rows(), 1);
  EXPECT_EQ(effects.count("body"), 1);
  EXPECT_EQ(rt->list_steps("d1")[0].name, "deposit");
}

TEST_F(TransactionTest, AFailingBodyIsRolledBackAndItsErrorRecorded) {
  EXPECT_THROW(rt->start(wf_, {.workflow_id = "neg"}, -3).result_for(10s), keel::RecordedError);
  EXPECT_EQ(ledger_rows(), 0);  // the INSERT before the throw is rolled back
  auto steps = rt->list_steps("neg");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].error->type_name, "std::domain_error");
  EXPECT_EQ(steps[0].error->message, "negative deposit");
}

TEST_F(TransactionTest, ConcurrentTransactionsAllCommitOnce) {
  std::vector<keel::Handle<int64_t>> hs;
  for (int i = 0; i < 40; ++i) hs.push_back(rt->start(wf_, {.workflow_id = "c" + std::to_string(i)}, 1));
  for (auto& h : hs) EXPECT_GE(h.result_for(30s), 1);
  EXPECT_EQ(ledger_rows(), 40);
  EXPECT_EQ(effects.count("body"), 40);
}

TEST_F(TransactionTest, SqlErrorsNameTheStatement) {
  auto bad = keel::Workflow<int64_t, int>("deposit");
  (void)bad;
  EXPECT_THROW(rt->run_sql_write([](keel::Sql& sql) { sql.execute("INSERT INTO nowhere VALUES (1)"); }),
               keel::DatabaseError);
  try {
    rt->run_sql_read([](keel::Sql& sql) { sql.query("SELECT $2", {int64_t{1}}); });
    FAIL();
  } catch (const keel::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("$2"), std::string::npos);
  }
}

}  // namespace
