// The customer's checkout in a real browser (headless Chromium over
// WebDriver, support/webdriver.hpp), against the real `shop` and `payments`
// binaries (the e2e fixture, tests/e2e/shop_e2e_fixture.hpp):
//   storefront -> Buy (double-clicked, then the same cart bought again after
//   a reload) -> hosted payment page -> Pay or Cancel -> order page.
// Each test then checks both services' state through their JSON APIs and
// databases: one order and at most one charge for the cart, the stock, and
// the checkout's rules (check_rules). A refused cart (out of stock) shows the
// answer's message and holds nothing. Screenshots of every page at every
// state go to build/browser-artifacts/checkout/<test>/; any JavaScript error
// in the console fails the test (TearDown).
#include <gtest/gtest.h>

#include "shop_e2e_fixture.hpp"
#include "support/webdriver.hpp"

namespace {

using keel::testing::Browser;
using keel::testing::WebDriverError;
using keel_shop_e2e::json;
using keel_shop_e2e::kSeed;
using namespace std::chrono_literals;

// Cents as the pages show them (common.js, Keel.money): 26997 -> "269.97".
std::string money_text(int64_t cents) {
  std::string units = std::to_string(cents / 100);
  for (int i = static_cast<int>(units.size()) - 3; i > 0; i -= 3) units.insert(static_cast<size_t>(i), ",");
  std::string rest = std::to_string(cents % 100);
  return units + "." + (rest.size() == 1 ? "0" + rest : rest);
}

class CheckoutBrowserTest : public keel_shop_e2e::ShopE2E {
 protected:
  std::unique_ptr<Browser> browser;

  void SetUp() override {
    if (!keel::testing::browser_available())
      GTEST_SKIP() << "Chromium is not installed: apt-get install chromium chromium-driver (scripts/install-deps)";
    start_payments();
    // A deadline far beyond the test: the order ends by the customer's button.
    start_shop("120s");
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    browser = std::make_unique<Browser>(keel_shop_e2e::free_port(),
                                        std::string(KEEL_BROWSER_ARTIFACTS) + "/checkout/" + info->name());
  }

  void TearDown() override {
    if (browser) {
      std::vector<std::string> errors = browser->console_errors();
      std::string all;
      for (const auto& e : errors) all += "\n  " + e;
      EXPECT_TRUE(errors.empty()) << "JavaScript console errors:" << all;
      browser.reset();
    }
    ShopE2E::TearDown();
  }

  // Polls a script's value until it equals `want`.
  bool page_until(const std::string& script, const json& want, std::chrono::milliseconds timeout = 20s) {
    return Browser::wait_until([&] {
      try {
        return browser->execute(script) == want;
      } catch (const WebDriverError&) {
        return false;  // between two pages
      }
    }, timeout);
  }
  bool url_starts_with(const std::string& prefix, std::chrono::milliseconds timeout = 20s) {
    return Browser::wait_until([&] { return browser->url().rfind(prefix, 0) == 0; }, timeout);
  }

  // The storefront with a cart of `pencils` of product 2 (nothing else).
  void fill_cart(int pencils) {
    browser->go(shop_url() + "/");
    ASSERT_TRUE(page_until("return document.querySelectorAll('#products tbody tr').length", 2))
        << "the storefront shows no products";
    auto qty = browser->find("#qty-2");
    browser->clear(qty);
    browser->type(qty, std::to_string(pencils));
    ASSERT_TRUE(page_until("return document.getElementById('buy').disabled", false));
  }

  // Storefront -> Buy, clicked twice as fast as WebDriver allows, then the
  // same cart again from a reloaded storefront: one checkout, one payment
  // page. Returns the payment page's URL (the browser is on it).
  std::string buy_pencils(int pencils) {
    fill_cart(pencils);
    EXPECT_EQ(browser->text("#products tbody tr[data-product-id='2'] td:nth-child(1)"), "Pencil");
    EXPECT_EQ(browser->text("#products tbody tr[data-product-id='2'] td:nth-child(2)"), "89.99");
    EXPECT_EQ(browser->text("#products tbody tr[data-product-id='2'] td:nth-child(3)"), "100000");
    browser->screenshot("1-storefront-cart");
    auto buy = browser->find("#buy");
    browser->click(buy);
    try {
      browser->click(buy);  // the double click: ignored or too late, never a second order
    } catch (const WebDriverError&) {
      // The page had already moved on to the payment page.
    }
    EXPECT_TRUE(url_starts_with(pay_url() + "/pay/")) << "not on the payment page: " << browser->url();
    const std::string payment_page = browser->url();

    // The customer goes back, reloads and buys the same cart again: the
    // cart's key (sessionStorage) is the same, so is the checkout.
    fill_cart(pencils);
    browser->screenshot("2-storefront-again");
    browser->click("#buy");
    EXPECT_TRUE(url_starts_with(pay_url() + "/pay/")) << browser->url();
    EXPECT_EQ(browser->url(), payment_page) << "the same cart made a second checkout";

    EXPECT_TRUE(page_until("return document.getElementById('actions').hidden", false))
        << "no Pay / Cancel buttons on " << browser->url();
    EXPECT_EQ(browser->text("#amount"), money_text(pencils * 8999));
    EXPECT_EQ(browser->text("#items tbody tr td:nth-child(1)"), "Pencil");
    browser->screenshot("3-payment-pending");
    return payment_page;
  }

  // The order page, once the button has sent the customer back to it.
  void expect_order_page(const std::string& order_id, const std::string& final_status) {
    EXPECT_TRUE(url_starts_with(shop_url() + "/orders/")) << browser->url();
    EXPECT_EQ(browser->url(), shop_url() + "/orders/" + order_id);
    browser->screenshot("4-order-after-redirect");
    EXPECT_TRUE(page_until("return document.getElementById('order-status').dataset.status", final_status, 30s))
        << "the order page shows " << browser->text("#order-status") << ", not " << final_status;
    EXPECT_EQ(browser->text("#order-id"), order_id);
    browser->screenshot("5-order-" + final_status);
  }

  // The one order of the test, with its checks: one session, `charges` charges.
  json the_order(size_t expected_charges) {
    std::vector<json> orders = all_orders();
    EXPECT_EQ(orders.size(), 1u) << "one cart, one order";
    if (orders.empty()) return json::object();
    const json order = orders.front();
    const std::string id = order.at("order_id").get<std::string>();
    EXPECT_EQ(sessions_per_order()[id], 1) << "one payment session for the order";
    std::vector<json> charged = charges();
    EXPECT_EQ(charged.size(), expected_charges);
    for (const auto& c : charged) EXPECT_EQ(c.at("client_reference_id"), id);
    return order;
  }
};

TEST_F(CheckoutBrowserTest, BuyTwiceClickedThenPayEndsFulfilledWithOneOrderAndOneCharge) {
  const std::string payment_page = buy_pencils(3);
  json order = the_order(0);
  const std::string id = order.value("order_id", "");
  EXPECT_EQ(order.value("status", ""), "awaiting_payment");

  browser->click("#pay");
  expect_order_page(id, "fulfilled");
  EXPECT_EQ(browser->text("#order-amount"), money_text(3 * 8999));
  EXPECT_EQ(browser->text("#order-items tbody tr td:nth-child(1)"), "Pencil");

  order = the_order(1);
  EXPECT_EQ(order.value("status", ""), "fulfilled");
  EXPECT_EQ(order.value("amount_cents", int64_t{0}), 3 * 8999);
  EXPECT_EQ(inventory(2), kSeed - 3) << "stock down by the quantity bought";
  EXPECT_EQ(inventory(1), kSeed);

  // Back on the payment page: it says the session is paid, with no buttons.
  browser->go(payment_page);
  EXPECT_TRUE(page_until("return document.getElementById('session-status').dataset.status", "paid"));
  EXPECT_TRUE(browser->execute("return document.getElementById('actions').hidden").get<bool>());
  browser->screenshot("6-payment-already-paid");
  check_rules();
}

TEST_F(CheckoutBrowserTest, BuyThenCancelEndsCancelledWithTheStockBack) {
  const std::string payment_page = buy_pencils(2);
  const std::string id = the_order(0).value("order_id", "");
  EXPECT_EQ(inventory(2), kSeed - 2) << "held while awaiting payment";

  browser->click("#cancel");
  expect_order_page(id, "cancelled");
  EXPECT_FALSE(browser->execute("return document.getElementById('order-reason').hidden").get<bool>());
  EXPECT_NE(browser->text("#order-reason").find("cancelled"), std::string::npos) << browser->text("#order-reason");

  json order = the_order(0);
  EXPECT_EQ(order.value("status", ""), "cancelled");
  EXPECT_EQ(order.value("failure", ""), "payment_cancelled");
  EXPECT_EQ(inventory(2), kSeed) << "the stock is back";

  // Back on the payment page: it says the payment was cancelled, no buttons.
  browser->go(payment_page);
  EXPECT_TRUE(page_until("return document.getElementById('session-status').dataset.status", "cancelled"));
  EXPECT_TRUE(browser->execute("return document.getElementById('actions').hidden").get<bool>());
  browser->screenshot("6-payment-already-cancelled");

  // The same cart again is a new order (the old key was spent).
  fill_cart(2);
  browser->click("#buy");
  EXPECT_TRUE(url_starts_with(pay_url() + "/pay/")) << browser->url();
  EXPECT_EQ(all_orders().size(), 2u) << "a cancelled cart bought again is a new order";
  browser->screenshot("7-payment-new-order");
  check_rules();
}

TEST_F(CheckoutBrowserTest, ShopKilledWhileTheCustomerIsOnThePaymentPageStillEndsFulfilled) {
  buy_pencils(4);
  const std::string id = the_order(0).value("order_id", "");

  shop->kill9();
  shop->respawn();
  wait_ready(*shop, shop_url() + "/products");
  ASSERT_FALSE(HasFatalFailure());
  browser->screenshot("3b-payment-pending-shop-restarted");

  browser->click("#pay");
  expect_order_page(id, "fulfilled");

  json order = the_order(1);
  EXPECT_EQ(order.value("status", ""), "fulfilled");
  EXPECT_EQ(inventory(2), kSeed - 4);
  check_rules();
}

TEST_F(CheckoutBrowserTest, OutOfStockIsShownFromTheAnswerAndHoldsNothing) {
  fill_cart(static_cast<int>(kSeed) + 1);
  browser->click("#buy");
  ASSERT_TRUE(page_until("return document.getElementById('message').classList.contains('error')", true))
      << browser->text("#message");
  const std::string message = browser->text("#message");
  EXPECT_EQ(message.rfind("Your order was not placed: product 2 (Pencil)", 0), 0u) << message;
  EXPECT_EQ(browser->url(), shop_url() + "/") << "no payment page for a refused order";
  EXPECT_FALSE(browser->execute("return document.getElementById('buy').disabled").get<bool>());
  browser->screenshot("1-storefront-out-of-stock");

  // The refusal is final for that key: the page forgot it, so the same cart
  // again is a second (refused) checkout, not a replay of the first.
  browser->click("#buy");
  EXPECT_TRUE(Browser::wait_until([&] { return all_orders().size() == 2; }, 20s));
  for (const auto& o : all_orders()) {
    EXPECT_EQ(o.value("status", ""), "failed");
    EXPECT_EQ(o.value("failure", ""), "out_of_stock");
  }
  EXPECT_EQ(inventory(2), kSeed);
  EXPECT_TRUE(charges().empty());
  // Chromium logs each refused fetch (409) to the console; those two lines,
  // and nothing else, are expected here.
  for (const auto& e : browser->console_errors())
    EXPECT_NE(e.find("409"), std::string::npos) << "unexpected console error: " << e;
  check_rules();
}

}  // namespace
