// The fixture of the checkout's end-to-end tests (shop_e2e_test.cpp,
// shop_logs_e2e_test.cpp): the real `shop` and `payments` binaries, on free
// loopback ports, with fresh databases (SQLite files, or PostgreSQL
// databases when KEEL_TEST_DATABASE_URL is set), over real HTTP.
//
// After each scenario settles, check_rules() verifies the rules of
// spec/http.md against both services' state:
//   1. every charged order is fulfilled;
//   2. at most one payment session per order, at most one charge per session;
//   3. inventory + what held orders (reserving, awaiting_payment, fulfilled)
//      hold == the seeded 100000, for every product.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/http_service.hpp"
#include "common/webhook_signature.hpp"
#include "checkout_rules.hpp"
#include "e2e_support.hpp"
#include "support/temp_dir.hpp"
#include "support/test_databases.hpp"

namespace keel_shop_e2e {

using namespace std::chrono_literals;
using json = nlohmann::json;
using keel::apps::HttpClient;
using keel::apps::HttpClientResponse;
using keel::e2e::eventually;
using keel::e2e::free_port;
using keel::e2e::Process;

inline constexpr int64_t kSeed = 100000;

inline int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class ShopE2E : public ::testing::Test {
 protected:
  keel::testing::TempDir dir;
  const int pay_port = free_port();
  const int shop_port = free_port(/*pair=*/true);
  std::unique_ptr<Process> payments;
  std::unique_ptr<Process> shop;
  HttpClient http{{.connect_timeout = 2000ms, .read_timeout = 120000ms, .write_timeout = 30000ms}};

  void TearDown() override {
    if (HasFailure()) {
      if (shop) std::cerr << "---- shop log ----\n" << tail(shop->log()) << "\n";
      if (payments) std::cerr << "---- payments log ----\n" << tail(payments->log()) << "\n";
    }
    shop.reset();
    payments.reset();
  }

  static std::string tail(const std::string& s, size_t n = 6000) { return s.size() > n ? s.substr(s.size() - n) : s; }

  std::string pay_url() const { return "http://127.0.0.1:" + std::to_string(pay_port); }
  std::string shop_url() const { return "http://127.0.0.1:" + std::to_string(shop_port); }
  // SQLite files in the test's directory, or (KEEL_TEST_DATABASE_URL set)
  // PostgreSQL databases of their own on the test cluster. Not const: a
  // test may put them elsewhere before starting the services (the full-disk
  // tests put them on a small filesystem of their own).
  std::string shop_db_url = keel::testing::named_test_db_url(dir, "shop");
  std::string payments_db_url = keel::testing::named_test_db_url(dir, "payments");
  const std::string& shop_db() const { return shop_db_url; }
  const std::string& payments_db() const { return payments_db_url; }

  // A child dead before it is ready starts once more: a real fault fails twice.
  void wait_ready(Process& p, const std::string& url) {
    auto up = [&] {
      try { return !p.alive() || http.get(url).status == 200; } catch (const std::exception&) { return false; }
    };
    bool ok = eventually(up, 20s) && p.alive();
    if (!ok && !p.alive()) {
      std::cerr << "not ready: " << url << " (" << p.describe_exit() << "), starting it again\n";
      p.respawn();
      ok = eventually(up, 20s) && p.alive();
    }
    ASSERT_TRUE(ok) << "not ready: " << url << " (" << p.describe_exit() << ")\n" << tail(p.log());
  }

  void start_payments(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {PAYMENTS_BIN, "start", "--db", payments_db(), "--port",
                                     std::to_string(pay_port), "--admin-port", "-1", "--webhook-max-backoff", "1s"};
    args.insert(args.end(), extra.begin(), extra.end());
    payments = std::make_unique<Process>(args, dir.file("payments.log"));
    wait_ready(*payments, pay_url() + "/healthz");
  }

  void start_shop(const std::string& checkout_timeout = "30s", std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {SHOP_BIN,         "start",         "--db",    shop_db(),
                                     "--port",         std::to_string(shop_port), "--payments-url", pay_url(),
                                     "--checkout-timeout", checkout_timeout};
    args.insert(args.end(), extra.begin(), extra.end());
    shop = std::make_unique<Process>(args, dir.file("shop.log"));
    wait_ready(*shop, shop_url() + "/products");
  }

  // --- the shop's API ---
  HttpClientResponse checkout(const std::string& key, const std::string& body = "", bool as_json = true) {
    std::map<std::string, std::string> headers;
    if (as_json) headers["Accept"] = "application/json";
    return http.request("POST", shop_url() + "/checkout" + (key.empty() ? "" : "/" + key), headers, body);
  }
  json checkout_ok(const std::string& key, const std::string& body = "") {
    auto r = checkout(key, body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.json() : json::object();
  }
  json get_json(const std::string& url, int expect = 200) {
    auto r = http.get(url);
    EXPECT_EQ(r.status, expect) << url << ": " << r.body;
    return r.json();
  }
  json order(const std::string& id) { return get_json(shop_url() + "/orders/" + id); }
  std::string status_of(const std::string& id) {
    auto r = http.get(shop_url() + "/orders/" + id);
    return r.status == 200 ? r.json().value("status", "") : "http " + std::to_string(r.status);
  }
  bool wait_status(const std::string& id, const std::string& status, std::chrono::milliseconds timeout = 20s) {
    return eventually([&] { return status_of(id) == status; }, timeout);
  }
  int64_t inventory(int64_t product_id) {
    for (const auto& p : get_json(shop_url() + "/products"))
      if (p.at("product_id") == product_id) return p.at("inventory").get<int64_t>();
    ADD_FAILURE() << "no product " << product_id;
    return -1;
  }
  std::vector<json> all_orders() {
    std::vector<json> out;
    std::string after;
    for (int page = 0; page < 100; ++page) {
      json j = get_json(shop_url() + "/orders?limit=500" + (after.empty() ? "" : "&after=" + after));
      for (const auto& o : j.at("orders")) out.push_back(o);
      if (j.at("next").is_null()) break;
      after = j.at("next").get<std::string>();
    }
    return out;
  }

  // --- the payment service ---
  HttpClientResponse pay_action(const std::string& action, const std::string& session_id) {
    return http.post_json(pay_url() + "/api/" + action, {}, json{{"session_id", session_id}}.dump());
  }
  json session(const std::string& session_id) { return get_json(pay_url() + "/api/sessions/" + session_id); }
  std::vector<json> charges() {
    std::vector<json> out;
    std::string after;
    for (int page = 0; page < 100; ++page) {
      json j = get_json(pay_url() + "/api/charges?limit=500" + (after.empty() ? "" : "&after=" + after));
      for (const auto& c : j.at("charges")) out.push_back(c);
      if (j.at("next").is_null()) break;
      after = j.at("next").get<std::string>();
    }
    return out;
  }

  // --- webhooks signed by the test ---
  HttpClientResponse post_webhook(const std::string& body, const std::optional<std::string>& signature) {
    std::map<std::string, std::string> headers;
    if (signature) headers["Payment-Signature"] = *signature;
    return http.request("POST", shop_url() + "/payment_webhook", headers, body);
  }
  HttpClientResponse signed_webhook(const json& event, const std::string& secret = "whsec_dev",
                                    int64_t t = unix_now()) {
    std::string body = event.dump();
    return post_webhook(body, keel::apps::sign_webhook(secret, t, body));
  }
  static json event(const std::string& id, const std::string& type, const std::string& session_id,
                    const std::string& order_id) {
    return json{{"id", id}, {"type", type}, {"session_id", session_id}, {"client_reference_id", order_id},
                {"created", unix_now()}};
  }

  std::map<std::string, int> sessions_per_order() { return keel::e2e::sessions_per_order(payments_db()); }

  // --- the rules (checkout_rules.hpp) ---
  void check_rules() {
    keel::e2e::ShopSnapshot snap;
    snap.orders = all_orders();
    for (int64_t p : {1, 2}) snap.inventory[p] = inventory(p);
    snap.payments_known = payments && payments->alive();
    if (snap.payments_known) {
      snap.charges = charges();
      snap.sessions_per_order = sessions_per_order();
    }
    keel::e2e::check_checkout_rules(snap, kSeed);
  }

  bool shop_logged(const std::string& text) { return shop && shop->log().find(text) != std::string::npos; }
};

}  // namespace keel_shop_e2e
