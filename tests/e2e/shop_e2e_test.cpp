// End-to-end tests of the checkout: the real `shop` and `payments` binaries
// over HTTP (the fixture and the rules it checks: shop_e2e_fixture.hpp).
#include "shop_e2e_fixture.hpp"

using namespace keel_shop_e2e;

namespace {

// --- the happy path and its mirror ------------------------------------------

TEST_F(ShopE2E, PaidCheckoutIsFulfilledAndKeepsItsInventory) {
  start_payments();
  start_shop();

  // As the tutorial shows it: text with two ready curl commands.
  auto text = checkout("order-1", "", /*as_json=*/false);
  ASSERT_EQ(text.status, 200) << text.body;
  EXPECT_NE(text.header("content-type").value_or("").find("text/plain"), std::string::npos);
  EXPECT_NE(text.body.find("Submit payment:\ncurl -X POST " + pay_url() + "/api/submit_payment"), std::string::npos)
      << text.body;
  EXPECT_NE(text.body.find("Cancel payment:\ncurl -X POST " + pay_url() + "/api/cancel_payment"), std::string::npos)
      << text.body;

  // The same key with Accept: application/json: the same checkout, as JSON.
  json j = checkout_ok("order-1");
  EXPECT_EQ(j.at("order_id"), "order-1");
  EXPECT_EQ(j.at("amount_cents"), 9999);
  const std::string sid = j.at("session_id").get<std::string>();
  ASSERT_FALSE(sid.empty());
  EXPECT_NE(text.body.find(sid), std::string::npos);
  EXPECT_FALSE(j.at("payment_url").get<std::string>().empty());
  EXPECT_EQ(j.at("submit_payment").at("url"), pay_url() + "/api/submit_payment");
  EXPECT_EQ(j.at("submit_payment").at("body"), json({{"session_id", sid}}));
  EXPECT_EQ(j.at("cancel_payment").at("url"), pay_url() + "/api/cancel_payment");

  json o = order("order-1");
  EXPECT_EQ(o.at("status"), "awaiting_payment");
  EXPECT_EQ(o.at("session_id"), sid);
  EXPECT_EQ(o.at("items"), json::parse(R"([{"product_id":1,"quantity":1,"price_cents":9999}])"));
  EXPECT_EQ(inventory(1), kSeed - 1);
  EXPECT_EQ(session(sid).at("amount_cents"), 9999);

  auto paid = pay_action("submit_payment", sid);
  ASSERT_EQ(paid.status, 200) << paid.body;
  ASSERT_TRUE(wait_status("order-1", "fulfilled")) << status_of("order-1");
  EXPECT_EQ(inventory(1), kSeed - 1);
  auto ch = charges();
  ASSERT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch[0].at("client_reference_id"), "order-1");
  EXPECT_TRUE(eventually([&] { return shop_logged("Checkout order-1 succeeded"); }, 5s));

  // The admin server listens on port + 1 and knows the workflow.
  auto health = http.get("http://127.0.0.1:" + std::to_string(shop_port + 1) + "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  auto wf = http.get("http://127.0.0.1:" + std::to_string(shop_port + 1) + "/workflows/order-1");
  EXPECT_EQ(wf.status, 200) << wf.body;
  check_rules();
}

TEST_F(ShopE2E, CancelledPaymentGivesTheInventoryBack) {
  start_payments();
  start_shop();
  json j = checkout_ok("multi", R"({"items":[{"product_id":1,"quantity":2},{"product_id":2,"quantity":3}]})");
  EXPECT_EQ(j.at("amount_cents"), 2 * 9999 + 3 * 8999);
  EXPECT_EQ(inventory(1), kSeed - 2);
  EXPECT_EQ(inventory(2), kSeed - 3);
  auto r = pay_action("cancel_payment", j.at("session_id").get<std::string>());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(wait_status("multi", "cancelled")) << status_of("multi");
  EXPECT_EQ(inventory(1), kSeed);
  EXPECT_EQ(inventory(2), kSeed);
  EXPECT_TRUE(eventually([&] { return shop_logged("Checkout multi failed or timed out"); }, 5s));
  EXPECT_TRUE(charges().empty());
  check_rules();
}

TEST_F(ShopE2E, AbandonedCheckoutIsCancelledAndItsSessionExpired) {
  start_payments();
  start_shop("2s");
  json j = checkout_ok("abandoned");
  const std::string sid = j.at("session_id").get<std::string>();
  EXPECT_EQ(inventory(1), kSeed - 1);
  ASSERT_TRUE(wait_status("abandoned", "cancelled", 20s)) << status_of("abandoned");
  EXPECT_EQ(session(sid).at("payment_status"), "expired");
  EXPECT_EQ(order("abandoned").value("failure", ""), "checkout_timeout");
  EXPECT_EQ(inventory(1), kSeed);
  // Paying after the checkout gave up is refused: no charge without an order.
  auto late = pay_action("submit_payment", sid);
  EXPECT_EQ(late.status, 409) << late.body;
  EXPECT_TRUE(charges().empty());
  EXPECT_TRUE(eventually([&] { return shop_logged("Checkout abandoned failed or timed out"); }, 5s));
  check_rules();
}

TEST_F(ShopE2E, PaymentWhoseWebhookNeverArrivesIsFulfilledAtTheDeadline) {
  start_payments();
  // The shop's secret differs from the payment service's: every real webhook
  // is refused (400), as if lost. The deadline's expire call finds it paid.
  start_shop("3s", {"--webhook-secret", "whsec_not_the_payment_service_one"});
  json j = checkout_ok("lost-webhook");
  const std::string sid = j.at("session_id").get<std::string>();
  auto paid = pay_action("submit_payment", sid);
  ASSERT_EQ(paid.status, 200) << paid.body;
  EXPECT_TRUE(eventually([&] { return shop_logged("payment_webhook: rejected"); }, 10s));
  EXPECT_EQ(status_of("lost-webhook"), "awaiting_payment");
  ASSERT_TRUE(wait_status("lost-webhook", "fulfilled", 20s)) << status_of("lost-webhook");
  EXPECT_EQ(session(sid).at("payment_status"), "paid");
  EXPECT_EQ(inventory(1), kSeed - 1);
  EXPECT_TRUE(eventually([&] { return shop_logged("Checkout lost-webhook succeeded"); }, 5s));
  check_rules();
}

// --- refusals -----------------------------------------------------------------

TEST_F(ShopE2E, OutOfStockIs409AndReservesNothing) {
  start_payments();
  start_shop();
  const std::string body = R"({"items":[{"product_id":1,"quantity":5},{"product_id":2,"quantity":100001}]})";
  for (int i = 0; i < 2; ++i) {  // the same key again: the same answer
    auto r = checkout("too-many", body);
    ASSERT_EQ(r.status, 409) << r.body;
    EXPECT_EQ(r.json().at("error"), "out_of_stock");
    EXPECT_FALSE(r.json().value("message", "").empty());
  }
  EXPECT_EQ(inventory(1), kSeed);  // the first line was not kept either
  EXPECT_EQ(inventory(2), kSeed);
  json o = order("too-many");
  EXPECT_EQ(o.at("status"), "failed");
  EXPECT_TRUE(o.at("session_id").is_null());
  EXPECT_EQ(sessions_per_order().count("too-many"), 0u);
  EXPECT_TRUE(eventually([&] { return shop_logged("Checkout too-many failed or timed out"); }, 5s));
  // Exactly what is left can still be bought.
  json ok = checkout_ok("all-of-it", R"({"items":[{"product_id":2,"quantity":100000}]})");
  EXPECT_EQ(inventory(2), 0);
  EXPECT_EQ(checkout("one-more", R"({"items":[{"product_id":2,"quantity":1}]})").status, 409);
  check_rules();
}

TEST_F(ShopE2E, PaymentServiceDownIs503AfterTenSecondsOfRetriesAndHoldsNothing) {
  start_shop();  // nothing listens on pay_port
  auto t0 = std::chrono::steady_clock::now();
  auto r = checkout("down-1");
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.json().at("error"), "payment_unavailable");
  EXPECT_GE(took, 10s) << "gave up too early";
  EXPECT_EQ(status_of("down-1"), "failed");
  EXPECT_EQ(inventory(1), kSeed);
  EXPECT_TRUE(shop_logged("Checkout down-1 failed or timed out"));

  // The same key: the same answer, at once, even once the service is back.
  start_payments();
  auto t1 = std::chrono::steady_clock::now();
  auto again = checkout("down-1");
  EXPECT_EQ(again.status, 503) << again.body;
  EXPECT_EQ(again.json().at("error"), "payment_unavailable");
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 3s);
  // A new key is a new checkout.
  checkout_ok("down-2");
  EXPECT_EQ(sessions_per_order().count("down-1"), 0u);
  check_rules();
}

TEST_F(ShopE2E, PaymentServiceRestartDoesNotFailTheCheckout) {
  start_shop();  // the payment service is "restarting": down for ~3 s
  std::atomic<int> status{0};
  std::string body;
  std::thread client([&] {
    auto r = checkout("during-restart");
    body = r.body;
    status = r.status;
  });
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(status.load(), 0) << "answered while the payment service was down: " << body;
  start_payments();
  client.join();
  ASSERT_EQ(status.load(), 200) << body;
  EXPECT_EQ(status_of("during-restart"), "awaiting_payment");
  EXPECT_EQ(sessions_per_order()["during-restart"], 1);
  check_rules();
}

// --- idempotency ------------------------------------------------------------------

TEST_F(ShopE2E, DuplicateAndConcurrentClicksMakeOneOrderAndOneSession) {
  start_payments();
  start_shop();
  const std::string body = R"({"items":[{"product_id":2,"quantity":2}]})";
  std::vector<std::thread> clicks;
  std::mutex mu;
  std::vector<std::pair<int, std::string>> answers;
  for (int i = 0; i < 12; ++i)
    clicks.emplace_back([&] {
      HttpClient c({.connect_timeout = 2000ms, .read_timeout = 120000ms, .write_timeout = 30000ms});
      auto r = c.request("POST", shop_url() + "/checkout/dup-click", {{"Accept", "application/json"}}, body);
      std::lock_guard lock(mu);
      answers.emplace_back(r.status, r.body);
    });
  for (auto& t : clicks) t.join();
  std::set<std::string> sessions;
  for (const auto& [st, b] : answers) {
    ASSERT_EQ(st, 200) << b;
    sessions.insert(json::parse(b).at("session_id").get<std::string>());
  }
  for (int i = 0; i < 3; ++i) sessions.insert(checkout_ok("dup-click", body).at("session_id").get<std::string>());
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(inventory(2), kSeed - 2);
  EXPECT_EQ(all_orders().size(), 1u);
  EXPECT_EQ(sessions_per_order()["dup-click"], 1);

  // Paying twice charges once.
  const std::string sid = *sessions.begin();
  auto p1 = pay_action("submit_payment", sid);
  auto p2 = pay_action("submit_payment", sid);
  ASSERT_EQ(p1.status, 200) << p1.body;
  ASSERT_EQ(p2.status, 200) << p2.body;
  EXPECT_EQ(p1.json().at("charge_id"), p2.json().at("charge_id"));
  ASSERT_TRUE(wait_status("dup-click", "fulfilled")) << status_of("dup-click");
  EXPECT_EQ(charges().size(), 1u);
  EXPECT_EQ(inventory(2), kSeed - 2);
  check_rules();
}

TEST_F(ShopE2E, SameKeyWithAnotherBodyIs409AndChangesNothing) {
  start_payments();
  start_shop();
  json first = checkout_ok("reused", R"({"items":[{"product_id":1,"quantity":1}]})");
  auto r = checkout("reused", R"({"items":[{"product_id":1,"quantity":3}]})");
  ASSERT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.json().at("error"), "idempotency_key_reused");
  // No body means one unit of product 1: the same request as the first.
  EXPECT_EQ(checkout("reused").status, 200);
  EXPECT_EQ(order("reused").at("items"), json::parse(R"([{"product_id":1,"quantity":1,"price_cents":9999}])"));
  EXPECT_EQ(inventory(1), kSeed - 1);

  // Without a key, every click is a new order with a fresh id.
  json a = checkout_ok("");
  json b = checkout_ok("");
  EXPECT_NE(a.at("order_id"), b.at("order_id"));
  EXPECT_NE(a.at("session_id"), b.at("session_id"));
  EXPECT_EQ(inventory(1), kSeed - 3);

  // The longest key allowed (its payment idempotency key is longer than the
  // payment service accepts: the shop shortens it).
  std::string longest(255, 'k');
  json l = checkout_ok(longest);
  EXPECT_EQ(l.at("order_id"), longest);
  EXPECT_EQ(checkout_ok(longest).at("session_id"), l.at("session_id"));
  check_rules();
}

// --- webhooks -----------------------------------------------------------------------

TEST_F(ShopE2E, ForgedStaleAndMalformedWebhooksAre400AndChangeNothing) {
  start_payments();
  start_shop();
  json j = checkout_ok("victim");
  const std::string sid = j.at("session_id").get<std::string>();
  const json ev = event("evt_forged", "payment.succeeded", sid, "victim");
  const std::string body = ev.dump();
  const int64_t now = unix_now();

  struct Case {
    std::string name, body;
    std::optional<std::string> signature;
  };
  std::vector<Case> cases = {
      {"missing signature", body, std::nullopt},
      {"empty signature", body, ""},
      {"wrong secret", body, keel::apps::sign_webhook("whsec_guess", now, body)},
      {"stale timestamp", body, keel::apps::sign_webhook("whsec_dev", now - 301, body)},
      // Well past the 300 s tolerance: the shop's clock (whole seconds) reads later than `now`.
      {"future timestamp", body, keel::apps::sign_webhook("whsec_dev", now + 360, body)},
      {"garbage header", body, "garbage"},
      {"no v1", body, "t=" + std::to_string(now)},
      {"body changed after signing", event("evt_forged", "payment.succeeded", sid, "victim").dump() + " ",
       keel::apps::sign_webhook("whsec_dev", now, body)},
      {"signed garbage body", "not json", keel::apps::sign_webhook("whsec_dev", now, "not json")},
  };
  json no_session = ev;
  no_session.erase("session_id");
  json bad_created = ev;
  bad_created["created"] = "yesterday";
  json not_object = json::array({ev});
  for (const json& m : {no_session, bad_created, not_object})
    cases.push_back({"malformed event " + m.dump(), m.dump(), keel::apps::sign_webhook("whsec_dev", now, m.dump())});

  for (const auto& c : cases) {
    auto r = post_webhook(c.body, c.signature);
    EXPECT_EQ(r.status, 400) << c.name << ": " << r.body;
    EXPECT_TRUE(r.json().contains("error")) << c.name;
  }
  // A valid signature for another session of this order, or for an unknown
  // order: acknowledged (so it is not redelivered forever) and ignored.
  EXPECT_EQ(signed_webhook(event("evt_other", "payment.succeeded", "cs_someone_else", "victim")).status, 200);
  EXPECT_EQ(signed_webhook(event("evt_ghost", "payment.succeeded", sid, "no-such-order")).status, 200);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(status_of("victim"), "awaiting_payment");
  EXPECT_EQ(inventory(1), kSeed - 1);
  EXPECT_TRUE(charges().empty());

  // The real payment still goes through.
  ASSERT_EQ(pay_action("submit_payment", sid).status, 200);
  ASSERT_TRUE(wait_status("victim", "fulfilled")) << status_of("victim");
  check_rules();
}

TEST_F(ShopE2E, ReplayedLateAndReorderedWebhooksHaveOneEffect) {
  start_payments();
  start_shop();
  // A paid order, then its event again (replayed), then a contradicting late one.
  json paid = checkout_ok("paid-order");
  const std::string paid_sid = paid.at("session_id").get<std::string>();
  ASSERT_EQ(pay_action("submit_payment", paid_sid).status, 200);
  ASSERT_TRUE(wait_status("paid-order", "fulfilled")) << status_of("paid-order");
  json events = session(paid_sid).at("events");
  ASSERT_EQ(events.size(), 1u) << events.dump();
  const std::string real_id = events[0].at("id").get<std::string>();
  const std::string updated = order("paid-order").at("updated_at").get<std::string>();
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(signed_webhook(event(real_id, "payment.succeeded", paid_sid, "paid-order")).status, 200);
  EXPECT_EQ(signed_webhook(event("evt_late_cancel", "payment.cancelled", paid_sid, "paid-order")).status, 200);

  // A cancelled order, then a success event arriving out of order after it.
  json cancelled = checkout_ok("cancelled-order", R"({"items":[{"product_id":2,"quantity":4}]})");
  const std::string cancelled_sid = cancelled.at("session_id").get<std::string>();
  ASSERT_EQ(pay_action("cancel_payment", cancelled_sid).status, 200);
  ASSERT_TRUE(wait_status("cancelled-order", "cancelled")) << status_of("cancelled-order");
  EXPECT_EQ(inventory(2), kSeed);
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(signed_webhook(event("evt_reordered", "payment.succeeded", cancelled_sid, "cancelled-order")).status,
              200);

  std::this_thread::sleep_for(1s);
  EXPECT_EQ(status_of("paid-order"), "fulfilled");
  EXPECT_EQ(order("paid-order").at("updated_at"), updated);
  EXPECT_EQ(status_of("cancelled-order"), "cancelled");
  EXPECT_EQ(inventory(1), kSeed - 1);
  EXPECT_EQ(inventory(2), kSeed);  // released once, not twice
  EXPECT_EQ(charges().size(), 1u);
  check_rules();
}

// --- the contract's 4xx -----------------------------------------------------------

TEST_F(ShopE2E, EveryContract4xxIsJsonAndChangesNothing) {
  start_payments();
  start_shop();
  struct Case {
    std::string name, method, path, body;
    int status;
    std::string error;  // expected code; empty: any
  };
  std::string lines101 = R"({"items":[)";
  for (int i = 0; i < 101; ++i) lines101 += std::string(i ? "," : "") + R"({"product_id":1,"quantity":1})";
  lines101 += "]}";
  std::string huge = R"({"items":[{"product_id":1,"quantity":1}],"pad":")" + std::string(1024 * 1024, 'x') + "\"}";
  const std::vector<Case> cases = {
      {"key too long", "POST", "/checkout/" + std::string(256, 'a'), "", 400, "invalid_key"},
      {"key with a space", "POST", "/checkout/a%20b", "", 400, "invalid_key"},
      {"key with !", "POST", "/checkout/a!b", "", 400, "invalid_key"},
      {"key with unicode", "POST", "/checkout/caf%C3%A9", "", 400, "invalid_key"},
      {"malformed json", "POST", "/checkout/k1", "{", 400, "invalid_json"},
      {"not an object", "POST", "/checkout/k1", "[]", 400, ""},
      {"no items", "POST", "/checkout/k1", "{}", 400, ""},
      {"items not an array", "POST", "/checkout/k1", R"({"items":"pen"})", 400, ""},
      {"empty items", "POST", "/checkout/k1", R"({"items":[]})", 400, ""},
      {"101 lines", "POST", "/checkout/k1", lines101, 400, ""},
      {"quantity 0", "POST", "/checkout/k1", R"({"items":[{"product_id":1,"quantity":0}]})", 400, ""},
      {"quantity -1", "POST", "/checkout/k1", R"({"items":[{"product_id":1,"quantity":-1}]})", 400, ""},
      {"quantity 1.5", "POST", "/checkout/k1", R"({"items":[{"product_id":1,"quantity":1.5}]})", 400, ""},
      {"quantity string", "POST", "/checkout/k1", R"({"items":[{"product_id":1,"quantity":"1"}]})", 400, ""},
      {"quantity 2^64", "POST", "/checkout/k1", R"({"items":[{"product_id":1,"quantity":18446744073709551616}]})",
       400, ""},
      {"quantity 2^63", "POST", "/checkout/k1", R"({"items":[{"product_id":1,"quantity":9223372036854775808}]})",
       400, ""},
      {"no quantity", "POST", "/checkout/k1", R"({"items":[{"product_id":1}]})", 400, ""},
      {"line not an object", "POST", "/checkout/k1", R"({"items":[1]})", 400, ""},
      {"unknown product", "POST", "/checkout/k1", R"({"items":[{"product_id":3,"quantity":1}]})", 400,
       "unknown_product"},
      {"product 0", "POST", "/checkout/k1", R"({"items":[{"product_id":0,"quantity":1}]})", 400, ""},
      {"body over 1 MiB", "POST", "/checkout/k1", huge, 413, ""},
      {"webhook over 1 MiB", "POST", "/payment_webhook", huge, 413, ""},
      {"unsigned webhook", "POST", "/payment_webhook", "{}", 400, ""},
      {"unknown route", "GET", "/nope", "", 404, ""},
      {"unknown order", "GET", "/orders/nope", "", 404, ""},
      {"GET checkout", "GET", "/checkout/k1", "", 405, ""},
      {"DELETE orders", "DELETE", "/orders", "", 405, ""},
      {"POST products", "POST", "/products", "", 405, ""},
      {"limit 0", "GET", "/orders?limit=0", "", 400, ""},
      {"limit 501", "GET", "/orders?limit=501", "", 400, ""},
      {"limit abc", "GET", "/orders?limit=abc", "", 400, ""},
      {"limit -1", "GET", "/orders?limit=-1", "", 400, ""},
      {"bad status", "GET", "/orders?status=paid", "", 400, ""},
      {"bad cursor", "GET", "/orders?after=xyz", "", 400, ""},
  };
  for (const auto& c : cases) {
    HttpClientResponse r;
    ASSERT_NO_THROW(r = http.request(c.method, shop_url() + c.path, {{"Accept", "application/json"}}, c.body))
        << c.name;
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body.substr(0, 300);
    json j;
    ASSERT_NO_THROW(j = json::parse(r.body)) << c.name << ": not JSON: " << r.body.substr(0, 300);
    EXPECT_TRUE(j.contains("error") && j["error"].is_string()) << c.name;
    EXPECT_TRUE(j.contains("message") && j["message"].is_string()) << c.name;
    if (!c.error.empty()) {
      EXPECT_EQ(j.value("error", ""), c.error) << c.name;
    }
  }
  EXPECT_TRUE(all_orders().empty());
  EXPECT_EQ(inventory(1), kSeed);
  EXPECT_EQ(inventory(2), kSeed);
  EXPECT_TRUE(sessions_per_order().empty());
  // The boundaries themselves are accepted.
  std::string lines100 = R"({"items":[)";
  for (int i = 0; i < 100; ++i) lines100 += std::string(i ? "," : "") + R"({"product_id":2,"quantity":1})";
  lines100 += "]}";
  EXPECT_EQ(checkout_ok("Az09._:-", lines100).at("amount_cents"), 100 * 8999);
  EXPECT_EQ(inventory(2), kSeed - 100);
  check_rules();
}

TEST_F(ShopE2E, OrdersArePagedAndFilteredAndProductsListed) {
  start_payments();
  start_shop();
  json products = get_json(shop_url() + "/products");
  EXPECT_EQ(products, json::parse(R"([{"product_id":1,"name":"Pen","price_cents":9999,"inventory":100000},
                                      {"product_id":2,"name":"Pencil","price_cents":8999,"inventory":100000}])"));
  for (const char* k : {"o1", "o2", "o3"}) checkout_ok(k);
  ASSERT_EQ(pay_action("cancel_payment", order("o2").at("session_id").get<std::string>()).status, 200);
  ASSERT_TRUE(wait_status("o2", "cancelled"));

  json page1 = get_json(shop_url() + "/orders?limit=2");
  ASSERT_EQ(page1.at("orders").size(), 2u);
  EXPECT_EQ(page1.at("orders")[0].at("order_id"), "o1");
  EXPECT_EQ(page1.at("orders")[1].at("order_id"), "o2");
  ASSERT_TRUE(page1.at("next").is_string());
  json page2 = get_json(shop_url() + "/orders?limit=2&after=" + page1.at("next").get<std::string>());
  ASSERT_EQ(page2.at("orders").size(), 1u);
  EXPECT_EQ(page2.at("orders")[0].at("order_id"), "o3");
  EXPECT_TRUE(page2.at("next").is_null());
  json cancelled = get_json(shop_url() + "/orders?status=cancelled");
  ASSERT_EQ(cancelled.at("orders").size(), 1u);
  EXPECT_EQ(cancelled.at("orders")[0].at("order_id"), "o2");
  json awaiting = get_json(shop_url() + "/orders?status=awaiting_payment");
  EXPECT_EQ(awaiting.at("orders").size(), 2u);
  for (const char* field : {"order_id", "status", "items", "amount_cents", "session_id", "created_at", "updated_at"})
    EXPECT_TRUE(page1.at("orders")[0].contains(field)) << field;
  check_rules();
}

// --- crashes -------------------------------------------------------------------------

TEST_F(ShopE2E, ShopKilledWhileAwaitingPaymentFulfilsAfterRestart) {
  start_payments();
  start_shop();
  json j = checkout_ok("crash-wait");
  const std::string sid = j.at("session_id").get<std::string>();
  shop->kill9();
  // Paid while the shop is down: the webhook fails and is retried.
  ASSERT_EQ(pay_action("submit_payment", sid).status, 200);
  std::this_thread::sleep_for(1500ms);
  start_shop();
  ASSERT_TRUE(wait_status("crash-wait", "fulfilled", 30s)) << status_of("crash-wait");
  // The same key after the crash: the same answer.
  EXPECT_EQ(checkout_ok("crash-wait").at("session_id"), sid);
  EXPECT_EQ(inventory(1), kSeed - 1);
  EXPECT_EQ(charges().size(), 1u);
  check_rules();
}

// Two shop processes (executors shop-a and shop-b) on one database: they
// start at the same instant (their migrations serialise), share orders and
// idempotency keys, and when shop-a is SIGKILLed with a checkout waiting for
// its payment, shop-b takes that checkout over once shop-a's lease expires
// and, with no webhook able to reach the dead shop, decides it at the
// checkout timeout: paid, so fulfilled.
TEST_F(ShopE2E, TwoShopsShareOneDatabaseAndTakeOverAKilledOne) {
  start_payments();
  const int port_b = free_port(/*pair=*/true);
  const std::string url_b = "http://127.0.0.1:" + std::to_string(port_b);
  auto shop_args = [&](int port, const std::string& id) {
    return std::vector<std::string>{SHOP_BIN,  "start", "--db", shop_db(), "--port", std::to_string(port),
                                    "--payments-url", pay_url(), "--checkout-timeout", "12s", "--executor-id", id};
  };
  shop = std::make_unique<Process>(shop_args(shop_port, "shop-a"), dir.file("shop.log"));
  auto shop_b = std::make_unique<Process>(shop_args(port_b, "shop-b"), dir.file("shop-b.log"));
  wait_ready(*shop, shop_url() + "/products");
  wait_ready(*shop_b, url_b + "/products");
  auto status_on_b = [&](const std::string& id) {
    auto r = http.get(url_b + "/orders/" + id);
    return r.status == 200 ? r.json().value("status", "") : "http " + std::to_string(r.status);
  };
  json first = checkout_ok("two-1");
  auto again = http.request("POST", url_b + "/checkout/two-1", {{"Accept", "application/json"}}, "");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json().at("session_id"), first.at("session_id"));  // one order, one session
  ASSERT_EQ(pay_action("submit_payment", first.at("session_id").get<std::string>()).status, 200);
  ASSERT_TRUE(eventually([&] { return status_on_b("two-1") == "fulfilled"; }, 20s)) << status_on_b("two-1");
  json waiting = checkout_ok("two-2");
  shop->kill9();
  ASSERT_EQ(pay_action("submit_payment", waiting.at("session_id").get<std::string>()).status, 200);
  EXPECT_TRUE(eventually([&] { return status_on_b("two-2") == "fulfilled"; }, 60s)) << status_on_b("two-2");
  // shop-a back with its id: it finds nothing of its own left to run.
  shop = std::make_unique<Process>(shop_args(shop_port, "shop-a"), dir.file("shop.log"));
  wait_ready(*shop, shop_url() + "/products");
  EXPECT_EQ(status_of("two-2"), "fulfilled");
  EXPECT_EQ(inventory(1), kSeed - 2);
  EXPECT_EQ(charges().size(), 2u);
  check_rules();
  if (HasFailure()) std::cerr << "---- shop-b log ----\n" << tail(shop_b->log()) << "\n";
}

TEST_F(ShopE2E, ShopKilledWhileCreatingTheSessionRecoversWithOneSession) {
  start_shop();  // payment service down: the checkout is retrying its session step
  std::thread client([&] {
    try {
      (void)checkout("crash-create");
    } catch (const std::exception&) {  // its connection dies with the shop
    }
  });
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(status_of("crash-create"), "reserving");
  EXPECT_EQ(inventory(1), kSeed - 1);
  shop->kill9();
  client.join();
  start_payments();
  start_shop();  // recovery resumes the checkout at its session step
  json j = checkout_ok("crash-create");
  const std::string sid = j.at("session_id").get<std::string>();
  EXPECT_EQ(status_of("crash-create"), "awaiting_payment");
  EXPECT_EQ(sessions_per_order()["crash-create"], 1);
  ASSERT_EQ(pay_action("submit_payment", sid).status, 200);
  ASSERT_TRUE(wait_status("crash-create", "fulfilled")) << status_of("crash-create");
  check_rules();
}

TEST_F(ShopE2E, ShopKilledRepeatedlyDuringCheckoutsKeepsTheRules) {
  start_payments();
  start_shop("3s");
  // Several checkouts in every stage; the shop dies by SIGKILL between each
  // round and recovers; at the end every order is settled by the rules.
  std::vector<std::string> keys;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3; ++i) {
      std::string key = "r" + std::to_string(round) + "-" + std::to_string(i);
      keys.push_back(key);
      json j = checkout_ok(key, R"({"items":[{"product_id":1,"quantity":2},{"product_id":2,"quantity":1}]})");
      if (j.empty()) continue;
      std::string sid = j.at("session_id").get<std::string>();
      if (i == 0) (void)pay_action("submit_payment", sid);
      if (i == 1) (void)pay_action("cancel_payment", sid);
      // i == 2: abandoned, times out
    }
    shop->kill9();
    start_shop("3s");
  }
  for (const auto& k : keys) {
    char which = k.back();
    const char* want = which == '0' ? "fulfilled" : "cancelled";
    EXPECT_TRUE(wait_status(k, want, 30s)) << k << " is " << status_of(k);
  }
  EXPECT_EQ(charges().size(), 3u);
  check_rules();
}

// --- command line ------------------------------------------------------------------

TEST_F(ShopE2E, MigrateIsIdempotentAndTheEnvironmentConfigures) {
  for (int i = 0; i < 2; ++i) {
    Process m({SHOP_BIN, "migrate", "--db", shop_db()}, dir.file("migrate.log"));
    EXPECT_EQ(m.wait_exit(), 0) << m.log();
  }
  Process bad({SHOP_BIN, "start", "--port", "not-a-port"}, dir.file("bad.log"));
  EXPECT_EQ(bad.wait_exit(), 2);
  Process unknown({SHOP_BIN, "frobnicate"}, dir.file("bad.log"));
  EXPECT_EQ(unknown.wait_exit(), 2);

  start_payments();
  // Settings from the environment; a flag (--port) wins over its variable.
  shop = std::make_unique<Process>(
      std::vector<std::string>{SHOP_BIN, "start", "--port", std::to_string(shop_port)}, dir.file("shop.log"),
      std::map<std::string, std::string>{{"SHOP_DB", shop_db()},
                                         {"SHOP_PORT", "1"},
                                         {"PAYMENTS_URL", pay_url()},
                                         {"CHECKOUT_TIMEOUT", "2s"},
                                         {"WEBHOOK_SECRET", "whsec_dev"}});
  wait_ready(*shop, shop_url() + "/products");
  json j = checkout_ok("env");
  ASSERT_TRUE(wait_status("env", "cancelled", 20s)) << status_of("env");  // CHECKOUT_TIMEOUT=2s
  ASSERT_EQ(checkout_ok("env-2").at("amount_cents"), 9999);
  shop->stop();
  // Migrating again keeps the data (no reseeding of inventory).
  Process m({SHOP_BIN, "migrate", "--db", shop_db()}, dir.file("migrate.log"));
  EXPECT_EQ(m.wait_exit(), 0) << m.log();
  start_shop();
  EXPECT_EQ(inventory(1), kSeed - 1);
  EXPECT_EQ(status_of("env"), "cancelled");
}

// The tutorial's own command, `curl -X POST http://localhost:8082/checkout`,
// sends no Content-Length and no body.
TEST_F(ShopE2E, TutorialCheckoutWithoutContentLength) {
  start_payments();
  start_shop();
  std::string resp = keel::e2e::raw_http(
      shop_port, "POST /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nConnection: close\r\n\r\n", 8000ms);
  ASSERT_EQ(keel::e2e::raw_status(resp), 200) << resp;
  EXPECT_NE(resp.find("Submit payment:"), std::string::npos) << resp;
  EXPECT_NE(resp.find("Cancel payment:"), std::string::npos) << resp;
}

}  // namespace
