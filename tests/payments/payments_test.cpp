// End-to-end tests of the payment service: the real `payments` binary on a
// temporary SQLite database, a real webhook receiver, real kill -9.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <set>
#include <thread>

#include "common/webhook_signature.hpp"
#include "payments_process.hpp"
#include "support/temp_dir.hpp"

namespace keel::payments::testing {
namespace {

using keel::testing::TempDir;

constexpr const char* kSecret = "whsec_test_secret";

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class PaymentsTest : public ::testing::Test {
 protected:
  void SetUp() override { payments.start(base_args()); }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- payments log (tail) ----\n" << payments.log_tail() << "\n";
  }

  std::vector<std::string> base_args(std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"--webhook-secret", kSecret, "--webhook-initial-backoff", "100ms"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  void restart(std::vector<std::string> extra = {}) {
    if (payments.running()) payments.kill9();
    payments.start(base_args(std::move(extra)));
  }

  Json session_body(const std::string& ref, int64_t qty = 2, int64_t price = 9999) {
    return Json{{"client_reference_id", ref},
                {"webhook_url", receiver.url()},
                {"items", Json::array({Json{{"description", "Pen"}, {"quantity", qty}, {"price_cents", price}}})}};
  }
  apps::HttpClientResponse create_raw(const std::string& key, const std::string& body,
                                      const std::string& header = "Idempotency-Key") {
    std::map<std::string, std::string> h;
    if (!key.empty()) h[header] = key;
    return client.post_json(payments.base() + "/api/create_payment_session", h, body);
  }
  // Creates a session and returns its id (asserting success).
  std::string create_session(const std::string& key, const std::string& ref) {
    auto r = create_raw(key, session_body(ref).dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().at("session_id").get<std::string>();
  }
  apps::HttpClientResponse action(const std::string& what, const std::string& session_id,
                                  std::map<std::string, std::string> headers = {}) {
    return client.post_json(payments.base() + "/api/" + what, headers, Json{{"session_id", session_id}}.dump());
  }
  Json get_session(const std::string& id) {
    auto r = client.get(payments.base() + "/api/sessions/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }
  std::vector<Json> all_charges() {
    std::vector<Json> out;
    std::string url = payments.base() + "/api/charges?limit=500";
    for (;;) {
      Json page = client.get(url).json();
      for (auto& c : page["charges"]) out.push_back(c);
      if (page["next"].is_null()) return out;
      url = payments.base() + "/api/charges?limit=500&after=" + page["next"].get<std::string>();
    }
  }
  // Received events for a session, parsed.
  std::vector<Json> events_for(const std::string& session_id, bool delivered_only = true) {
    std::vector<Json> out;
    for (auto& r : delivered_only ? receiver.delivered() : receiver.received()) {
      Json j = Json::parse(r.body);
      if (j["session_id"] == session_id) out.push_back(j);
    }
    return out;
  }
  int64_t count_rows(const std::string& sql_text) {
    sqlite3* db = nullptr;
    int64_t n = -1;
    if (sqlite3_open_v2(dir.file("payments.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(db, 5000);
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, sql_text.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
  }

  TempDir dir;
  WebhookReceiver receiver;
  PaymentsProcess payments{dir.path(), dir.db_url("payments.db")};
  apps::HttpClient client{apps::HttpClientOptions{.connect_timeout = 2s, .read_timeout = 40s, .write_timeout = 10s}};
};

// ---------------------------------------------------------------------------
// Sessions and idempotency

TEST_F(PaymentsTest, CreateReturnsSessionAndReplaysTheSameAnswer) {
  auto first = create_raw("key-1", session_body("order-1", 3, 250).dump());
  ASSERT_EQ(first.status, 200) << first.body;
  Json a = first.json();
  EXPECT_EQ(a["payment_status"], "pending");
  EXPECT_EQ(a["amount_cents"], 750);
  EXPECT_TRUE(a["session_id"].is_string());
  EXPECT_EQ(a["url"].get<std::string>().rfind(payments.base() + "/pay/", 0), 0u) << a;

  // Same key, same body (other key order and spacing): the same answer.
  Json b = session_body("order-1", 3, 250);
  std::string reordered = "{ \"items\": " + b["items"].dump() + ", \"webhook_url\": \"" + receiver.url() +
                          "\", \"client_reference_id\": \"order-1\" }";
  auto again = create_raw("key-1", reordered);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body, first.body);
  // Also after a kill -9 and restart.
  restart();
  auto after_restart = create_raw("key-1", session_body("order-1", 3, 250).dump());
  EXPECT_EQ(after_restart.body, first.body);
  EXPECT_EQ(count_rows("SELECT COUNT(*) FROM pay_sessions"), 1);

  Json s = get_session(a["session_id"]);
  EXPECT_EQ(s["payment_status"], "pending");
  EXPECT_EQ(s["amount_cents"], 750);
  EXPECT_EQ(s["client_reference_id"], "order-1");
  EXPECT_TRUE(s["charge"].is_null());
  EXPECT_EQ(s["webhook_deliveries"].size(), 0u);
  EXPECT_EQ(client.get(payments.base() + "/api/sessions/cs_nope").status, 404);
}

TEST_F(PaymentsTest, SameKeyWithAnotherBodyIs409AndChangesNothing) {
  auto first = create_raw("key-2", session_body("order-2").dump());
  ASSERT_EQ(first.status, 200);
  auto other = create_raw("key-2", session_body("order-2", 5).dump());
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_EQ(other.json()["error"], "idempotency_key_reused");
  EXPECT_TRUE(other.json()["message"].is_string());
  EXPECT_EQ(get_session(first.json()["session_id"])["amount_cents"], 2 * 9999);
  EXPECT_EQ(count_rows("SELECT COUNT(*) FROM pay_sessions"), 1);
  // The original body still replays.
  EXPECT_EQ(create_raw("key-2", session_body("order-2").dump()).body, first.body);
}

TEST_F(PaymentsTest, IdempotencyKeyHeaderNamesAndLimits) {
  std::string body = session_body("order-3").dump();
  auto r = create_raw("", body);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "missing_idempotency_key");

  auto a = create_raw("k3", body, "dbos-idempotency-key");
  ASSERT_EQ(a.status, 200) << a.body;
  auto b = create_raw("k3", body, "dbos-idmpotency-key");
  EXPECT_EQ(b.body, a.body);
  auto c = create_raw("k3", body, "IDEMPOTENCY-KEY");
  EXPECT_EQ(c.body, a.body);

  EXPECT_EQ(create_raw(std::string(255, 'k'), body).status, 200);
  auto too_long = create_raw(std::string(256, 'k'), body);
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.json()["error"], "invalid_idempotency_key");
}

TEST_F(PaymentsTest, CreateValidatesTheBody) {
  auto item = [](Json q, Json p, Json d = "Pen") { return Json{{"description", d}, {"quantity", q}, {"price_cents", p}}; };
  auto with_items = [&](Json items) {
    Json b = session_body("order-v");
    b["items"] = std::move(items);
    return b;
  };
  auto with_url = [&](Json url) {
    Json b = session_body("order-v");
    b["webhook_url"] = std::move(url);
    return b;
  };
  std::vector<Json> bad = {
      Json::array(),
      Json("a string"),
      with_items(Json::array()),
      with_items(Json::array({item(0, 100)})),
      with_items(Json::array({item(-1, 100)})),
      with_items(Json::array({item(1.5, 100)})),
      with_items(Json::array({item("2", 100)})),
      with_items(Json::array({item(1, -1)})),
      with_items(Json::array({item(1, 10.5)})),
      with_items(Json::array({item(1, 100, 42)})),
      with_items(Json::array({Json{{"quantity", 1}, {"price_cents", 1}}})),
      with_items(Json("not an array")),
      with_url("http://example.com/hook"),
      with_url("https://127.0.0.1/hook"),
      with_url("http://127.0.0.1@example.com/hook"),
      with_url("http://127.0.0.2/hook"),
      with_url("http://localhost:99999/hook"),
      with_url(42),
      Json{{"webhook_url", receiver.url()}, {"items", Json::array({item(1, 1)})}},  // no client_reference_id
  };
  int i = 0;
  for (const Json& b : bad) {
    auto r = create_raw("bad-" + std::to_string(i++), b.dump());
    EXPECT_EQ(r.status, 400) << b.dump() << " -> " << r.body;
    EXPECT_EQ(r.json().value("error", ""), "invalid_request") << b.dump();
  }
  auto malformed = create_raw("bad-json", "{\"client_reference_id\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.json()["error"], "invalid_json");
  // The loopback spellings that are accepted.
  EXPECT_EQ(create_raw("ok-1", with_url("http://localhost:1234/x").dump()).status, 200);
  EXPECT_EQ(create_raw("ok-2", with_url("http://127.0.0.1/").dump()).status, 200);
  EXPECT_EQ(count_rows("SELECT COUNT(*) FROM pay_sessions"), 2);
}

TEST_F(PaymentsTest, ConcurrentRequestWithAKeyInFlightIs409RequestInProgress) {
  restart({"--test-create-delay", "1500ms"});
  std::string body = session_body("order-slow").dump();
  apps::HttpClientResponse first;
  std::thread t([&] { first = create_raw("slow-key", body); });
  std::this_thread::sleep_for(400ms);
  auto second = create_raw("slow-key", body);
  EXPECT_EQ(second.status, 409) << second.body;
  EXPECT_EQ(second.json().value("error", ""), "request_in_progress");
  // Another body under the key in flight: reused, not in progress.
  auto other = create_raw("slow-key", session_body("order-other").dump());
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(other.json().value("error", ""), "idempotency_key_reused");
  t.join();
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(create_raw("slow-key", body).body, first.body);
  EXPECT_EQ(count_rows("SELECT COUNT(*) FROM pay_sessions"), 1);
}

// ---------------------------------------------------------------------------
// Charges and status changes

TEST_F(PaymentsTest, SubmitChargesOnceAndReturnsTheSameCharge) {
  std::string s1 = create_session("k-s1", "order-s1");
  auto a = action("submit_payment", s1, {{"dbos-idmpotency-key", "order-s1"}});
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json()["payment_status"], "paid");
  EXPECT_EQ(a.json()["session_id"], s1);
  std::string charge = a.json()["charge_id"];
  auto b = action("submit_payment", s1);
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(b.json()["charge_id"], charge);

  // Many concurrent submits of a fresh session: one charge.
  std::string s2 = create_session("k-s2", "order-s2");
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> charge_ids;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      auto r = action("submit_payment", s2);
      if (r.status != 200) return;
      ++ok;
      std::lock_guard lock(mu);
      charge_ids.insert(r.json()["charge_id"].get<std::string>());
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(charge_ids.size(), 1u);

  auto charges = all_charges();
  ASSERT_EQ(charges.size(), 2u);
  EXPECT_EQ(charges[0]["charge_id"], charge);
  EXPECT_EQ(charges[0]["session_id"], s1);
  EXPECT_EQ(charges[0]["client_reference_id"], "order-s1");
  EXPECT_EQ(charges[0]["amount_cents"], 2 * 9999);
  EXPECT_EQ(charges[1]["charge_id"], *charge_ids.begin());
  Json s = get_session(s1);
  EXPECT_EQ(s["payment_status"], "paid");
  EXPECT_EQ(s["charge"]["charge_id"], charge);
  EXPECT_EQ(action("submit_payment", "cs_unknown").status, 404);
}

TEST_F(PaymentsTest, CancelExpireAndPaidConflicts) {
  // cancel a pending session; then it cannot be paid; expiring it says cancelled.
  std::string c = create_session("k-c", "order-c");
  auto r = action("cancel_payment", c);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["payment_status"], "cancelled");
  EXPECT_EQ(action("cancel_payment", c).json()["payment_status"], "cancelled");
  r = action("submit_payment", c);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["error"], "session_cancelled");
  EXPECT_EQ(r.json()["payment_status"], "cancelled");
  r = action("expire_session", c);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["payment_status"], "cancelled");

  // expire a pending session; then it cannot be paid.
  std::string e = create_session("k-e", "order-e");
  r = action("expire_session", e);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["payment_status"], "expired");
  r = action("submit_payment", e);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["error"], "session_expired");

  // a paid session cannot be cancelled nor expired.
  std::string p = create_session("k-p", "order-p");
  ASSERT_EQ(action("submit_payment", p).status, 200);
  r = action("cancel_payment", p);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["payment_status"], "paid");
  EXPECT_EQ(r.json()["error"], "already_paid");
  r = action("expire_session", p);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["error"], "already_paid");
  EXPECT_EQ(r.json()["payment_status"], "paid");
  EXPECT_TRUE(r.json()["message"].is_string());

  EXPECT_EQ(get_session(c)["payment_status"], "cancelled");
  EXPECT_EQ(get_session(e)["payment_status"], "expired");
  EXPECT_EQ(all_charges().size(), 1u);
  EXPECT_EQ(action("cancel_payment", "cs_unknown").status, 404);
  EXPECT_EQ(action("expire_session", "cs_unknown").status, 404);

  // An idempotency key on these endpoints: same body fine, other body 409.
  std::string q = create_session("k-q", "order-q");
  EXPECT_EQ(action("cancel_payment", q, {{"Idempotency-Key", "cancel-key"}}).status, 200);
  EXPECT_EQ(action("cancel_payment", q, {{"Idempotency-Key", "cancel-key"}}).status, 200);
  auto reused = action("cancel_payment", c, {{"Idempotency-Key", "cancel-key"}});
  EXPECT_EQ(reused.status, 409);
  EXPECT_EQ(reused.json()["error"], "idempotency_key_reused");
}

TEST_F(PaymentsTest, LedgerPaginatesWithAnOpaqueCursor) {
  std::vector<std::string> sessions;
  for (int i = 0; i < 5; ++i) {
    sessions.push_back(create_session("k-l" + std::to_string(i), "order-l" + std::to_string(i)));
    ASSERT_EQ(action("submit_payment", sessions.back()).status, 200);
  }
  std::vector<std::string> seen;
  std::string url = payments.base() + "/api/charges?limit=2";
  std::vector<size_t> page_sizes;
  for (int pages = 0; pages < 10; ++pages) {
    auto r = client.get(url);
    ASSERT_EQ(r.status, 200) << r.body;
    Json page = r.json();
    page_sizes.push_back(page["charges"].size());
    for (auto& c : page["charges"]) seen.push_back(c["session_id"]);
    if (page["next"].is_null()) break;
    url = payments.base() + "/api/charges?limit=2&after=" + page["next"].get<std::string>();
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{2, 2, 1}));
  EXPECT_EQ(seen, sessions);
  Json all = client.get(payments.base() + "/api/charges").json();
  EXPECT_EQ(all["charges"].size(), 5u);
  EXPECT_TRUE(all["next"].is_null());

  for (std::string bad : {"limit=0", "limit=501", "limit=abc", "limit=-1", "limit=", "after=garbage", "after=1"}) {
    auto r = client.get(payments.base() + "/api/charges?" + bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_TRUE(r.json().contains("error"));
  }
  EXPECT_EQ(client.get(payments.base() + "/api/charges?limit=500").status, 200);
}

TEST_F(PaymentsTest, HttpErrorsAreJson) {
  std::string big = "{\"client_reference_id\": \"" + std::string(1024 * 1024 + 10, 'x') + "\"}";
  auto r = create_raw("k-big", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.json()["error"], "payload_too_large");

  r = client.post_json(payments.base() + "/api/submit_payment", {}, "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "invalid_json");
  r = client.post_json(payments.base() + "/api/submit_payment", {}, "{\"session_id\": 5}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "invalid_request");
  r = client.post_json(payments.base() + "/api/cancel_payment", {}, "");
  EXPECT_EQ(r.status, 400);

  r = client.get(payments.base() + "/api/nothing_here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error"], "not_found");
  r = client.get(payments.base() + "/api/submit_payment");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.json()["error"], "method_not_allowed");
  r = client.post_json(payments.base() + "/api/charges", {}, "{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(client.get(payments.base() + "/healthz").json()["status"], "healthy");
}

// ---------------------------------------------------------------------------
// Webhooks

TEST_F(PaymentsTest, EveryStatusChangeSendsOneSignedEvent) {
  std::string paid = create_session("k-w1", "order-w1");
  std::string cancelled = create_session("k-w2", "order-w2");
  std::string expired = create_session("k-w3", "order-w3");
  ASSERT_EQ(action("submit_payment", paid).status, 200);
  ASSERT_EQ(action("cancel_payment", cancelled).status, 200);
  ASSERT_EQ(action("expire_session", expired).status, 200);
  ASSERT_TRUE(eventually([&] { return receiver.delivered().size() >= 3; })) << receiver.received().size();
  std::this_thread::sleep_for(300ms);  // nothing more arrives
  auto got = receiver.delivered();
  ASSERT_EQ(got.size(), 3u);
  std::map<std::string, std::string> type_of;
  std::set<std::string> ids;
  for (auto& r : got) {
    EXPECT_EQ(apps::verify_webhook(kSecret, r.signature, r.body, unix_now()), apps::SignatureCheck::Valid)
        << r.signature;
    EXPECT_EQ(apps::verify_webhook("whsec_wrong", r.signature, r.body, unix_now()), apps::SignatureCheck::Mismatch);
    Json j = Json::parse(r.body);
    type_of[j["session_id"]] = j["type"];
    ids.insert(j["id"]);
    EXPECT_EQ(r.event_id_header, j["id"]);
    EXPECT_TRUE(j["client_reference_id"].get<std::string>().rfind("order-w", 0) == 0);
    EXPECT_NEAR(j["created"].get<int64_t>(), unix_now(), 60);
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(type_of[paid], "payment.succeeded");
  EXPECT_EQ(type_of[cancelled], "payment.cancelled");
  EXPECT_EQ(type_of[expired], "payment.expired");
  EXPECT_EQ(Json::parse(got[0].body).size(), 5u);  // id, type, session_id, client_reference_id, created

  // Repeated actions send nothing new.
  ASSERT_EQ(action("submit_payment", paid).status, 200);
  ASSERT_EQ(action("expire_session", cancelled).status, 200);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(receiver.received().size(), 3u);

  ASSERT_TRUE(eventually([&] { return get_session(paid)["events"][0]["delivery_status"] == "delivered"; }));
  Json s = get_session(paid);
  ASSERT_EQ(s["events"].size(), 1u);
  EXPECT_EQ(s["events"][0]["type"], "payment.succeeded");
  ASSERT_EQ(s["webhook_deliveries"].size(), 1u);
  EXPECT_EQ(s["webhook_deliveries"][0]["ok"], true);
  EXPECT_EQ(s["webhook_deliveries"][0]["status_code"], 200);
  EXPECT_EQ(s["webhook_deliveries"][0]["attempt"], 1);
}

TEST_F(PaymentsTest, FailedDeliveriesAreRetriedWithBackoffUntil2xx) {
  receiver.fail_next(3);
  std::string s = create_session("k-r", "order-r");
  ASSERT_EQ(action("submit_payment", s).status, 200);
  ASSERT_TRUE(eventually([&] { return receiver.delivered().size() == 1; }, 15s));
  auto all = receiver.received();
  ASSERT_EQ(all.size(), 4u);
  std::string id = Json::parse(all[0].body)["id"];
  for (auto& r : all) {
    EXPECT_EQ(Json::parse(r.body)["id"], id);  // stable across retries
    EXPECT_EQ(r.body, all[0].body);
    EXPECT_EQ(apps::verify_webhook(kSecret, r.signature, r.body, unix_now()), apps::SignatureCheck::Valid);
  }
  EXPECT_EQ(all[0].answered, 500);
  EXPECT_EQ(all[3].answered, 200);
  // Backoff 100, 200, 400 ms: each gap at least its delay, and growing.
  auto gap = [&](int i) { return std::chrono::duration_cast<std::chrono::milliseconds>(all[i + 1].at - all[i].at); };
  EXPECT_GE(gap(0), 90ms);
  EXPECT_GE(gap(1), 190ms);
  EXPECT_GE(gap(2), 390ms);

  ASSERT_TRUE(eventually([&] { return get_session(s)["webhook_deliveries"].size() == 4; }));
  Json d = get_session(s)["webhook_deliveries"];
  EXPECT_EQ(d[0]["ok"], false);
  EXPECT_EQ(d[0]["status_code"], 500);
  EXPECT_EQ(d[3]["ok"], true);
  EXPECT_EQ(get_session(s)["events"][0]["delivery_status"], "delivered");
}

TEST_F(PaymentsTest, RetriesSurviveKill9AndRestart) {
  receiver.fail_next(1000000);
  restart({"--webhook-initial-backoff", "300ms", "--webhook-max-backoff", "300ms"});
  std::string s = create_session("k-k", "order-k");
  ASSERT_EQ(action("submit_payment", s).status, 200);
  ASSERT_TRUE(eventually([&] { return receiver.received().size() >= 2; }));
  payments.kill9();
  std::this_thread::sleep_for(100ms);  // a request that was in flight lands now
  std::string id = Json::parse(receiver.received()[0].body)["id"];
  receiver.fail_next(0);
  size_t before = receiver.received().size();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(receiver.received().size(), before);  // really dead
  payments.start(base_args({"--webhook-initial-backoff", "300ms", "--webhook-max-backoff", "300ms"}));
  ASSERT_TRUE(eventually([&] { return events_for(s).size() >= 1; }));
  EXPECT_EQ(events_for(s)[0]["id"], id);
  EXPECT_EQ(events_for(s).size(), 1u);
  ASSERT_TRUE(eventually([&] { return get_session(s)["events"][0]["delivery_status"] == "delivered"; }));
  // The charge is still the only one.
  EXPECT_EQ(all_charges().size(), 1u);
}

TEST_F(PaymentsTest, Kill9WhileTheWebhookIsInFlightStillDelivers) {
  receiver.hold(true);
  restart({"--webhook-timeout", "30s"});
  std::string s = create_session("k-f", "order-f");
  ASSERT_EQ(action("submit_payment", s).status, 200);
  ASSERT_TRUE(eventually([&] { return receiver.held() >= 1; }));
  payments.kill9();  // the POST is in flight: its outcome is never recorded
  receiver.hold(false);
  ASSERT_TRUE(eventually([&] { return receiver.received().size() == 1; }));
  payments.start(base_args());
  ASSERT_TRUE(eventually([&] { return get_session(s)["events"][0]["delivery_status"] == "delivered"; }));
  auto events = events_for(s);
  ASSERT_EQ(events.size(), 2u);  // at least once: the first went to a dead sender
  EXPECT_EQ(events[0]["id"], events[1]["id"]);
  EXPECT_EQ(events[1]["type"], "payment.succeeded");
}

// ---------------------------------------------------------------------------
// Crash windows inside the service (test crash points raise SIGKILL)

TEST_F(PaymentsTest, Kill9AfterTheChargeCommitsStillDeliversAndNeverChargesTwice) {
  restart({"--test-crash-point", "after_status_commit"});
  std::string s = create_session("k-x", "order-x");
  EXPECT_THROW(action("submit_payment", s), apps::HttpTransportError);
  ASSERT_TRUE(payments.wait_killed());
  EXPECT_EQ(receiver.received().size(), 0u);  // died before starting the delivery
  payments.start(base_args());
  // Recovery finishes the submit workflow and starts the delivery.
  ASSERT_TRUE(eventually([&] { return events_for(s).size() == 1; }));
  auto again = action("submit_payment", s);
  ASSERT_EQ(again.status, 200) << again.body;
  auto charges = all_charges();
  ASSERT_EQ(charges.size(), 1u);
  EXPECT_EQ(charges[0]["charge_id"], again.json()["charge_id"]);
  EXPECT_EQ(events_for(s)[0]["type"], "payment.succeeded");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(events_for(s, false).size(), 1u);
  EXPECT_EQ(count_rows("SELECT COUNT(*) FROM pay_events"), 1);
}

TEST_F(PaymentsTest, Kill9AfterTheSessionCommitsGivesOneSession) {
  restart({"--test-crash-point", "after_create_commit"});
  std::string body = session_body("order-y").dump();
  EXPECT_THROW(create_raw("k-y", body), apps::HttpTransportError);
  ASSERT_TRUE(payments.wait_killed());
  payments.start(base_args());
  // The recovered workflow may still be finishing: 409 request_in_progress
  // until then.
  apps::HttpClientResponse r;
  ASSERT_TRUE(eventually([&] {
    r = create_raw("k-y", body);
    return r.status != 409;
  }));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(create_raw("k-y", body).body, r.body);
  EXPECT_EQ(count_rows("SELECT COUNT(*) FROM pay_sessions"), 1);
  EXPECT_EQ(get_session(r.json()["session_id"])["payment_status"], "pending");
}

TEST_F(PaymentsTest, Kill9AfterADeliveryBeforeItsRecordRedeliversTheSameEvent) {
  restart({"--test-crash-point", "after_webhook_post"});
  std::string s = create_session("k-z", "order-z");
  try {
    // The delivery may run (and the process die) before this answer is sent.
    EXPECT_EQ(action("submit_payment", s).status, 200);
  } catch (const apps::HttpTransportError&) {
  }
  ASSERT_TRUE(payments.wait_killed());
  ASSERT_EQ(events_for(s).size(), 1u);
  payments.start(base_args());
  ASSERT_TRUE(eventually([&] { return get_session(s)["events"][0]["delivery_status"] == "delivered"; }));
  auto events = events_for(s);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["id"], events[1]["id"]);
}

TEST_F(PaymentsTest, GracefulStopResumesDeliveryAtNextStart) {
  receiver.fail_next(1000000);
  restart({"--webhook-initial-backoff", "200ms", "--webhook-max-backoff", "200ms"});
  std::string s = create_session("k-g", "order-g");
  ASSERT_EQ(action("submit_payment", s).status, 200);
  ASSERT_TRUE(eventually([&] { return receiver.received().size() >= 1; }));
  int status = payments.terminate();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  receiver.fail_next(0);
  payments.start(base_args());
  ASSERT_TRUE(eventually([&] { return events_for(s).size() == 1; }));
}

// ---------------------------------------------------------------------------
// The command line

TEST(PaymentsCli, MigrateIsIdempotentAndStartUsesTheMigratedDatabase) {
  TempDir dir;
  auto run = [](const std::string& cmd) { return std::system(cmd.c_str()); };
  std::string bin = PAYMENTS_BIN;
  std::string db = dir.db_url("m.db");
  EXPECT_EQ(run(bin + " migrate --db " + db + " > " + dir.file("m1.log") + " 2>&1"), 0);
  EXPECT_EQ(run(bin + " migrate --db " + db + " > " + dir.file("m2.log") + " 2>&1"), 0);
  EXPECT_EQ(run("PAYMENTS_DB=" + db + " " + bin + " migrate > " + dir.file("m3.log") + " 2>&1"), 0);
  EXPECT_NE(run(bin + " start --port 70000 > /dev/null 2>&1"), 0);
  EXPECT_NE(run(bin + " start --webhook-initial-backoff soon > /dev/null 2>&1"), 0);
  EXPECT_NE(run(bin + " > /dev/null 2>&1"), 0);
  PaymentsProcess p(dir.path(), db);
  p.start();
  apps::HttpClient client;
  EXPECT_EQ(client.get(p.base() + "/api/charges").status, 200);
  EXPECT_EQ(p.terminate(), 0);
  // The start-up log names the routes and the URL.
  std::string log = p.log_tail(100000);
  EXPECT_NE(log.find("POST  :  /api/create_payment_session"), std::string::npos);
  EXPECT_NE(log.find("Payment service is running at " + p.base()), std::string::npos);
  EXPECT_NE(log.find("using the default webhook secret"), std::string::npos);
}

}  // namespace
}  // namespace keel::payments::testing
