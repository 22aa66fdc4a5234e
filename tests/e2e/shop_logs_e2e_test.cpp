// The shop and the payment service logging one JSON object per line
// (--log-format json) through a paid checkout.
#include "shop_e2e_fixture.hpp"

using namespace keel_shop_e2e;

namespace {

// --log-format json: every line either service logs while serving a paid
// checkout is one JSON object, and the checkout's own lines (and the payment
// service's transaction that creates the session) name their workflow.
TEST_F(ShopE2E, JsonLogsAreOneObjectPerLineAndNameTheCheckout) {
  start_payments({"--log-format", "json"});
  start_shop("30s", {"--log-format", "json"});
  json j = checkout_ok("json-1");
  const std::string sid = j.value("session_id", "");
  ASSERT_EQ(pay_action("submit_payment", sid).status, 200);
  ASSERT_TRUE(wait_status("json-1", "fulfilled")) << status_of("json-1");
  ASSERT_TRUE(eventually([&] { return shop_logged("Checkout json-1 succeeded"); }, 5s));
  shop->stop();
  payments->stop();

  auto lines_of = [](const std::string& log) {
    std::vector<json> out;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
      json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_TRUE(parsed.is_object() && parsed.contains("ts") && parsed.contains("level") && parsed.contains("msg"))
          << "not a JSON log line: " << line;
      if (parsed.is_object()) out.push_back(std::move(parsed));
    }
    return out;
  };
  auto has = [](const json& line, const std::string& text) {
    return line.value("msg", "").find(text) != std::string::npos;
  };
  int checkout_lines = 0;
  for (const json& line : lines_of(shop->log())) {
    if (!has(line, "Checkout json-1")) continue;
    ++checkout_lines;
    EXPECT_EQ(line.value("workflow_id", ""), "json-1") << line.dump();
  }
  EXPECT_GE(checkout_lines, 1);
  int created = 0;
  for (const json& line : lines_of(payments->log())) {
    if (!has(line, "payment session " + sid + " created")) continue;
    ++created;
    EXPECT_FALSE(line.value("workflow_id", "").empty()) << line.dump();
    EXPECT_EQ(line.value("step", ""), "insert_session") << line.dump();
  }
  EXPECT_EQ(created, 1);
}

}  // namespace
