// A serialization failure (40001) or deadlock (40P01) in a user's
// transaction is not its outcome: the body's writes roll back and the body
// runs again, and only what the last run returns is recorded. Two Runtimes
// with their own executor ids on one database stand for two processes whose
// workflows update the same rows at the same time. PostgreSQL only (SQLite
// has one writer: its transactions never conflict).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;

namespace {

// The first `parties` arrivals wait for each other (at most 20 s); later
// ones pass: a body's first runs overlap, its retries do not wait.
class Rendezvous {
 public:
  explicit Rendezvous(int parties) : parties_(parties) {}
  void arrive() {
    std::unique_lock lock(mu_);
    if (++arrived_ > parties_) return;
    cv_.notify_all();
    cv_.wait_for(lock, 20s, [&] { return arrived_ >= parties_; });
  }

 private:
  const int parties_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
};

class TransientRetry : public keel::testing::RuntimeTest {
 protected:
  void SetUp() override {
    if (!keel::testing::testing_on_postgres()) GTEST_SKIP() << "KEEL_TEST_DATABASE_URL is not a postgresql:// URL";
    a = std::make_unique<keel::Runtime>(keel::testing::test_config(dir, "a"));
    b = std::make_unique<keel::Runtime>(keel::testing::test_config(dir, "b"));
  }
  void TearDown() override {
    a.reset();
    b.reset();
  }
  void launch_with_rows() {
    a->launch();
    b->launch();
    a->run_sql_write([](keel::Sql& sql) {
      sql.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
      sql.execute("INSERT INTO counters VALUES (1, 0), (2, 0)");
    });
  }
  int64_t counter(int id) {
    int64_t n = -1;
    a->run_sql_read([&](keel::Sql& sql) {
      n = sql.query_one("SELECT n FROM counters WHERE id = $1", {int64_t{id}})->get_int(0);
    });
    return n;
  }
  // The transaction's record: an output, no error.
  void expect_recorded_without_error(keel::Runtime& runtime, const std::string& id, const std::string& name) {
    bool found = false;
    for (const auto& s : runtime.list_steps(id)) {
      if (s.name != name) continue;
      found = true;
      EXPECT_FALSE(s.error.has_value()) << id << ": " << s.error->type_name << ": " << s.error->message;
      EXPECT_TRUE(s.output.has_value()) << id;
    }
    EXPECT_TRUE(found) << id << " has no record of " << name;
  }

  // Both executors run `name`: a SERIALIZABLE transaction that reads
  // counter 1, waits until the other's body has read it too (first runs
  // only), then writes read + 1 through `write` (which returns the result).
  void register_read_then_write(const std::string& name, Rendezvous& both_read,
                                std::function<int64_t(keel::Sql&, int64_t)> write) {
    for (auto* r : {a.get(), b.get()}) {
      r->register_workflow(name, [&, name, write](keel::Context& ctx) {
        keel::TransactionOptions serializable{.isolation = keel::IsolationLevel::Serializable};
        return ctx.transaction(name, serializable, [&](keel::Sql& sql) {
          ++runs;
          int64_t n = sql.query_one("SELECT n FROM counters WHERE id = 1")->get_int(0);
          both_read.arrive();  // both have read before either writes: one must fail
          return write(sql, n);
        });
      });
    }
  }
  // A body ran again (the conflict was provoked), and each executor's
  // transaction `name` (workflows "<name>-a", "<name>-b") recorded an output.
  void expect_retried_and_recorded(const std::string& name) {
    EXPECT_GE(runs.load(), 3) << "no body ran twice: the conflict was not provoked";
    expect_recorded_without_error(*a, name + "-a", name);
    expect_recorded_without_error(*b, name + "-b", name);
  }
  // Starts `name` on each executor; the sum of their results.
  int64_t run_on_both(const std::string& name) {
    auto ha = a->start(keel::Workflow<int64_t>(name), {.workflow_id = name + "-a"});
    auto hb = b->start(keel::Workflow<int64_t>(name), {.workflow_id = name + "-b"});
    return ha.result_for(60s) + hb.result_for(60s);
  }

  std::unique_ptr<keel::Runtime> a, b;
  std::atomic<int> runs{0};
};

TEST_F(TransientRetry, ASerializationFailureRunsTheBodyAgainAndIsNeverRecorded) {
  Rendezvous both_read(2);
  register_read_then_write("bump", both_read, [](keel::Sql& sql, int64_t n) {
    sql.execute("UPDATE counters SET n = $1 WHERE id = 1", {n + 1});
    return n + 1;
  });
  launch_with_rows();
  // Serializable: as if one ran after the other (results 1 and 2).
  EXPECT_EQ(run_on_both("bump"), 3);
  EXPECT_EQ(counter(1), 2);
  expect_retried_and_recorded("bump");
}

TEST_F(TransientRetry, ADeadlockRunsTheVictimsBodyAgain) {
  Rendezvous both_locked(2);
  for (auto* r : {a.get(), b.get()}) {
    r->register_workflow("swap", [&](keel::Context& ctx, int first, int second) {
      return ctx.transaction("swap", [&](keel::Sql& sql) {
        ++runs;
        sql.execute("UPDATE counters SET n = n + 1 WHERE id = $1", {int64_t{first}});
        both_locked.arrive();  // each holds one row and wants the other's: a deadlock
        sql.execute("UPDATE counters SET n = n + 1 WHERE id = $1", {int64_t{second}});
        return first;
      });
    });
  }
  launch_with_rows();
  keel::Workflow<int, int, int> swap("swap");
  auto ha = a->start(swap, {.workflow_id = "swap-a"}, 1, 2);
  auto hb = b->start(swap, {.workflow_id = "swap-b"}, 2, 1);
  EXPECT_EQ(ha.result_for(60s), 1);
  EXPECT_EQ(hb.result_for(60s), 2);
  EXPECT_EQ(counter(1), 2);  // each body's writes once: the victim's first run was rolled back
  EXPECT_EQ(counter(2), 2);
  expect_retried_and_recorded("swap");
}

TEST_F(TransientRetry, ABodyThatSwallowsTheConflictStillRunsAgain) {
  Rendezvous both_read(2);
  register_read_then_write("careless", both_read, [](keel::Sql& sql, int64_t n) {
    try {
      sql.execute("UPDATE counters SET n = $1 WHERE id = 1", {n + 1});
    } catch (const keel::DatabaseError&) {
      return int64_t{-1};  // swallowed: the transaction is lost all the same
    }
    return n + 1;
  });
  launch_with_rows();
  EXPECT_EQ(run_on_both("careless"), 3) << "a run that swallowed the conflict was recorded";
  EXPECT_EQ(counter(1), 2);
  expect_retried_and_recorded("careless");
}

TEST_F(TransientRetry, AnIsolationLevelIsTheTransactionsOwn) {
  for (auto* r : {a.get(), b.get()}) {
    r->register_workflow("level", [](keel::Context& ctx, int level) {
      keel::TransactionOptions o{.isolation = static_cast<keel::IsolationLevel>(level)};
      return ctx.transaction("level", o, [](keel::Sql& sql) {
        return sql.query_one("SELECT current_setting('transaction_isolation')")->get_string(0);
      });
    });
  }
  launch_with_rows();
  keel::Workflow<std::string, int> level("level");
  using L = keel::IsolationLevel;
  EXPECT_EQ(a->start(level, {}, static_cast<int>(L::Serializable)).result_for(30s), "serializable");
  EXPECT_EQ(a->start(level, {}, static_cast<int>(L::RepeatableRead)).result_for(30s), "repeatable read");
  EXPECT_EQ(a->start(level, {}, static_cast<int>(L::ReadCommitted)).result_for(30s), "read committed");
}

}  // namespace
