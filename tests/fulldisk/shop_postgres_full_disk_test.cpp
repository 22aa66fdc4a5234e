// The checkout on a full disk again, on PostgreSQL: the real `shop` and
// `payments` binaries, each with a database of its own on one throwaway
// cluster (throwaway_cluster.hpp) whose data directory is a 160 MiB tmpfs.
// Once the filesystem is full, a table that cannot grow fails its statement
// with SQLSTATE 53100 and the server stays up (postgres_full_disk_test.cpp
// shows that, and the WAL PANIC this test keeps away from: a fresh WAL
// segment is made before the fill). Asserts, as on SQLite
// (shop_full_disk_test.cpp): 503 with Retry-After and {"error":
// "storage_full"}, never 500; reads still answer; then, once space is freed
// (neither the services nor the server restarted), the refused request
// goes through when repeated, new checkouts are paid and fulfilled, the
// checkouts in flight finish, every acknowledged checkout is intact, and the
// three rules hold. A second test lets the WAL fill: the server PANICs and
// stays down until the operator frees space and starts it.
#include <sys/stat.h>

#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "full_disk_shop_fixture.hpp"
#include "throwaway_cluster.hpp"
#include "tmpfs_mount.hpp"

using namespace keel_shop_e2e;
using keel::testing::pg_exec;

namespace {

class FullDiskShopPostgres : public FullDiskShopFixture {
 protected:
  std::unique_ptr<keel::testing::TmpfsMount> fs;
  std::unique_ptr<keel::testing::ThrowawayCluster> cluster;

  void TearDown() override {
    if (HasFailure() && cluster) {
      const std::string log = cluster->server_log();
      std::cerr << "---- server.log ----\n" << (log.size() > 4000 ? log.substr(log.size() - 4000) : log) << "\n";
    }
    FullDiskShopFixture::TearDown();  // the services, then the server, then the mount
    cluster.reset();
    fs.reset();
  }

  // Both services, each with a database on one throwaway cluster whose data
  // directory is a 160 MiB tmpfs, on its own port ($port_env, else
  // fallback_port: FullDiskPostgres (19396) and the other test here may run
  // at the same time). Skips without root or PostgreSQL.
  void start_on_small_cluster(const char* port_env, int fallback_port) {
    if (auto why = keel::testing::throwaway_cluster_skip_reason(); !why.empty()) GTEST_SKIP() << why;
    ::chmod(dir.path().c_str(), 0711);  // the server (user postgres) reaches its data directory through it
    fs = std::make_unique<keel::testing::TmpfsMount>(dir.path() / "pg", "160m", "0755");
    if (!fs->mounted()) GTEST_SKIP() << fs->skip_reason();
    const int port = keel::testing::port_from_env(port_env, fallback_port);
    cluster = std::make_unique<keel::testing::ThrowawayCluster>(port, fs->file("data"), dir.file("cluster.log"));
    ASSERT_FALSE(cluster->answers()) << "a server already listens on 127.0.0.1:" << port << " (set " << port_env
                                     << ")";
    ASSERT_TRUE(cluster->start()) << cluster->script_log();
    pg_exec(cluster->admin_url(), "CREATE DATABASE shop");
    pg_exec(cluster->admin_url(), "CREATE DATABASE payments");
    shop_db_url = cluster->url("shop");
    payments_db_url = cluster->url("payments");
    start_payments();
    start_shop("60s");
  }
};


TEST_F(FullDiskShopPostgres, AnswersStorageFullThenResumesWithoutARestart) {
  ASSERT_NO_FATAL_FAILURE(start_on_small_cluster("KEEL_FULLDISK_SHOP_PG_PORT", 19397));
  if (IsSkipped()) return;
  for (int i = 0; i < 3; ++i) {
    json o = checkout_ok("before-" + std::to_string(i));
    ASSERT_TRUE(o.contains("session_id"));
  }

  // A fresh WAL segment (16 MiB, written whole when made) while there is
  // room: what follows fills the tables' files, not the WAL.
  pg_exec(cluster->admin_url(), "SELECT pg_switch_wal()");
  pg_exec(cluster->admin_url(), "CHECKPOINT");
  fs->fill("filler");

  Fill fill = fill_until_refused(2000);
  auto& [acknowledged, unanswered, refused_key, refused] = fill;
  ASSERT_FALSE(refused_key.empty()) << "no storage_full answer; " << acknowledged.size() << " acknowledged, "
                                    << fs->free_bytes() << " bytes free";
  std::cerr << acknowledged.size() << " checkouts acknowledged, " << unanswered.size()
            << " in flight before the disk filled; refused: " << refused_key << ": " << refused.body << "\n";
  EXPECT_GT(std::atoi(refused.header("retry-after").value_or("0").c_str()), 0) << "no Retry-After";
  EXPECT_FALSE(refused.json().value("message", "").empty());
  EXPECT_TRUE(eventually([&] { return shop_logged("disk is full"); }, 10s)) << "no log line names the full disk";
  EXPECT_TRUE(cluster->answers()) << "the server went down on a full data directory";
  EXPECT_EQ(quick.get(shop_url() + "/orders/before-0").status, 200) << "reads stopped on the full disk";

  // The payment service on the same full disk: its payment goes through (a
  // page with room) or is refused with the same 503; never a 500.
  const std::string before_sid = order("before-0").at("session_id").get<std::string>();
  auto p = quick.post_json(pay_url() + "/api/submit_payment", {}, json{{"session_id", before_sid}}.dump());
  std::cerr << "submit_payment while full: " << p.status << " " << p.body << "\n";
  EXPECT_TRUE(p.status == 200 || is_storage_full(p)) << p.status << " " << p.body;
  EXPECT_TRUE(shop->alive() && payments->alive()) << "a service died on the full disk";

  // Space is freed; neither the services nor the server restart.
  ASSERT_TRUE(fs->resize("320m"));
  repeat_refused_checkout(fill);

  if (p.status != 200) {  // refused while full: repeated, as the 503 invited
    EXPECT_TRUE(eventually([&] { return pay_action("submit_payment", before_sid).status == 200; }, 30s));
  }
  json fresh = checkout_ok("after-full");
  ASSERT_TRUE(fresh.contains("session_id"));
  EXPECT_TRUE(eventually([&] { return pay_action("submit_payment", fresh.at("session_id").get<std::string>()).status == 200; }, 30s));
  EXPECT_TRUE(wait_status("after-full", "fulfilled", 30s)) << status_of("after-full");
  EXPECT_TRUE(wait_status("before-0", "fulfilled", 30s)) << status_of("before-0");

  for (const auto& [id, sid] : acknowledged) EXPECT_EQ(order(id).value("session_id", json()), json(sid)) << id;
  for (const auto& id : unanswered)
    EXPECT_TRUE(eventually([&] { return status_of(id) != "reserving"; }, 60s)) << id << ": " << status_of(id);
  check_rules();
}

// The WAL that cannot grow, under the checkout: the server PANICs and stays
// down (postgres_full_disk_test.cpp shows it for the library). Both services
// stay up and answer 503 (database_unavailable, or storage_full from a
// workflow that met the full disk first), never 500. Once the operator
// frees space and starts the server, they reconnect by themselves (neither
// is restarted): the refused checkout goes through when repeated, every
// acknowledged checkout is intact, new ones are paid and fulfilled, and the
// three rules hold.
TEST_F(FullDiskShopPostgres, AWalPanicLosesNoAcknowledgedCheckout) {
  ASSERT_NO_FATAL_FAILURE(start_on_small_cluster("KEEL_FULLDISK_SHOP_WAL_PG_PORT", 19398));
  if (IsSkipped()) return;
  std::map<std::string, std::string> acknowledged;  // order -> session
  for (int i = 0; i < 4; ++i) {
    const std::string id = "before-" + std::to_string(i);
    acknowledged[id] = checkout_ok(id).at("session_id").get<std::string>();
  }
  ASSERT_EQ(pay_action("submit_payment", acknowledged["before-0"]).status, 200);
  ASSERT_TRUE(wait_status("before-0", "fulfilled", 30s)) << status_of("before-0");

  // Every WAL switch needs a new segment file, which cannot be written.
  fs->fill("filler");
  for (int i = 0; i < 10 && cluster->answers(); ++i) {
    try {
      pg_exec(cluster->admin_url(), "SELECT pg_switch_wal()");
      pg_exec(cluster->admin_url(), "SELECT txid_current()");
    } catch (const std::exception& e) {
      std::cerr << "WAL: " << e.what() << "\n";
    }
  }
  ASSERT_TRUE(eventually([&] { return !cluster->answers(); }, 20s)) << "the server survived a WAL that could not grow";

  // While the server is down: 503 with Retry-After, never 500; both stay up.
  auto is_unavailable = [](const HttpClientResponse& r) {
    try {
      const std::string error = r.json().value("error", "");
      return r.status == 503 && r.header("retry-after").has_value() &&
             (error == "database_unavailable" || error == "storage_full");
    } catch (const std::exception&) {
      return false;
    }
  };
  auto down = quick.request("POST", shop_url() + "/checkout/while-down", {{"Accept", "application/json"}}, "");
  EXPECT_TRUE(is_unavailable(down)) << down.status << " " << down.body;
  auto read = quick.get(shop_url() + "/orders/before-1");
  EXPECT_TRUE(is_unavailable(read)) << read.status << " " << read.body;
  auto pay = quick.post_json(pay_url() + "/api/submit_payment", {},
                             json{{"session_id", acknowledged["before-1"]}}.dump());
  EXPECT_TRUE(is_unavailable(pay)) << pay.status << " " << pay.body;
  EXPECT_TRUE(shop->alive() && payments->alive()) << "a service died with its database";

  // The operator frees space and starts the server; nothing else restarts.
  ASSERT_TRUE(fs->resize("320m"));
  ASSERT_TRUE(cluster->start()) << cluster->script_log();
  HttpClientResponse again;
  EXPECT_TRUE(eventually([&] {
    again = checkout("while-down");
    return again.status == 200;
  }, 30s)) << again.status << " " << again.body;
  for (const auto& [id, sid] : acknowledged) EXPECT_EQ(order(id).value("session_id", json()), json(sid)) << id;
  EXPECT_TRUE(eventually([&] { return pay_action("submit_payment", acknowledged["before-1"]).status == 200; }, 30s));
  EXPECT_TRUE(wait_status("before-1", "fulfilled", 30s)) << status_of("before-1");
  json fresh = checkout_ok("after-panic");
  EXPECT_EQ(pay_action("submit_payment", fresh.at("session_id").get<std::string>()).status, 200);
  EXPECT_TRUE(wait_status("after-panic", "fulfilled", 30s)) << status_of("after-panic");
  EXPECT_EQ(status_of("before-0"), "fulfilled");
  check_rules();
}

}  // namespace
