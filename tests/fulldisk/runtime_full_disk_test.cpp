// The library on a full disk (SQLite): a Runtime whose database lives on a
// 3 MiB tmpfs (tmpfs_mount.hpp) runs workflows until the filesystem is full.
// Asserts: writes fail with keel::StorageFullError (start() throws it); the
// workflows in flight stay PENDING, park and retry at a bounded rate, with a
// log line naming the full disk, instead of failing; once the filesystem
// grows (remount, no restart) they finish by themselves, new work runs, and
// every workflow that had finished is intact with its transaction's row
// exactly once.
//
// And on both backends (no disk filled): a StorageFullError raised inside a
// transaction's body is not recorded as the transaction's outcome; the
// transaction runs again and commits once.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "keel/admin_server.hpp"
#include "keel/keel.hpp"
#include "runtime/runtime_access.hpp"
#include "support/eventually.hpp"
#include "support/log_capture.hpp"
#include "support/runtime_fixture.hpp"
#include "support/temp_dir.hpp"
#include "tmpfs_mount.hpp"

using namespace std::chrono_literals;

namespace {

using keel::StorageFullError;
using keel::WorkflowStatus;
using keel::testing::TmpfsMount;

int64_t count(keel::Runtime& rt, const std::string& sql_text) {
  int64_t n = -1;
  rt.run_sql_read([&](keel::Sql& sql) { n = sql.query_one(sql_text)->get_int(0); });
  return n;
}

size_t lines_with(keel::testing::LogCapture& log, const std::string& text) {
  auto lines = log.lines();
  return static_cast<size_t>(
      std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; }));
}

class FullDiskRuntime : public ::testing::Test {
 protected:
  // Declared in this order so that the runtime closes its files before the
  // mount goes, and the mount goes before the directory is removed.
  keel::testing::TempDir dir;
  std::unique_ptr<TmpfsMount> fs;
  keel::testing::LogCapture log{keel::LogFormat::Text};
  std::unique_ptr<keel::Runtime> rt;

  void TearDown() override { rt.reset(); }
};

TEST_F(FullDiskRuntime, WritesFailWithStorageFullAndWorkflowsResumeWhenSpaceIsFreed) {
  fs = std::make_unique<TmpfsMount>(dir.path() / "fs", "3m");
  if (!fs->mounted()) GTEST_SKIP() << fs->skip_reason();

  keel::RuntimeConfig config;
  config.database_url = "sqlite:" + fs->file("keel.db");
  config.executor_id = "fulldisk";
  config.poll_interval = 50ms;
  rt = std::make_unique<keel::Runtime>(config);
  rt->run_sql_write([](keel::Sql& sql) {
    sql.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, payload BLOB NOT NULL)");
  });

  // Each order: a step, a transaction writing ~2 KB, a step. The gated ones
  // block in their first step until the disk is full, so that they are
  // surely in flight when it fills (their next write meets it).
  std::atomic<bool> gate_open{false};
  auto order = rt->register_workflow("order", [&](keel::Context& ctx, std::string id, bool gated) {
    ctx.step("prepare", [&] {
      while (gated && !gate_open.load()) std::this_thread::sleep_for(10ms);
      return 1;
    });
    ctx.transaction("insert", [&](keel::Sql& sql) {
      return sql.execute("INSERT INTO orders (id, payload) VALUES ($1, zeroblob(2000))", {id});
    });
    return ctx.step("done", [&] { return id; });
  });
  rt->launch();

  std::vector<std::string> gated;
  for (int i = 0; i < 3; ++i) {
    gated.push_back("gated-" + std::to_string(i));
    (void)rt->start(order, {.workflow_id = gated.back()}, gated.back(), true);
  }

  // Fill: orders one after the other until a write fails.
  std::set<std::string> finished;     // result received: acknowledged
  std::vector<std::string> started;   // start() returned: the ID is the caller's to rely on
  std::string full_error;
  std::string refused;  // the ID whose start() met the full disk
  auto wait = 5000ms;
  for (int i = 0; i < 5000 && full_error.empty(); ++i) {
    const std::string id = "w-" + std::to_string(i);
    try {
      auto h = rt->start(order, {.workflow_id = id}, id, false);
      started.push_back(id);
      EXPECT_EQ(h.result_for(wait), id);
      finished.insert(id);
    } catch (const StorageFullError& e) {
      full_error = e.what();
      refused = id;
    } catch (const keel::TimeoutError&) {
      wait = 200ms;  // it met the full disk after its start: in flight, keep filling
    }
  }
  ASSERT_FALSE(full_error.empty()) << "the 3 MiB filesystem never filled";
  EXPECT_NE(full_error.find("storage full"), std::string::npos) << full_error;
  EXPECT_GT(finished.size(), 5u) << "the disk filled almost at once: the test proves little";
  std::cerr << finished.size() << " orders finished before the disk filled (" << fs->free_bytes()
            << " bytes free): " << full_error << "\n";

  // Full: the gated workflows wake and meet it. They stay PENDING (parked),
  // never ERROR, and retry at a bounded rate.
  gate_open.store(true);
  EXPECT_FALSE(rt->get_workflow(refused).has_value()) << "the refused start left a row";
  ASSERT_TRUE(keel::testing::eventually(
      [&] { return lines_with(log, "system database's disk is full") > 0; }, 15s))
      << "no log line names the full disk";
  const size_t lines_before = lines_with(log, "system database's disk is full");
  std::this_thread::sleep_for(3s);
  const size_t parked_lines = lines_with(log, "system database's disk is full") - lines_before;
  // Each parked workflow runs again about once a second: 3 s is ~3 lines
  // each, not a busy loop (allow a margin for the fill phase's stragglers).
  const size_t in_flight = gated.size() + (started.size() - finished.size());
  EXPECT_LE(parked_lines, in_flight * 6) << in_flight << " workflows in flight";
  // (A small commit may still fit in WAL pages a failed larger one had
  // allocated, so a gated workflow may get one step further; none fails.)
  size_t pending = 0;
  for (const auto& id : gated) {
    auto info = rt->get_workflow(id);
    ASSERT_TRUE(info.has_value()) << id;
    EXPECT_NE(info->status, WorkflowStatus::Error) << id;
    pending += info->status == WorkflowStatus::Pending;
  }
  EXPECT_GT(pending, 0u) << "no workflow in flight met the full disk";
  for (const auto& id : started) EXPECT_NE(rt->get_workflow(id)->status, WorkflowStatus::Error) << id;
  // The process says so (Runtime::storage_full_since, gauge keel_storage_full).
  const auto full_since = rt->storage_full_since();
  ASSERT_TRUE(full_since.has_value()) << "workflows parked on the full disk, storage_full_since() says nothing";
  EXPECT_LE(*full_since, std::chrono::system_clock::now());
  EXPECT_NE(keel::detail::RuntimeAccess::metrics_text(*rt).find("keel_storage_full 1"), std::string::npos);

  // Space is freed, without a restart: everything in flight finishes.
  ASSERT_TRUE(fs->resize("64m"));
  for (const auto& id : gated) EXPECT_EQ(rt->retrieve<std::string>(id).result_for(30s), id) << id;
  for (const auto& id : started) {
    if (!finished.count(id)) {
      EXPECT_EQ(rt->retrieve<std::string>(id).result_for(30s), id) << id;
    }
  }
  EXPECT_FALSE(rt->storage_full_since().has_value()) << "still full after workflows finished";
  // New work runs, including the ID that was refused while full.
  EXPECT_EQ(rt->start(order, {.workflow_id = refused}, refused, false).result_for(10s), refused);
  EXPECT_EQ(rt->start(order, {.workflow_id = "after"}, std::string("after"), false).result_for(10s), "after");

  // Nothing acknowledged is lost; each transaction committed exactly once.
  const int64_t workflows = static_cast<int64_t>(gated.size() + started.size() + 2);
  for (const auto& id : finished) {
    auto info = rt->get_workflow(id);
    ASSERT_TRUE(info.has_value()) << id;
    EXPECT_EQ(info->status, WorkflowStatus::Success) << id;
  }
  EXPECT_EQ(count(*rt, "SELECT count(*) FROM orders"), workflows);
  EXPECT_EQ(count(*rt, "SELECT count(*) FROM keel_workflow_status WHERE status = 'SUCCESS'"), workflows);
}

// The admin server's writes meet the full disk too: 503 storage_full with
// Retry-After and a JSON body (never a 500), and they work again once space
// is freed, without a restart.
TEST_F(FullDiskRuntime, TheAdminServerAnswers503StorageFullAndRecovers) {
  fs = std::make_unique<TmpfsMount>(dir.path() / "fs", "3m");
  if (!fs->mounted()) GTEST_SKIP() << fs->skip_reason();
  keel::RuntimeConfig config;
  config.database_url = "sqlite:" + fs->file("keel.db");
  config.executor_id = "fulldisk-admin";
  config.poll_interval = 50ms;
  rt = std::make_unique<keel::Runtime>(config);
  auto waiter = rt->register_workflow("waiter", [](keel::Context& ctx) {
    ctx.step("begin", [] { return 1; });
    return ctx.recv<int>("go", 1h).value_or(0);
  });
  rt->launch();
  (void)rt->start(waiter, {.workflow_id = "original"});
  ASSERT_TRUE(keel::testing::eventually([&] { return rt->list_steps("original").size() == 1; }, 10s));
  keel::AdminServer admin(*rt);
  admin.start();
  httplib::Client http("127.0.0.1", admin.port());

  fs->fill("filler");
  // Each fork inserts a workflow and its copied records: once the WAL's
  // spare pages are used up, one meets the full disk.
  std::optional<httplib::Result> full;
  for (int i = 0; i < 200 && !full; ++i) {
    auto r = http.Post("/workflows/original/restart", "{}", "application/json");
    ASSERT_TRUE(r) << "no answer";
    ASSERT_NE(r->status, 500) << r->body;
    if (r->status == 503) full.emplace(std::move(r));
  }
  ASSERT_TRUE(full.has_value()) << "no fork met the full disk";
  const auto& reply = **full;
  EXPECT_EQ(nlohmann::json::parse(reply.body).at("error"), "storage_full") << reply.body;
  EXPECT_TRUE(reply.has_header("Retry-After"));

  std::filesystem::remove(fs->file("filler"));
  auto after = http.Post("/workflows/original/restart", "{}", "application/json");
  ASSERT_TRUE(after);
  EXPECT_LT(after->status, 300) << after->body;
  rt->send("original", 1, "go");
  EXPECT_EQ(rt->retrieve<int>("original").result_for(10s), 1);
}

// --- on both backends: a full disk inside a transaction's body -----------------

class FullDiskTransactionBody : public keel::testing::RuntimeTest {};

TEST_F(FullDiskTransactionBody, AStorageFullErrorInTheBodyIsNotItsOutcomeAndItRunsAgain) {
  rt->run_sql_write([](keel::Sql& sql) { sql.execute("CREATE TABLE IF NOT EXISTS marks (n INTEGER)"); });
  std::atomic<int> runs{0};
  auto wf = rt->register_workflow("writer", [&](keel::Context& ctx) {
    return ctx.transaction("write", [&](keel::Sql& sql) {
      sql.execute("INSERT INTO marks (n) VALUES (1)");
      if (runs.fetch_add(1) < 2) {
        // PostgreSQL: the server's own disk_full (SQLSTATE 53100), classified
        // by the connection. SQLite cannot raise SQLITE_FULL from SQL: throw it.
        if (sql.dialect() == "postgresql")
          sql.execute("DO $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' "
                      "USING ERRCODE = 'disk_full'; END $$");
        else
          throw StorageFullError("storage full (no space left for the database): test");
      }
      return 42;
    });
  });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "tx"});
  EXPECT_EQ(h.result_for(30s), 42);
  EXPECT_GE(runs.load(), 3);
  int64_t marks = -1;
  rt->run_sql_read([&](keel::Sql& sql) { marks = sql.query_one("SELECT count(*) FROM marks")->get_int(0); });
  EXPECT_EQ(marks, 1) << "the failed runs' writes were not rolled back, or the last one committed twice";
}

}  // namespace
