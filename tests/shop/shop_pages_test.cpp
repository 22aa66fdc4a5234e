// The shop's browser pages over plain HTTP (the browser itself drives them in
// tests/browser/checkout_browser_test.cpp): GET / and /assets/, the content
// negotiation of GET /orders/:id (JSON stays the default), the security
// headers, and the session's return URLs built from --public-url. The real
// `shop` and `payments` binaries (tests/e2e/shop_e2e_fixture.hpp).
#include <gtest/gtest.h>

#include "shop_e2e_fixture.hpp"

namespace {

using keel_shop_e2e::json;

constexpr const char* kBrowserAccept =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

class ShopPagesTest : public keel_shop_e2e::ShopE2E {
 protected:
  keel::apps::HttpClientResponse get(const std::string& path, const std::string& accept = "") {
    std::map<std::string, std::string> h;
    if (!accept.empty()) h["Accept"] = accept;
    return http.get(shop_url() + path, h);
  }
  static bool starts_with(const std::optional<std::string>& s, const std::string& prefix) {
    return s && s->rfind(prefix, 0) == 0;
  }
  static void expect_page(const keel::apps::HttpClientResponse& r, const std::string& type = "text/html") {
    EXPECT_TRUE(starts_with(r.header("content-type"), type)) << r.header("content-type").value_or("(none)");
    EXPECT_EQ(r.header("content-security-policy").value_or(""), "default-src 'self'");
    EXPECT_EQ(r.header("x-content-type-options").value_or(""), "nosniff");
  }
  static void expect_no_inline_script(const std::string& html) {
    for (size_t at = html.find("<script"); at != std::string::npos; at = html.find("<script", at + 1))
      EXPECT_EQ(html.compare(at, 12, "<script src="), 0) << html.substr(at, 60);
  }
};

TEST_F(ShopPagesTest, TheStorefrontAndItsAssetsAreServedSelfContained) {
  start_payments();
  start_shop();
  auto page = get("/", kBrowserAccept);
  EXPECT_EQ(page.status, 200);
  expect_page(page);
  EXPECT_NE(page.body.find("<script src=\"/assets/storefront.js\""), std::string::npos);
  expect_no_inline_script(page.body);
  // Nothing from another origin.
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
  EXPECT_EQ(get("/").status, 200) << "curl gets the page too";

  for (const std::string name : {"storefront.js", "order.js", "common.js"}) {
    auto r = get("/assets/" + name);
    EXPECT_EQ(r.status, 200) << name;
    expect_page(r, "text/javascript");
  }
  expect_page(get("/assets/style.css"), "text/css");
  auto missing = get("/assets/nothing.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json().at("error"), "not_found");
}

TEST_F(ShopPagesTest, OrdersAreJsonByDefaultAndAPageForABrowser) {
  start_payments();
  start_shop();
  json answer = checkout_ok("page-1", R"({"items":[{"product_id":2,"quantity":1}]})");
  const std::string path = "/orders/page-1";

  for (const std::string accept : {"", "*/*", "application/json", "text/html, application/json"}) {
    auto r = get(path, accept);
    EXPECT_EQ(r.status, 200) << accept;
    EXPECT_TRUE(starts_with(r.header("content-type"), "application/json")) << accept;
    EXPECT_EQ(r.json().at("order_id"), "page-1") << accept;
  }
  auto page = get(path, kBrowserAccept);
  EXPECT_EQ(page.status, 200);
  expect_page(page);
  expect_no_inline_script(page.body);
  EXPECT_NE(page.body.find("<script src=\"/assets/order.js\""), std::string::npos);
  EXPECT_EQ(page.body.find("page-1"), std::string::npos) << "the page reads the order from JSON, never from HTML";

  // Unknown: 404 either way (the page tells the customer).
  auto unknown_page = get("/orders/nope", kBrowserAccept);
  EXPECT_EQ(unknown_page.status, 404);
  expect_page(unknown_page);
  auto unknown = get("/orders/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json().at("error"), "order_not_found");

  // The payment session sends the customer back to the order page.
  json s = session(answer.value("session_id", ""));
  EXPECT_EQ(s.value("success_url", ""), shop_url() + path);
  EXPECT_EQ(s.value("cancel_url", ""), shop_url() + path);
  check_rules();
}

TEST_F(ShopPagesTest, ThePublicUrlSettingNamesTheReturnPage) {
  start_payments();
  // localhost: the payment service takes loopback webhook URLs only.
  const std::string public_url = "http://localhost:" + std::to_string(shop_port);
  start_shop("30s", {"--public-url", public_url + "/"});
  json answer = checkout_ok("page-2");
  json s = session(answer.value("session_id", ""));
  EXPECT_EQ(s.value("success_url", ""), public_url + "/orders/page-2");
  EXPECT_EQ(s.value("cancel_url", ""), public_url + "/orders/page-2");
  EXPECT_EQ(s.value("webhook_url", ""), public_url + "/payment_webhook");
  check_rules();
}

}  // namespace
