// The PostgreSQL pipeline committer against a real server: statement units
// batched into one pipelined transaction, a failing statement isolated,
// general units mixed in, fault points around every commit, and prepared
// statements surviving a reconnect. Runs only with KEEL_TEST_DATABASE_URL set
// to a postgresql:// URL (ctest -L postgres).
#include "sysdb/postgres/pipeline_committer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "keel/errors.hpp"
#include "support/runtime_fixture.hpp"

namespace {

using keel::SqlValue;
using keel::sysdb::postgres::Connection;
using keel::sysdb::postgres::PipelineCommitter;

class PipelineCommit : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!keel::testing::testing_on_postgres()) GTEST_SKIP() << "KEEL_TEST_DATABASE_URL is not a postgresql:// URL";
    url = keel::testing::test_db_url(dir);
    conn = std::make_unique<Connection>(url);
    conn->exec_script("CREATE TABLE t (i BIGINT PRIMARY KEY)");
    committer = std::make_unique<PipelineCommitter>(*conn, [this](std::string_view p) {
      std::lock_guard l(mu);
      points.emplace_back(p);
    });
  }
  ~PipelineCommit() override {
    committer.reset();
    conn.reset();
    if (keel::testing::testing_on_postgres())
      keel::testing::detail::PgTestDatabases::instance().drop(keel::testing::detail::database_for(dir));
  }
  int64_t rows() {
    Connection reader(url);
    return reader.exec("SELECT count(*) FROM t").integer(0, 0);
  }
  int commits() {
    std::lock_guard l(mu);
    int n = 0;
    for (auto& p : points) n += p == "checkpoint.after_commit";
    return n;
  }
  // Runs fn(i) from n threads at once, while a general unit holds the leader,
  // so that their units queue up and are likely to share the next batch (the
  // assertions hold whether or not they do).
  void burst(int n, const std::function<void(int)>& fn) {
    std::atomic<int> queued{0};
    std::thread holder([&] {
      committer->run([&](Connection&) {
        while (queued.load() < n) std::this_thread::yield();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let them reach the queue
      });
    });
    std::vector<std::thread> ts;
    for (int i = 0; i < n; ++i)
      ts.emplace_back([&, i] {
        ++queued;
        fn(i);
      });
    for (auto& t : ts) t.join();
    holder.join();
  }

  // A burst where even callers insert their i as a statement unit and odd
  // callers run general(i).
  void mixed_burst(int n, const std::function<void(int)>& general) {
    burst(n, [&](int i) {
      if (i % 2 == 0)
        committer->run_statement("INSERT INTO t VALUES ($1)", {int64_t{i}});
      else
        general(i);
    });
  }

  keel::testing::TempDir dir;
  std::string url;
  std::unique_ptr<Connection> conn;
  std::unique_ptr<PipelineCommitter> committer;
  std::mutex mu;
  std::vector<std::string> points;
};

TEST_F(PipelineCommit, ConcurrentStatementsAllLandEachWithItsOwnResult) {
  std::atomic<int> wrong{0};
  burst(16, [&](int i) {
    std::vector<SqlValue> params{int64_t{i}};
    auto r = committer->run_statement("INSERT INTO t VALUES ($1) RETURNING i", params);
    if (r.integer(0, 0) != i) ++wrong;
  });
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(rows(), 16);
  EXPECT_LE(commits(), 17);  // the holder's commit, then at most one per statement
}

TEST_F(PipelineCommit, AFailingStatementFailsAloneAndTheOthersLand) {
  committer->run_statement("INSERT INTO t VALUES ($1)", {int64_t{3}});
  std::atomic<int> failed{0}, landed{0};
  burst(8, [&](int i) {
    try {
      committer->run_statement("INSERT INTO t VALUES ($1)", {int64_t{i}});  // i == 3 exists
      ++landed;
    } catch (const keel::ConstraintError&) {
      EXPECT_EQ(i, 3);
      ++failed;
    }
  });
  EXPECT_EQ(failed.load(), 1);
  EXPECT_EQ(landed.load(), 7);
  EXPECT_EQ(rows(), 8);
}

TEST_F(PipelineCommit, AFailingGeneralUnitIsRolledBackAloneBesideStatements) {
  std::atomic<int> failed{0};
  mixed_burst(8, [&](int i) {
    try {
      committer->run([&](Connection& c) {
        c.exec("INSERT INTO t VALUES ($1)", {int64_t{i}});
        if (i == 5) throw std::logic_error("unit failed");
        c.exec("INSERT INTO t VALUES ($1)", {int64_t{100 + i}});
      });
    } catch (const std::logic_error&) {
      ++failed;
    }
  });
  EXPECT_EQ(failed.load(), 1);
  // 4 statements, 3 general units of 2 rows each; unit 5 wrote nothing.
  EXPECT_EQ(rows(), 4 + 3 * 2);
}

// A deferred check (a user transaction's claim, sent unanswered with what
// follows it) that refuses loses the batch's transaction, not the other
// units: they run again alone and land; the refused unit alone sees
// CheckRefused, and its writes are gone.
TEST_F(PipelineCommit, ARefusedDeferredCheckFailsOnlyItsUnitAndTheOthersLand) {
  conn->exec_script(
      "CREATE FUNCTION refuse_if(b BOOLEAN) RETURNS INTEGER LANGUAGE plpgsql AS $$ BEGIN "
      "IF b THEN RAISE EXCEPTION 'refused (test)' USING ERRCODE = 'KL001'; END IF; RETURN 0; END $$");
  std::atomic<int> refused{0}, landed{0};
  mixed_burst(8, [&](int i) {
    try {
      committer->run([&](Connection& c) {
        c.exec("INSERT INTO t VALUES ($1)", {int64_t{i}});
        c.defer_check("SELECT refuse_if($1::integer = 5)", {int64_t{i}});
      });
      ++landed;
    } catch (const keel::sysdb::postgres::CheckRefused&) {
      EXPECT_EQ(i, 5);
      ++refused;
    }
  });
  EXPECT_EQ(refused.load(), 1);
  EXPECT_EQ(landed.load(), 3);
  EXPECT_EQ(rows(), 7);  // every row but unit 5's
  EXPECT_EQ(Connection(url).exec("SELECT count(*) FROM t WHERE i = 5").integer(0, 0), 0);
}

// Two lanes (RuntimeConfig::postgres_writer_connections = 2): statements and
// general units from many threads all land once; general units run on the
// first connection only.
TEST_F(PipelineCommit, TwoLanesLandEveryUnitAndKeepGeneralUnitsOnTheFirst) {
  Connection second(url);
  PipelineCommitter two({conn.get(), &second}, nullptr);
  int first_pid = static_cast<int>(conn->exec("SELECT pg_backend_pid()").integer(0, 0));
  std::atomic<int> general_elsewhere{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        int64_t v = t * 100 + i;
        if (i % 5 == 0) {
          two.run([&](Connection& c) {
            if (c.exec("SELECT pg_backend_pid()").integer(0, 0) != first_pid) ++general_elsewhere;
            c.exec("INSERT INTO t VALUES ($1)", {v});
          });
        } else {
          two.run_statement("INSERT INTO t VALUES ($1)", {v});
        }
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(rows(), 8 * 25);
  EXPECT_EQ(general_elsewhere.load(), 0);
}

TEST_F(PipelineCommit, FaultPointsSurroundEveryCommitAndAThrowWritesNothing) {
  committer->run_statement("INSERT INTO t VALUES (1)", {});
  EXPECT_EQ(points, (std::vector<std::string>{"checkpoint.before_commit", "checkpoint.after_commit"}));
  auto failing = std::make_unique<PipelineCommitter>(*conn, [](std::string_view p) {
    if (p == "checkpoint.before_commit") throw keel::DatabaseError("injected");
  });
  EXPECT_THROW(failing->run_statement("INSERT INTO t VALUES (2)", {}), keel::DatabaseError);
  EXPECT_THROW(failing->run([](Connection& c) { c.exec("INSERT INTO t VALUES (3)"); }), keel::DatabaseError);
  EXPECT_EQ(rows(), 1);
}

TEST_F(PipelineCommit, PreparedStatementsAreRepreparedAfterAReconnect) {
  committer->run_statement("INSERT INTO t VALUES ($1)", {int64_t{1}});
  {
    Connection admin(url);
    admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
               "AND pid <> pg_backend_pid()");
  }
  // The first attempt may meet the dead connection; the next one reconnects
  // and prepares the statement again.
  for (int attempt = 0;; ++attempt) {
    try {
      committer->run_statement("INSERT INTO t VALUES ($1)", {int64_t{2}});
      break;
    } catch (const keel::DatabaseError&) {
      ASSERT_LT(attempt, 3);
    }
  }
  EXPECT_EQ(rows(), 2);
}

}  // namespace
