// The shop's checkout under keel::testing::sweep_crashes (keel/crash_sweep.hpp):
// the real checkout workflow (apps/shop) against the real payment service
// (a `payments` process), killed at every checkpoint commit, recovered, and
// checked against the checkout's three rules after each crash:
//   1. never charge without fulfilling; 2. never charge twice (one session,
//   at most one charge); 3. inventory reserved iff the order is fulfilled.
// The customer pays right after the session is created and the webhook is
// never delivered (no shop server listens), so the order is decided at its
// deadline by expiring the session: the path where a lost webhook must not
// lose a paid order. A second sweep abandons the cart: cancelled, not charged,
// stock back. Both backends (postgres.CheckoutSweep.* on PostgreSQL).
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "common/app_locks.hpp"
#include "common/http_service.hpp"
#include "e2e_support.hpp"
#include "keel/crash_sweep.hpp"
#include "shop/checkout.hpp"
#include "support/sql_probe.hpp"
#include "support/temp_dir.hpp"
#include "support/test_databases.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace shop = keel::apps::shop;

namespace {

constexpr int64_t kSeed = 100000;  // shop::store::migrate's inventory of product 1
constexpr int64_t kQuantity = 2;

class CheckoutSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    payments_ = std::make_unique<keel::e2e::Process>(
        std::vector<std::string>{PAYMENTS_BIN, "start", "--db", payments_db_, "--port", std::to_string(pay_port_),
                                 "--admin-port", "-1", "--webhook-max-backoff", "1s"},
        dir_.file("payments.log"));
    ASSERT_TRUE(keel::e2e::eventually(
        [&] {
          try {
            return http_.get(pay_url() + "/healthz").status == 200;
          } catch (const std::exception&) {
            return false;
          }
        },
        20s))
        << payments_->log();
  }

  std::string pay_url() const { return "http://127.0.0.1:" + std::to_string(pay_port_); }

  // One order per case: its ID from the case's database, so that the payment
  // service (shared by the cases) sees a new order each time.
  static std::string order_of(keel::Runtime& rt) {
    return "order-" + std::to_string(std::hash<std::string>{}(rt.config().database_url) % 1000000007);
  }

  keel::testing::CrashSweep sweep(bool customer_pays) {
    settings_.payments_url = pay_url();
    settings_.webhook_url = "http://127.0.0.1:9/payment_webhook";  // nobody listens: the webhook is lost
    settings_.checkout_timeout = 800ms;
    keel::testing::CrashSweep s;
    s.config.executor_id = "shop";
    s.config.poll_interval = 20ms;
    s.case_timeout = 90s;
    s.database_url = [this](int n) { return keel::testing::named_test_db_url(dir_, "shop" + std::to_string(n)); };
    s.setup = [this](keel::Runtime& rt) {
      shop::register_checkout_error_types();
      (void)shop::register_checkout(rt, api_, settings_);
      keel::apps::run_app_migration(rt, shop::store::migrate);
    };
    s.start = [this, customer_pays](keel::Runtime& rt) {
      const std::string id = order_of(rt);
      shop::CheckoutRequest cart{{{1, kQuantity}}};
      (void)rt.start(keel::Workflow<std::string, shop::CheckoutRequest>(shop::kCheckoutWorkflow),
                     {.workflow_id = id}, cart);
      auto session = rt.get_event<json>(id, shop::kSessionEvent, 30s);
      if (!customer_pays || !session || !session->contains("session_id")) return;
      // Submitting again (a recovering child) returns the same charge, or 409
      // once the session expired: the customer's retry changes nothing.
      (void)http_.post_json(pay_url() + "/api/submit_payment", {},
                            json{{"session_id", session->at("session_id")}}.dump());
    };
    s.check = [this, customer_pays](keel::Runtime& rt, const keel::testing::CrashCase& c) {
      const std::string id = order_of(rt);
      std::string status;
      int64_t inventory = -1;
      rt.run_sql_read([&](keel::Sql& sql) {
        auto order = shop::store::get_order(sql, id);
        status = order ? order->status : "(none)";
        inventory = sql.query_one("SELECT inventory FROM shop_products WHERE product_id = 1")->get_int(0);
      });
      const int sessions = count(payments_db_, "pay_sessions", id);
      const int charges = count(payments_db_, "pay_charges", id);
      EXPECT_EQ(status, customer_pays ? "fulfilled" : "cancelled") << id;
      EXPECT_EQ(charges, customer_pays ? 1 : 0) << "rules 1 and 2: " << id;
      EXPECT_EQ(sessions, 1) << "rule 2: " << id;
      EXPECT_EQ(inventory, customer_pays ? kSeed - kQuantity : kSeed) << "rule 3: " << id;
      EXPECT_LE(c.runs_of("create_payment_session"), 2) << "one run, and one more after a crash before its record";
      if (::testing::Test::HasFailure()) throw std::runtime_error("a rule is broken in order " + id);
    };
    return s;
  }

  static int count(const std::string& db, const std::string& table, const std::string& order_id) {
    auto rows = keel::testing::query_rows(
        db, "SELECT COUNT(*) FROM " + table + " WHERE client_reference_id = '" + order_id + "'");
    return std::stoi(rows.at(0).at(0));
  }

  keel::testing::TempDir dir_;
  const std::string payments_db_ = keel::testing::named_test_db_url(dir_, "payments");
  const int pay_port_ = keel::e2e::free_port();
  std::unique_ptr<keel::e2e::Process> payments_;
  keel::apps::HttpClient http_{{.connect_timeout = 2000ms, .read_timeout = 30000ms, .write_timeout = 30000ms}};
  shop::HttpPaymentsApi api_{3s, 10s};
  shop::CheckoutSettings settings_;
};

TEST_F(CheckoutSweep, APaidCheckoutWhoseWebhookIsLostKeepsTheRulesAtEveryCrashPoint) {
  auto report = keel::testing::sweep_crashes(sweep(/*customer_pays=*/true));
  EXPECT_TRUE(report.ok()) << report.summary() << payments_->log();
  EXPECT_GE(report.hits["checkpoint.after_commit"], 5) << report.summary();
  int crashed = 0;
  for (const auto& c : report.cases) crashed += c.crashed;
  EXPECT_GE(crashed, 8) << report.summary();
  std::cout << report.summary();
}

TEST_F(CheckoutSweep, AnAbandonedCheckoutIsCancelledUnchargedWithItsStockBackAtEveryCrashPoint) {
  auto s = sweep(/*customer_pays=*/false);
  s.points = {"checkpoint.after_commit"};
  auto report = keel::testing::sweep_crashes(s);
  EXPECT_TRUE(report.ok()) << report.summary() << payments_->log();
  std::cout << report.summary();
}

}  // namespace
