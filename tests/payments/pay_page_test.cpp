// GET /pay/:id, negotiated: the hosted payment page (HTML, with its scripts
// under /assets/) for a browser, the text with ready curl commands for
// everyone else, as before. The real `payments` binary on a temporary database.
#include <gtest/gtest.h>

#include "payments_process.hpp"
#include "support/temp_dir.hpp"

namespace keel::payments::testing {
namespace {

constexpr const char* kBrowserAccept =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

class PayPageTest : public ::testing::Test {
 protected:
  void SetUp() override { payments.start(); }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- payments log (tail) ----\n" << payments.log_tail() << "\n";
  }

  std::string create_session(const Json& extra = Json::object()) {
    Json body{{"client_reference_id", "order-1"},
              {"webhook_url", receiver.url()},
              {"items", Json::array({Json{{"description", "Pen"}, {"quantity", 2}, {"price_cents", 9999}}})}};
    body.update(extra);
    auto r = client.post_json(payments.base() + "/api/create_payment_session", {{"Idempotency-Key", "k1"}}, body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.json().at("session_id").get<std::string>() : "";
  }
  apps::HttpClientResponse get(const std::string& path, const std::string& accept = "") {
    std::map<std::string, std::string> h;
    if (!accept.empty()) h["Accept"] = accept;
    return client.get(payments.base() + path, h);
  }
  static void expect_page_headers(const apps::HttpClientResponse& r) {
    EXPECT_EQ(r.header("content-security-policy").value_or(""), "default-src 'self'");
    EXPECT_EQ(r.header("x-content-type-options").value_or(""), "nosniff");
  }

  keel::testing::TempDir dir;
  WebhookReceiver receiver;
  PaymentsProcess payments{dir.path(), dir.db_url("payments.db")};
  apps::HttpClient client{apps::HttpClientOptions{.connect_timeout = 2s, .read_timeout = 40s, .write_timeout = 10s}};
};

TEST_F(PayPageTest, CurlStillGetsTheTextWithReadyCommands) {
  const std::string id = create_session();
  for (const std::string accept : {"", "*/*", "application/json", "text/plain"}) {
    auto r = get("/pay/" + id, accept);
    EXPECT_EQ(r.status, 200) << accept;
    EXPECT_EQ(r.header("content-type").value_or("").rfind("text/plain", 0), 0u) << accept;
    EXPECT_NE(r.body.find("Payment session " + id), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("/api/submit_payment"), std::string::npos) << r.body;
  }
}

TEST_F(PayPageTest, ABrowserGetsTheHostedPageWithItsSecurityHeaders) {
  const std::string id = create_session();
  auto r = get("/pay/" + id, kBrowserAccept);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type").value_or("").rfind("text/html", 0), 0u);
  expect_page_headers(r);
  EXPECT_NE(r.body.find("<script src=\"/assets/pay.js\""), std::string::npos) << r.body;
  // No inline script: every <script> has a src (the CSP would block it anyway).
  for (size_t at = r.body.find("<script"); at != std::string::npos; at = r.body.find("<script", at + 1))
    EXPECT_EQ(r.body.compare(at, 12, "<script src="), 0) << r.body.substr(at, 60);
  // The page is static: the session's data comes from the JSON API, so
  // nothing of the request is reflected into the HTML.
  EXPECT_EQ(r.body.find(id), std::string::npos);
}

TEST_F(PayPageTest, AnUnknownSessionIsA404EitherWay) {
  auto page = get("/pay/cs_nope", kBrowserAccept);
  EXPECT_EQ(page.status, 404);
  EXPECT_EQ(page.header("content-type").value_or("").rfind("text/html", 0), 0u);
  auto text = get("/pay/cs_nope");
  EXPECT_EQ(text.status, 404);
  EXPECT_EQ(text.json().at("error"), "session_not_found");
}

TEST_F(PayPageTest, AssetsAreServedWithTheirTypesAndUnknownOnesAre404Json) {
  struct Case {
    const char* name;
    const char* type;
  };
  for (const Case& c : {Case{"pay.js", "text/javascript"}, Case{"common.js", "text/javascript"},
                        Case{"style.css", "text/css"}, Case{"favicon.svg", "image/svg+xml"}}) {
    auto r = get(std::string("/assets/") + c.name);
    EXPECT_EQ(r.status, 200) << c.name;
    EXPECT_EQ(r.header("content-type").value_or("").rfind(c.type, 0), 0u) << c.name;
    EXPECT_FALSE(r.body.empty()) << c.name;
    expect_page_headers(r);
  }
  auto missing = get("/assets/nothing.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json().at("error"), "not_found");
}

TEST_F(PayPageTest, TheSessionKeepsTheReturnUrlsThePageFollows) {
  const std::string id = create_session({{"success_url", "http://127.0.0.1:1/orders/o1"},
                                         {"cancel_url", "http://127.0.0.1:1/orders/o1?c"}});
  Json s = client.get(payments.base() + "/api/sessions/" + id).json();
  EXPECT_EQ(s.at("success_url"), "http://127.0.0.1:1/orders/o1");
  EXPECT_EQ(s.at("cancel_url"), "http://127.0.0.1:1/orders/o1?c");
}

}  // namespace
}  // namespace keel::payments::testing
