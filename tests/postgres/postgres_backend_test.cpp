// PostgreSQL-specific behaviour of the system database: lost connections,
// concurrent migrators, schema version checks, the SQL dialect. Runs only
// with KEEL_TEST_DATABASE_URL set to a postgresql:// URL (ctest -L postgres).
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <thread>
#include <vector>

#include "support/runtime_fixture.hpp"

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
  // and readers), as a server restart or a network cut would.
  void kill_sessions() {
    admin("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
          "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  }
};

TEST_F(PostgresBackend, TablesLiveInTheKeelSchema) {
  rt->launch();
  EXPECT_EQ(admin("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'keel'"), "6");
  EXPECT_EQ(admin("SELECT version FROM keel.schema_version"), "2");
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

TEST(PostgresUrl, AnUnreachableServerIsADatabaseError) {
  keel::RuntimeConfig c;
  c.database_url = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2";
  EXPECT_THROW(keel::Runtime rt(c), keel::DatabaseError);
}

}  // namespace
