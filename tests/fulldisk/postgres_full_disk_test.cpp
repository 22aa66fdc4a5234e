// PostgreSQL whose data directory's filesystem fills: a throwaway cluster
// (scripts/pg-test-cluster.sh with KEEL_PG_DATA) on a 64 MiB tmpfs, a Runtime
// on it. What PostgreSQL 15 does, found by running it (docs/guarantees.md):
//  * a relation that cannot grow (a table or index file, ENOSPC) fails the
//    statement with SQLSTATE 53100 "could not extend file": the server stays
//    up, Keel throws StorageFullError, its workflows park and retry, and they
//    finish by themselves once space is freed;
//  * the WAL that cannot grow (a new segment, ENOSPC) is a PANIC: the server
//    crashes, its crash recovery fails for the same reason (FATAL), and the
//    postmaster shuts down. Nothing comes back until an operator frees space
//    and starts the server; then Keel reconnects by itself and loses nothing
//    it acknowledged (commits are flushed to the WAL before they answer).
// Root only (mount, and PostgreSQL runs as the `postgres` user); skipped when
// PostgreSQL is not installed.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "keel/keel.hpp"
#include "support/eventually.hpp"
#include "support/log_capture.hpp"
#include "support/sql_probe.hpp"
#include "support/temp_dir.hpp"
#include "throwaway_cluster.hpp"
#include "tmpfs_mount.hpp"

using namespace std::chrono_literals;

namespace {

using keel::StorageFullError;
using keel::WorkflowStatus;
using keel::testing::pg_exec;
using keel::testing::ThrowawayCluster;
using keel::testing::TmpfsMount;

// Loopback, apart from the suite's cluster (KEEL_PG_TEST_PORT), the failover
// test's pair and the shop's full-disk cluster; KEEL_FULLDISK_PG_PORT overrides it.
int pg_port() { return keel::testing::port_from_env("KEEL_FULLDISK_PG_PORT", 19396); }

size_t lines_with(keel::testing::LogCapture& log, const std::string& text) {
  size_t n = 0;
  for (const auto& l : log.lines()) n += l.find(text) != std::string::npos;
  return n;
}

class FullDiskPostgres : public ::testing::Test {
 protected:
  // Destroyed bottom-up: the runtime, the server, the mount, the directory.
  keel::testing::TempDir dir;
  std::unique_ptr<TmpfsMount> fs;
  std::unique_ptr<ThrowawayCluster> cluster;
  keel::testing::LogCapture log{keel::LogFormat::Text};
  std::unique_ptr<keel::Runtime> rt;

  void TearDown() override {
    if (HasFailure() && cluster) std::cerr << "---- server.log ----\n" << tail(cluster->server_log()) << "\n";
    rt.reset();
    cluster.reset();
    fs.reset();
  }
  static std::string tail(const std::string& s, size_t n = 4000) {
    return s.size() > n ? s.substr(s.size() - n) : s;
  }
  int64_t count(const std::string& sql_text) {
    return std::stoll(keel::testing::query_rows(cluster->url(), sql_text).at(0).at(0));
  }
};

TEST_F(FullDiskPostgres, DiskFullIsStorageFullAndAWalPanicLosesNothingAcknowledged) {
  if (auto why = keel::testing::throwaway_cluster_skip_reason(); !why.empty()) GTEST_SKIP() << why;
  ::chmod(dir.path().c_str(), 0711);  // the server (user postgres) reaches its data directory through it
  fs = std::make_unique<TmpfsMount>(dir.path() / "pg", "64m", "0755");
  if (!fs->mounted()) GTEST_SKIP() << fs->skip_reason();
  cluster = std::make_unique<ThrowawayCluster>(pg_port(), fs->file("data"), dir.file("cluster.log"));
  // Never fill (or crash) somebody else's server: the port must be free.
  ASSERT_FALSE(cluster->answers()) << "a server already listens on 127.0.0.1:" << pg_port()
                                   << " (set KEEL_FULLDISK_PG_PORT)";
  ASSERT_TRUE(cluster->start()) << cluster->script_log();

  keel::RuntimeConfig config;
  config.database_url = cluster->url();
  config.executor_id = "fulldisk-pg";
  config.poll_interval = 50ms;
  rt = std::make_unique<keel::Runtime>(config);
  rt->run_sql_write([](keel::Sql& sql) {
    sql.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, payload TEXT NOT NULL)");
  });
  std::atomic<bool> gate_open{false};
  auto order = rt->register_workflow("order", [&](keel::Context& ctx, std::string id, bool gated) {
    ctx.step("prepare", [&] {
      while (gated && !gate_open.load()) std::this_thread::sleep_for(10ms);
      return 1;
    });
    ctx.transaction("insert", [&](keel::Sql& sql) {
      // ~2 KB that does not compress: each order takes room.
      return sql.execute(
          "INSERT INTO orders (id, payload) SELECT $1, string_agg(md5(random()::text), '') FROM generate_series(1, 64)",
          {id});
    });
    return ctx.step("done", [&] { return id; });
  });
  rt->launch();

  std::set<std::string> finished;  // acknowledged: their result was received
  std::vector<std::string> started;
  auto run_orders = [&](const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string id = prefix + std::to_string(i);
      auto h = rt->start(order, {.workflow_id = id}, id, false);
      started.push_back(id);
      ASSERT_EQ(h.result_for(20s), id);
      finished.insert(id);
    }
  };
  run_orders("before-", 10);

  // --- 1. a table that cannot grow: SQLSTATE 53100, the server stays up -------
  std::vector<std::string> gated;
  for (int i = 0; i < 2; ++i) {
    gated.push_back("gated-" + std::to_string(i));
    (void)rt->start(order, {.workflow_id = gated.back()}, gated.back(), true);
  }
  // A fresh WAL segment while there is room, so that this part fills the
  // tables' files and not the WAL (that is part 2).
  pg_exec(cluster->admin_url(), "SELECT pg_switch_wal()");
  pg_exec(cluster->admin_url(), "CHECKPOINT");
  fs->fill("filler-1");
  std::string full_error;
  auto wait = 3000ms;
  for (int i = 0; i < 2000 && full_error.empty(); ++i) {
    const std::string id = "fill-" + std::to_string(i);
    try {
      auto h = rt->start(order, {.workflow_id = id}, id, false);
      started.push_back(id);
      EXPECT_EQ(h.result_for(wait), id);
      finished.insert(id);
    } catch (const StorageFullError& e) {
      full_error = e.what();
    } catch (const keel::TimeoutError&) {
      wait = 100ms;  // in flight: it met the full disk after its start
    }
  }
  ASSERT_FALSE(full_error.empty()) << "no StorageFullError";
  EXPECT_NE(full_error.find("53100"), std::string::npos) << full_error;
  std::cerr << "part 1: " << full_error << "\n";
  gate_open.store(true);
  EXPECT_TRUE(keel::testing::eventually([&] { return lines_with(log, "system database's disk is full") > 0; }, 15s))
      << "no log line names the full disk";
  EXPECT_TRUE(cluster->answers()) << "the server went down on a full data directory";
  for (const auto& id : gated) EXPECT_EQ(rt->get_workflow(id)->status, WorkflowStatus::Pending) << id;

  ASSERT_TRUE(fs->resize("96m"));  // space freed, nothing restarted
  for (const auto& id : gated) EXPECT_EQ(rt->retrieve<std::string>(id).result_for(30s), id) << id;
  for (const auto& id : started) {
    if (!finished.count(id)) {
      EXPECT_EQ(rt->retrieve<std::string>(id).result_for(30s), id) << id;
    }
  }
  for (const auto& id : gated) finished.insert(id);
  for (const auto& id : started) finished.insert(id);
  run_orders("between-", 3);

  // --- 2. the WAL that cannot grow: PANIC, and the server stays down ---------
  gate_open.store(false);
  std::vector<std::string> gated2;
  for (int i = 0; i < 2; ++i) {
    gated2.push_back("gated2-" + std::to_string(i));
    (void)rt->start(order, {.workflow_id = gated2.back()}, gated2.back(), true);
  }
  fs->fill("filler-2");
  // WAL reaching the end of its segment under load, made deterministic: each
  // switch needs a new segment file, which cannot be written.
  std::string wal_error;  // what the client was told
  int attempts = 0;       // none when another backend (a heartbeat) got there first
  for (int i = 0; i < 10 && cluster->answers(); ++i) {
    ++attempts;
    try {
      pg_exec(cluster->admin_url(), "SELECT pg_switch_wal()");
      pg_exec(cluster->admin_url(), "SELECT txid_current()");  // a WAL record in the new segment
    } catch (const std::exception& e) {
      std::cerr << "part 2: " << e.what() << "\n";
      wal_error += e.what();
    }
  }
  ASSERT_TRUE(keel::testing::eventually([&] { return !cluster->answers(); }, 20s))
      << "the server survived a WAL that could not grow";
  std::this_thread::sleep_for(1s);  // crash recovery has had its chance
  EXPECT_FALSE(cluster->answers()) << "the server recovered by itself on a full disk";
  // Whichever process first needed the new segment PANICked: this test's
  // client, one of Keel's (a heartbeat writes WAL too, and may do so before
  // this test's first attempt), or a background process (the WAL writer,
  // when the switches above found recycled segments and succeeded). The one
  // that caused it was told; the others lost their connection. The server's
  // own log is on the full filesystem: it may have lost the PANIC line and
  // kept only what followed, the crash recovery failing on the WAL too (a
  // FATAL of the startup process; CI saw exactly that once).
  const std::string panic = "PANIC:  could not write to file \"pg_wal/";
  const std::string wal_unwritable = "could not write to file \"pg_wal/";
  const bool told_here = wal_error.find(panic) != std::string::npos;
  const bool told_keel = lines_with(log, panic) > 0;
  const bool in_server_log = keel::testing::eventually(
      [&] { return cluster->server_log().find(wal_unwritable) != std::string::npos; }, 5s);
  const bool crashed_under_us = wal_error.find("server closed the connection unexpectedly") != std::string::npos;
  if (attempts > 0) {
    EXPECT_TRUE(told_here || told_keel || in_server_log || crashed_under_us) << "no sign of a PANIC: " << wal_error;
  }
  std::cerr << "part 2: " << attempts << " attempt(s); PANIC told to this client " << told_here << ", to Keel "
            << told_keel << ", WAL write failure in the server log " << in_server_log << "; connection lost " << crashed_under_us
            << "\n";
  // Keel meanwhile: the waiting workflows wake, meet a server that is gone,
  // and park (the process does not die, nothing is recorded).
  gate_open.store(true);
  EXPECT_THROW((void)rt->start(order, {.workflow_id = "while-down"}, std::string("while-down"), false),
               keel::DatabaseError);
  std::this_thread::sleep_for(2s);

  // The operator frees space and starts the server; Keel reconnects by itself.
  ASSERT_TRUE(fs->resize("160m"));
  ASSERT_TRUE(cluster->start()) << cluster->script_log() << tail(cluster->server_log());
  for (const auto& id : gated2) EXPECT_EQ(rt->retrieve<std::string>(id).result_for(60s), id) << id;
  finished.insert(gated2.begin(), gated2.end());
  run_orders("after-", 3);

  // Nothing acknowledged was lost; each transaction committed once.
  for (const auto& id : finished) {
    auto info = rt->get_workflow(id);
    ASSERT_TRUE(info.has_value()) << id << " was lost";
    EXPECT_EQ(info->status, WorkflowStatus::Success) << id;
  }
  EXPECT_EQ(count("SELECT count(*) FROM orders"), count("SELECT count(*) FROM keel.workflow_status WHERE status = 'SUCCESS'"));
  EXPECT_EQ(count("SELECT count(*) FROM keel.workflow_status WHERE status = 'SUCCESS'"),
            static_cast<int64_t>(finished.size()));
}

}  // namespace
