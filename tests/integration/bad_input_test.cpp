// Unusable databases and corrupt stored data: a clear error, nothing lost.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::RuntimeTest;
using keel::testing::TempDir;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

keel::RuntimeConfig config_at(const std::string& url) {
  keel::RuntimeConfig c;
  c.database_url = url;
  c.poll_interval = 50ms;
  return c;
}

TEST(BadInput, AFileThatIsNotADatabaseIsRefusedAndLeftUntouched) {
  TempDir dir;
  std::string path = dir.file("notes.txt");
  std::string content(8192, 'x');
  std::ofstream(path, std::ios::binary) << content;
  EXPECT_THROW(keel::Runtime rt(config_at("sqlite:" + path)), keel::IncompatibleDatabaseError);
  EXPECT_EQ(read_file(path), content);
}

TEST(BadInput, AnUnwritablePathIsAClearError) {
  try {
    keel::Runtime rt(config_at("sqlite:/nonexistent-dir/sub/keel.db"));
    FAIL();
  } catch (const keel::DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/sub/keel.db"), std::string::npos) << e.what();
  }
}

TEST(BadInput, UnknownUrlSchemesAreConfigErrors) {
  EXPECT_THROW(keel::Runtime rt(config_at("mysql://x")), keel::ConfigError);
  EXPECT_THROW(keel::Runtime rt(config_at("sqlite:")), keel::ConfigError);
}

TEST(BadInput, ALeaseNotLongerThanTwoHeartbeatsIsAConfigError) {
  TempDir dir;
  auto cfg = config_at(dir.db_url());
  cfg.heartbeat_interval = std::chrono::milliseconds(500);
  cfg.lease_timeout = std::chrono::milliseconds(1000);
  try {
    keel::Runtime rt(cfg);
    FAIL();
  } catch (const keel::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("lease_timeout"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("keel.db")));  // nothing written
  cfg.heartbeat_interval = std::chrono::milliseconds(0);
  EXPECT_THROW(keel::Runtime rt(cfg), keel::ConfigError);
}

TEST(BadInput, ANewerSchemaIsRefused) {
  TempDir dir;
  { keel::Runtime rt(config_at(dir.db_url())); rt.launch(); }
  raw_sql(dir.file("keel.db"), "UPDATE keel_schema_version SET version = 999");
  EXPECT_THROW(keel::Runtime rt(config_at(dir.db_url())), keel::IncompatibleDatabaseError);
}

TEST(BadInput, AForeignTableWithOurNameFailsTheMigrationAndWritesNothing) {
  TempDir dir;
  raw_sql(dir.file("keel.db"), "CREATE TABLE keel_workflow_status (x INTEGER); INSERT INTO keel_workflow_status VALUES (1);");
  keel::Runtime rt(config_at(dir.db_url()));
  EXPECT_THROW(rt.launch(), keel::DatabaseError);
  sqlite3* db = nullptr;
  sqlite3_open(dir.file("keel.db").c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'keel_%'", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1);  // only the foreign table: the migration rolled back
  sqlite3_finalize(st);
  sqlite3_close(db);
}

using CorruptData = RuntimeTest;

TEST_F(CorruptData, MalformedStoredOutputFailsThatWorkflowClearlyAndOthersRecover) {
  auto make = [](keel::Runtime& r) {
    return r.register_workflow("w", [](keel::Context& ctx) {
      int a = ctx.step("a", [] { return 1; });
      return a + ctx.recv<int>("x", 30s).value_or(0);
    });
  };
  make(*rt);
  rt->launch();
  (void)rt->start(keel::Workflow<int>("w"), {.workflow_id = "good"});
  (void)rt->start(keel::Workflow<int>("w"), {.workflow_id = "bad"});
  for (int i = 0; i < 300 && (rt->list_steps("good").size() < 2 || rt->list_steps("bad").size() < 2); ++i)
    std::this_thread::sleep_for(10ms);
  rt.reset();
  raw_sql(dir.file("keel.db"),
          "UPDATE keel_operation_outputs SET output = '{not json' WHERE workflow_id = 'bad' AND function_id = 1");
  rt = std::make_unique<keel::Runtime>(keel::testing::test_config(dir));
  make(*rt);
  rt->launch();
  rt->send("good", 1, "x");
  EXPECT_EQ(rt->retrieve<int>("good").result_for(10s), 2);
  try {
    rt->retrieve<int>("bad").result_for(10s);
    FAIL();
  } catch (const keel::SerializationError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bad"), std::string::npos) << m;
    EXPECT_NE(m.find("malformed"), std::string::npos) << m;
  }
  // The corrupt row itself is kept for inspection.
  EXPECT_EQ(rt->list_steps("good").size(), 3u);
}

TEST_F(CorruptData, AnUnregisteredNameAtRecoveryIsReportedAndLeftPending) {
  rt->register_workflow("old_name", [](keel::Context& ctx) { return ctx.recv<int>("x", 30s).value_or(0); });
  rt->launch();
  (void)rt->start(keel::Workflow<int>("old_name"), {.workflow_id = "orphan"});
  for (int i = 0; i < 300 && rt->list_steps("orphan").empty(); ++i) std::this_thread::sleep_for(10ms);
  restart();
  rt->register_workflow("new_name", [](keel::Context&) { return 0; });
  auto report = rt->launch();
  ASSERT_EQ(report.not_recovered.size(), 1u);
  EXPECT_EQ(report.not_recovered[0].workflow_id, "orphan");
  EXPECT_NE(report.not_recovered[0].reason.find("old_name"), std::string::npos);
  auto info = rt->get_workflow("orphan");
  EXPECT_EQ(info->status, keel::WorkflowStatus::Pending);
  EXPECT_EQ(info->recovery_attempts, 0);
  EXPECT_EQ(rt->list_steps("orphan").size(), 1u);  // its checkpoint is intact
}

TEST_F(CorruptData, MalformedInputsAreReportedAtRecovery) {
  rt->register_workflow("in", [](keel::Context& ctx, int x) { return x + ctx.recv<int>("x", 30s).value_or(0); });
  rt->launch();
  (void)rt->start(keel::Workflow<int, int>("in"), {.workflow_id = "mangled"}, 1);
  for (int i = 0; i < 300 && rt->list_steps("mangled").empty(); ++i) std::this_thread::sleep_for(10ms);
  rt.reset();
  raw_sql(dir.file("keel.db"), "UPDATE keel_workflow_status SET inputs = '[1,' WHERE workflow_id = 'mangled'");
  rt = std::make_unique<keel::Runtime>(keel::testing::test_config(dir));
  rt->register_workflow("in", [](keel::Context& ctx, int x) { return x + ctx.recv<int>("x", 30s).value_or(0); });
  auto report = rt->launch();
  ASSERT_EQ(report.not_recovered.size(), 1u);
  EXPECT_NE(report.not_recovered[0].reason.find("malformed"), std::string::npos);
}

}  // namespace
