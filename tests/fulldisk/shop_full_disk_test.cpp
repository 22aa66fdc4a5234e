// The checkout on a full disk, end to end: the real `shop` and `payments`
// binaries with both SQLite databases on one 3 MiB tmpfs (tmpfs_mount.hpp).
// Checkouts run until the filesystem is full. Asserts: the services answer
// 503 with Retry-After and {"error": "storage_full"} (not 500): the shop's
// checkout, and the payment service's submit_payment while full; reads still
// answer, the shop's log names the full disk; then, once the filesystem grows
// (remount, neither service restarted): the refused checkout succeeds when
// repeated with its key, new checkouts and payments succeed, the checkouts in
// flight finish, every acknowledged checkout is intact, and the checkout's
// three rules hold (check_rules).
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "full_disk_shop_fixture.hpp"
#include "tmpfs_mount.hpp"

using namespace keel_shop_e2e;

namespace {

class FullDiskShop : public FullDiskShopFixture {
 protected:
  std::unique_ptr<keel::testing::TmpfsMount> fs;

  void TearDown() override {
    FullDiskShopFixture::TearDown();  // the services first: they hold files on the mount
    fs.reset();
  }
};

TEST_F(FullDiskShop, AnswersStorageFullThenResumesWithoutARestart) {
  if (keel::testing::testing_on_postgres()) GTEST_SKIP() << "SQLite only (the PostgreSQL case has its own test)";
  fs = std::make_unique<keel::testing::TmpfsMount>(dir.path() / "fs", "3m");
  if (!fs->mounted()) GTEST_SKIP() << fs->skip_reason();
  shop_db_url = "sqlite:" + fs->file("shop.db");
  payments_db_url = "sqlite:" + fs->file("payments.db");
  start_payments();
  start_shop("60s");

  std::set<std::string> paid;  // submit_payment answered 200
  Fill fill = fill_until_refused(600, [&](int i, const std::string& key, const std::string& sid)
                                          -> std::optional<HttpClientResponse> {
    if (i % 3 != 0) return std::nullopt;
    auto p = quick.post_json(pay_url() + "/api/submit_payment", {}, json{{"session_id", sid}}.dump());
    if (p.status == 200) paid.insert(key);
    return p;  // refused: the payment service's answer, the same contract
  });
  auto& [acknowledged, unanswered, refused_key, refused] = fill;
  ASSERT_FALSE(refused_key.empty()) << "no storage_full answer; " << acknowledged.size() << " checkouts acknowledged, "
                                    << fs->free_bytes() << " bytes free";
  std::cerr << acknowledged.size() << " checkouts acknowledged, " << paid.size() << " paid, " << unanswered.size()
            << " in flight before the disk filled; refused: " << refused_key << ": " << refused.body << "\n";
  EXPECT_EQ(refused.status, 503);
  const std::string retry_after = refused.header("retry-after").value_or("");
  EXPECT_FALSE(retry_after.empty()) << "no Retry-After";
  EXPECT_GT(std::atoi(retry_after.c_str()), 0) << retry_after;
  EXPECT_EQ(refused.json().at("error"), "storage_full");
  EXPECT_FALSE(refused.json().value("message", "").empty());
  EXPECT_TRUE(eventually([&] { return shop_logged("disk is full") || payments->log().find("disk is full") != std::string::npos; }, 10s))
      << "no log line names the full disk";

  // While full, reads still answer: an acknowledged order is there.
  if (!acknowledged.empty()) {
    auto r = quick.get(shop_url() + "/orders/" + acknowledged.begin()->first);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  // The payment service on the same full disk: a payment either goes
  // through (a small commit may still fit in WAL pages a failed one had
  // allocated) or is refused with the same 503; never a 500.
  for (const auto& [id, sid] : acknowledged) {
    if (paid.count(id)) continue;
    auto p = quick.post_json(pay_url() + "/api/submit_payment", {}, json{{"session_id", sid}}.dump());
    std::cerr << "submit_payment while full: " << p.status << " " << p.body << "\n";
    if (p.status == 200) {
      paid.insert(id);
    } else {
      EXPECT_TRUE(is_storage_full(p)) << p.status << " " << p.body;
      EXPECT_TRUE(p.header("retry-after").has_value());
    }
    break;
  }
  EXPECT_TRUE(shop->alive() && payments->alive()) << "a service died on the full disk";

  // Space is freed; neither service restarts.
  ASSERT_TRUE(fs->resize("64m"));

  // The refused request, repeated as the 503 invited: it goes through.
  const bool refused_checkout = acknowledged.count(refused_key) == 0;
  if (refused_checkout) {
    repeat_refused_checkout(fill);
  } else {
    HttpClientResponse again;
    EXPECT_TRUE(eventually([&] {
      again = pay_action("submit_payment", acknowledged[refused_key]);
      return again.status == 200;
    }, 30s)) << again.status << " " << again.body;
    if (again.status == 200) paid.insert(refused_key);
  }
  // New work: a checkout, paid, fulfilled.
  json fresh = checkout_ok("after-full");
  ASSERT_TRUE(fresh.contains("session_id"));
  ASSERT_EQ(pay_action("submit_payment", fresh.at("session_id").get<std::string>()).status, 200);
  paid.insert("after-full");
  acknowledged["after-full"] = fresh.at("session_id").get<std::string>();
  EXPECT_TRUE(wait_status("after-full", "fulfilled", 30s)) << status_of("after-full");

  // Every acknowledged checkout is intact (its session unchanged); paid ones
  // are fulfilled; the ones in flight leave "reserving" (they finish their
  // way: a session, or a failure that gives the inventory back).
  for (const auto& [id, sid] : acknowledged) {
    json o = order(id);
    EXPECT_EQ(o.value("session_id", json()), json(sid)) << id;
    if (paid.count(id)) {
      EXPECT_TRUE(wait_status(id, "fulfilled", 30s)) << id << ": " << status_of(id);
    }
  }
  for (const auto& id : unanswered)
    EXPECT_TRUE(eventually([&] {
      return status_of(id) != "reserving";  // (404: refused before its start, nothing to finish)
    }, 60s)) << id << ": " << status_of(id);
  check_rules();
}

}  // namespace
