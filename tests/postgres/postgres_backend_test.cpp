// PostgreSQL-specific behaviour of the system database: lost connections,
// concurrent migrators, schema version checks, the SQL dialect. Runs only
// with KEEL_TEST_DATABASE_URL set to a postgresql:// URL (ctest -L postgres).
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <thread>
#include <vector>

#include "postgres/pg_test_support.hpp"
#include "runtime/runtime_access.hpp"
#include "support/eventually.hpp"
#include "support/runtime_fixture.hpp"
#include "sysdb/postgres/migrations.hpp"

using namespace std::chrono_literals;
using keel::testing::RuntimeTest;

namespace {

class PostgresBackend : public RuntimeTest {
 protected:
  void SetUp() override {
    if (!keel::testing::testing_on_postgres()) GTEST_SKIP() << "KEEL_TEST_DATABASE_URL is not a postgresql:// URL";
    RuntimeTest::SetUp();
  }
  // Runs one statement on the test's database through a connection of its own.
  std::string admin(const std::string& sql) {
    PGconn* c = PQconnectdb(keel::testing::test_db_url(dir).c_str());
    EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PGresult* r = PQexec(c, sql.c_str());
    std::string out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
    EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        << PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    return out;
  }
  // Kills every other session on the test's database (the runtime's writer
  // and readers), as a server restart or a network cut would; returns once
  // they have exited (not merely been signalled).
  void kill_sessions() {
    admin("SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
          "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  }
};

TEST_F(PostgresBackend, TablesLiveInTheKeelSchema) {
  rt->launch();
  EXPECT_EQ(admin("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'keel'"), "10");
  EXPECT_EQ(admin("SELECT version FROM keel.schema_version"),
            std::to_string(keel::sysdb::postgres::migrations().size()));
}

// Each session names its process in pg_stat_activity ("keel <executor id>";
// the listener "keel_listen <executor id>"), unless the URL names it: an
// operator (and the soak) can tell which process holds which connections.
TEST_F(PostgresBackend, SessionsNameTheirExecutorInPgStatActivityUnlessTheUrlDoes) {
  rt.reset();
  auto config = keel::testing::test_config(dir, "named-exec");
  rt = std::make_unique<keel::Runtime>(config);
  rt->launch();
  std::string mine;
  rt->run_sql_read([&](keel::Sql& sql) { mine = sql.query_one("SELECT current_setting('application_name')")->get_string(0); });
  EXPECT_EQ(mine, "keel named-exec");
  EXPECT_NE(admin("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND application_name = 'keel named-exec'"),
            "0");
  rt.reset();
  const std::string url = config.database_url;
  config.database_url = url + (url.find('?') == std::string::npos ? "?" : "&") + "application_name=chosen";
  rt = std::make_unique<keel::Runtime>(config);
  rt->launch();
  rt->run_sql_read([&](keel::Sql& sql) { mine = sql.query_one("SELECT current_setting('application_name')")->get_string(0); });
  EXPECT_EQ(mine, "chosen") << "the URL's application_name wins";
}

// The reader pool grows to meet concurrent reads and shrinks back once they
// are over: readers unused for postgres_reader_idle_timeout are closed when
// a later read ends, and only they (the one just used stays).
TEST_F(PostgresBackend, ReadersLeftIdleAreClosedByTheNextReadAndTheBusyOneStays) {
  rt.reset();
  auto config = keel::testing::test_config(dir, "idle-readers");
  config.postgres_reader_idle_timeout = 300ms;
  rt = std::make_unique<keel::Runtime>(config);
  rt->launch();
  const auto sessions = [&] {
    return std::stoi(admin("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND application_name = 'keel idle-readers'"));
  };
  const auto reader_gauge = [&] {
    const std::string t = keel::detail::RuntimeAccess::metrics_text(*rt);
    const std::string name = "\nkeel_database_reader_connections ";
    const auto at = t.find(name);
    return at == std::string::npos ? -1 : std::stoi(t.substr(at + name.size()));
  };
  const int before = sessions();
  constexpr int kConcurrent = 6;
  std::vector<std::thread> readers;
  for (int i = 0; i < kConcurrent; ++i) {
    readers.emplace_back([&] { rt->run_sql_read([](keel::Sql& sql) { (void)sql.query("SELECT pg_sleep(0.4)"); }); });
  }
  for (auto& t : readers) t.join();
  const int after_burst = sessions();
  EXPECT_GE(after_burst, before + kConcurrent - 1) << "the burst opened a reader each (less those already open)";
  EXPECT_GE(reader_gauge(), kConcurrent);

  // Reads one at a time within the timeout keep what they use and close nothing.
  rt->run_sql_read([](keel::Sql& sql) { (void)sql.query("SELECT 1"); });
  EXPECT_EQ(sessions(), after_burst) << "a reader closed before its idle timeout";

  std::this_thread::sleep_for(600ms);
  rt->run_sql_read([](keel::Sql& sql) { (void)sql.query("SELECT 1"); });
  EXPECT_TRUE(keel::testing::eventually([&] { return sessions() <= after_burst - (kConcurrent - 1); }, 5s))
      << "idle readers still open: " << sessions() << " sessions, " << after_burst << " after the burst";
  EXPECT_LE(reader_gauge(), 2) << "keel_database_reader_connections does not follow the pool";
  // The pool still serves reads (and can grow again).
  int one = 0;
  rt->run_sql_read([&](keel::Sql& sql) { one = static_cast<int>(sql.query_one("SELECT 1")->get_int(0)); });
  EXPECT_EQ(one, 1);
}

// Migration 6: a step's claim reads the workflow's row without a lock, so
// operation_outputs has no foreign key (its check would lock the row); a
// trigger deletes a workflow's records with it, as ON DELETE CASCADE did.
TEST_F(PostgresBackend, DeletingAWorkflowDeletesItsRecordsWithoutAForeignKey) {
  auto wf = rt->register_workflow("two", [](keel::Context& ctx) {
    ctx.step("a", [] { return 1; });
    return ctx.step("b", [] { return 2; });
  });
  rt->launch();
  EXPECT_EQ(rt->start(wf, {.workflow_id = "gone"}).result_for(30s), 2);
  EXPECT_EQ(rt->start(wf, {.workflow_id = "kept"}).result_for(30s), 2);
  EXPECT_EQ(admin("SELECT count(*) FROM pg_constraint WHERE conrelid = 'keel.operation_outputs'::regclass "
                  "AND contype = 'f'"),
            "0");
  admin("DELETE FROM keel.workflow_status WHERE workflow_id = 'gone'");
  EXPECT_EQ(admin("SELECT count(*) FROM keel.operation_outputs WHERE workflow_id = 'gone'"), "0");
  EXPECT_EQ(admin("SELECT count(*) FROM keel.operation_outputs WHERE workflow_id = 'kept'"), "2");
}

TEST_F(PostgresBackend, SqlValuesRoundTripWithTheirTypes) {
  rt->launch();
  rt->run_sql_write([](keel::Sql& sql) {
    EXPECT_EQ(sql.dialect(), "postgresql");
    sql.execute_script("CREATE TABLE t (i BIGINT, d DOUBLE PRECISION, s TEXT, n INTEGER); CREATE INDEX ON t (i)");
    EXPECT_EQ(sql.execute("INSERT INTO t VALUES ($1, $2, $3, $4)",
                          {int64_t{1} << 40, 2.5, std::string("it's"), nullptr}),
              1);
  });
  rt->run_sql_read([](keel::Sql& sql) {
    auto row = sql.query_one("SELECT i, d, s, n, i = $1, COUNT(*) OVER () FROM t WHERE s = $2",
                             {int64_t{1} << 40, std::string("it's")});
    ASSERT_TRUE(row);
    EXPECT_EQ(row->get_int(0), int64_t{1} << 40);
    EXPECT_DOUBLE_EQ(row->get_double(1), 2.5);
    EXPECT_EQ(row->get_string(2), "it's");
    EXPECT_TRUE(row->is_null(3));
    EXPECT_EQ(row->get_int(4), 1);
    EXPECT_EQ(row->get_int(5), 1);
    EXPECT_THROW(sql.execute("INSERT INTO t VALUES (1)"), keel::DatabaseError);  // read only
  });
  rt->run_sql_write([](keel::Sql& sql) { sql.execute("CREATE UNIQUE INDEX t_s ON t (s)"); });
  EXPECT_THROW(rt->run_sql_write([](keel::Sql& sql) {
                 sql.execute("INSERT INTO t (s) VALUES ($1)", {std::string("it's")});
               }),
               keel::ConstraintError);
}

TEST_F(PostgresBackend, ALostConnectionIsReestablishedAndTheWorkflowFinishes) {
  auto wf = rt->register_workflow("two_steps", [this](keel::Context& ctx) {
    int a = ctx.step("first", [&] {
      effects.hit("first");
      return 1;
    });
    kill_sessions();  // the writer and readers lose their connections here
    int b = ctx.step("second", [&] {
      effects.hit("second");
      return 2;
    });
    return a + b;
  });
  rt->launch();
  EXPECT_EQ(rt->start(wf, {.workflow_id = "k1"}).result_for(30s), 3);
  EXPECT_EQ(effects.count("first"), 1);
  EXPECT_EQ(rt->list_steps("k1").size(), 2u);
  kill_sessions();
  EXPECT_EQ(rt->get_workflow("k1")->status, keel::WorkflowStatus::Success);
}

TEST_F(PostgresBackend, ConcurrentMigratorsApplyEachMigrationOnce) {
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&, i] {
      try {
        keel::Runtime r(keel::testing::test_config(dir, "m" + std::to_string(i)));
        r.launch();
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(admin("SELECT count(*) FROM keel.schema_version"), "1");
}

TEST_F(PostgresBackend, ANewerSchemaIsRefused) {
  rt->launch();
  rt.reset();
  admin("UPDATE keel.schema_version SET version = 999");
  EXPECT_THROW(keel::Runtime r(keel::testing::test_config(dir)), keel::IncompatibleDatabaseError);
}

// The body of a ctx.transaction runs before its checkpoint's claim (one
// round trip less). A workflow cancelled while its body runs: the claim is
// refused and the body's writes are rolled back with it.
TEST_F(PostgresBackend, ATransactionWhoseClaimIsRefusedLeavesNoWrite) {
  auto wf = rt->register_workflow("cancelled_in_body", [&](keel::Context& ctx) {
    return ctx.transaction("ledger", [&](keel::Sql& sql) {
      sql.execute("INSERT INTO ledger (workflow_id) VALUES ($1)", {ctx.workflow_id()});
      // Another process cancels it now (the row is not locked yet).
      admin("UPDATE keel.workflow_status SET status = 'CANCELLED' WHERE workflow_id = '" + ctx.workflow_id() + "'");
      effects.hit("body");
      return 1;
    });
  });
  rt->launch();
  rt->run_sql_write([](keel::Sql& sql) { sql.execute("CREATE TABLE ledger (workflow_id TEXT NOT NULL)"); });
  auto h = rt->start(wf, {.workflow_id = "refused-1"});
  EXPECT_THROW(h.result_for(30s), keel::WorkflowCancelledError);
  EXPECT_EQ(effects.count("body"), 1);
  EXPECT_EQ(admin("SELECT count(*) FROM ledger"), "0");
  EXPECT_EQ(admin("SELECT count(*) FROM keel.operation_outputs WHERE workflow_id = 'refused-1'"), "0");
}

// The answer to COMMIT is lost: the commit happened, but the connection
// drops before the client hears of it ("checkpoint.after_commit"), so every
// caller sees a DatabaseError. Each unit is resolved by reading back what it
// recorded, never by applying it again.
TEST_F(PostgresBackend, ACommitWhoseAnswerIsLostIsResolvedByReadingBack) {
  std::atomic<bool> armed{false};
  std::atomic<int> dropped{0}, waits{0};
  std::atomic<bool> sends_done{false};
  keel::testing::StopAtScopeEnd stop({&rt}, [&] { sends_done = true; });
  // With the lease on: its heartbeats' commits fire no fault points, so the
  // armed drops hit the workflow's own commits.
  auto config = keel::testing::test_config(dir);
  config.fault_hook = [&](std::string_view point) {
    if (point == "wait.begin") ++waits;
    if (point != "checkpoint.after_commit" || !armed.exchange(false)) return;
    kill_sessions();
    ++dropped;  // after the kill: a test that sees the count sees it done
    throw keel::DatabaseError("connection lost after COMMIT (test)");
  };
  rt.reset();
  rt = std::make_unique<keel::Runtime>(config);
  // Each `armed = true` makes the next commit (that operation's) lose its
  // answer. A step's record is written by the next operation (here the
  // transaction, before its body), the last step's with the workflow's end.
  auto wf = rt->register_workflow("each_kind", [&](keel::Context& ctx) {
    armed = true;
    int s = ctx.step("effect", [&] {
      effects.hit("effect");
      return 1;
    });
    ctx.transaction("ledger", [&](keel::Sql& sql) {
      armed = true;  // the step's record is in: this commit is the transaction's
      effects.hit("ledger body");
      return sql.execute("INSERT INTO ledger (workflow_id) VALUES ($1)", {ctx.workflow_id()});
    });
    armed = true;
    ctx.set_event("k", 7);
    armed = true;
    ctx.send(ctx.workflow_id(), 40, "self");
    armed = true;
    int self = ctx.recv<int>("self", 30s).value_or(-100);
    int reply = ctx.recv<int>("reply", 30s).value_or(-100);  // the one wait
    // The first send's commit went through (only its answer was lost), so the
    // reply may arrive before the test's second send: let that send finish
    // before arming the finish's drop, or it could take the drop.
    while (!sends_done.load()) std::this_thread::sleep_for(1ms);
    armed = true;  // finishing, with the last step's record, loses its answer too
    int last = ctx.step("last", [&] {
      effects.hit("last");
      return 1000;
    });
    return s + self + reply + last;
  });
  rt->launch();
  rt->run_sql_write([](keel::Sql& sql) { sql.execute("CREATE TABLE ledger (workflow_id TEXT NOT NULL)"); });
  auto h = rt->start(wf, {.workflow_id = "each-1"});
  ASSERT_TRUE(keel::testing::eventually([&] { return waits.load() > 0; }, 30s));
  EXPECT_EQ(dropped.load(), 5);
  // From outside a workflow the caller sees the error; sending again with
  // the same idempotency key delivers once.
  // Under load a send may first meet a connection that the last drop's kill
  // is still tearing down (a plain connection error, the drop still armed):
  // send until the drop took a send's commit.
  armed = true;
  int send_errors = 0;
  for (int i = 0; i < 20 && armed.load(); ++i) {
    try {
      rt->send("each-1", 2, "reply", "reply-key");
    } catch (const keel::DatabaseError&) {
      ++send_errors;
    }
  }
  ASSERT_FALSE(armed.load());
  EXPECT_GE(send_errors, 1);
  rt->send("each-1", 2, "reply", "reply-key");
  sends_done = true;
  // The last drop (at finish) kills every session, perhaps this reader's too.
  int result = 0;
  ASSERT_TRUE(keel::testing::eventually([&] {
    try {
      result = h.result_for(30s);
      return true;
    } catch (const keel::DatabaseError& e) {
      std::printf("result_for: %s\n", e.what());
      return false;
    }
  }));
  EXPECT_EQ(result, 1043);
  // The finish's commit is visible (and notified) before the hook counts it.
  EXPECT_TRUE(keel::testing::eventually([&] { return dropped.load() == 7; }));
  EXPECT_EQ(effects.count("effect"), 1);
  EXPECT_EQ(effects.count("ledger body"), 1);
  EXPECT_EQ(effects.count("last"), 1);
  EXPECT_EQ(admin("SELECT output FROM keel.operation_outputs WHERE workflow_id = 'each-1' AND name = 'last'"), "1000");
  EXPECT_EQ(admin("SELECT count(*) FROM ledger"), "1");
  EXPECT_EQ(admin("SELECT count(*) FROM keel.notifications WHERE topic = 'self'"), "1");
  EXPECT_EQ(admin("SELECT count(*) FROM keel.notifications WHERE topic = 'reply'"), "1");
  EXPECT_EQ(admin("SELECT count(*) FROM keel.notifications WHERE consumed = 0"), "0");
  EXPECT_EQ(admin("SELECT value FROM keel.workflow_events WHERE workflow_id = 'each-1' AND key = 'k'"), "7");
  EXPECT_EQ(admin("SELECT status FROM keel.workflow_status WHERE workflow_id = 'each-1'"), "SUCCESS");
  // Each operation recorded once: step, transaction, set_event, send, recv
  // (its message was there), recv's deadline and recv, the last step.
  EXPECT_EQ(rt->list_steps("each-1").size(), 8u);
}

// The database refuses connections for a moment while a workflow waits in
// recv: its reads fail and are retried; the workflow neither fails nor loses
// its place, and receives the message sent once the database is back.
TEST_F(PostgresBackend, AWaitRidesOutAShortOutage) {
  std::atomic<int> waits{0};
  keel::testing::StopAtScopeEnd stop({&rt});
  auto config = keel::testing::test_config(dir);
  config.fault_hook = [&](std::string_view point) {
    if (point == "wait.begin") ++waits;
  };
  rt.reset();
  rt = std::make_unique<keel::Runtime>(config);
  auto wf = rt->register_workflow("waiter", [](keel::Context& ctx) { return ctx.recv<int>("t", 30s).value_or(-1); });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "w1"});
  ASSERT_TRUE(keel::testing::eventually([&] { return waits.load() > 0; }));
  // From the administrative database: the test's own is closed to everyone.
  const std::string url = keel::testing::test_database_url();
  const std::string db = keel::testing::detail::database_for(dir);
  keel::testing::pg_query(url, "ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
  keel::testing::pg_query(url, "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity WHERE datname = '" +
                                   db + "'");
  // The outage: the wait's status check (every 50 ms) and its reads fail
  // meanwhile; reads are retried with backoff for about 1.5 s.
  std::this_thread::sleep_for(300ms);
  keel::testing::pg_query(url, "ALTER DATABASE " + db + " ALLOW_CONNECTIONS true");
  rt->send("w1", 5, "t");
  EXPECT_EQ(h.result_for(30s), 5);
  EXPECT_EQ(rt->get_workflow("w1")->status, keel::WorkflowStatus::Success);
}

// A longer outage (4 s, beyond the ~1.5 s an operation retries): the
// workflow stops without failing, stays PENDING, and runs again by itself
// (parked for a retry, then replayed) once the database is back; nobody has
// to start it again or relaunch.
TEST_F(PostgresBackend, AWorkflowResumesByItselfAfterALongOutage) {
  std::atomic<int> steps_done{0};
  auto wf = rt->register_workflow("stepper", [&](keel::Context& ctx) {
    int sum = 0;
    for (int i = 0; i < 20; ++i) {
      sum += ctx.step("s" + std::to_string(i), [&] {
        effects.hit("s" + std::to_string(i));
        std::this_thread::sleep_for(50ms);
        ++steps_done;
        return i;
      });
    }
    return sum;
  });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "long-outage"});
  ASSERT_TRUE(keel::testing::eventually([&] { return steps_done.load() >= 5; }));
  const std::string url = keel::testing::test_database_url();
  const std::string db = keel::testing::detail::database_for(dir);
  keel::testing::pg_query(url, "ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
  keel::testing::pg_query(url, "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity WHERE datname = '" +
                                   db + "'");
  const auto outage_began = std::chrono::steady_clock::now();
  // A caller meanwhile is told the database is unavailable (an HTTP service
  // answers 503 from it), not a generic DatabaseError.
  EXPECT_THROW((void)rt->start(wf, {.workflow_id = "during-outage"}), keel::DatabaseUnavailableError);
  std::this_thread::sleep_until(outage_began + 4s);
  keel::testing::pg_query(url, "ALTER DATABASE " + db + " ALLOW_CONNECTIONS true");
  int result = -1;
  ASSERT_TRUE(keel::testing::eventually(
      [&] {
        try {
          result = h.result_for(1s);
          return true;
        } catch (const std::exception&) {  // timeouts, and reads while the pool reconnects
          return false;
        }
      },
      30s));
  EXPECT_EQ(result, 190);  // 0 + 1 + ... + 19
  EXPECT_EQ(rt->get_workflow("long-outage")->status, keel::WorkflowStatus::Success);
  for (int i = 0; i < 20; ++i) EXPECT_GE(effects.count("s" + std::to_string(i)), 1) << i;
}

TEST(PostgresUrl, AnUnreachableServerIsADatabaseUnavailableError) {
  keel::RuntimeConfig c;
  c.database_url = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2";
  EXPECT_THROW(keel::Runtime rt(c), keel::DatabaseUnavailableError);
}

}  // namespace
