// The shop's request parsing outside the handlers (shop/api.hpp): the
// GET /orders query and the payment webhook's event. Each case here was
// first found by a fuzz target (tests/fuzz, docs/testing.md "Fuzzing");
// its input is in that target's corpus too.
#include <gtest/gtest.h>

#include <string>

#include "shop/api.hpp"

namespace {

using keel::apps::HttpError;
using keel::apps::HttpRequest;
using namespace keel::apps::shop;

HttpRequest query(std::initializer_list<std::pair<const std::string, std::string>> params) {
  HttpRequest r;
  r.query = params;
  return r;
}

void expect_400(const HttpRequest& req, const std::string& code) {
  try {
    (void)parse_orders_query(req);
    FAIL() << "accepted";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.code(), code);
  }
}

TEST(ShopInput, OrdersQueryDefaultsAndCursorRoundTrip) {
  OrdersQuery q = parse_orders_query(query({}));
  EXPECT_FALSE(q.status);
  EXPECT_EQ(q.limit, 100);
  EXPECT_EQ(q.after, 0);
  q = parse_orders_query(query({{"status", "fulfilled"}, {"limit", "500"}, {"after", orders_cursor(42)}}));
  EXPECT_EQ(q.status, "fulfilled");
  EXPECT_EQ(q.limit, 500);
  EXPECT_EQ(q.after, 42);
  EXPECT_EQ(parse_orders_query(query({{"after", orders_cursor(INT64_MAX)}})).after, INT64_MAX);
}

// fuzz_shop_orders_query: a cursor of 19 digits above INT64_MAX passed the
// shape check and std::stoll threw std::out_of_range out of the handler (a
// 500 internal_error instead of a 400).
TEST(ShopInput, OrdersCursorBeyondInt64IsInvalidCursor) {
  expect_400(query({{"after", "c9223372036854775808"}}), "invalid_cursor");
  expect_400(query({{"after", "c9999999999999999999"}}), "invalid_cursor");
  expect_400(query({{"after", "c"}}), "invalid_cursor");
  expect_400(query({{"limit", "0"}}), "invalid_request");
  expect_400(query({{"status", "paid"}}), "invalid_request");
}

// Reading the code for fuzz_shop_orders_query's Last-Event-ID line: an id of
// INT64_MAX made the next offset overflow (undefined behaviour).
TEST(ShopInput, LastEventIdIsADecimalOffsetBelowInt64Max) {
  EXPECT_EQ(parse_last_event_id(std::nullopt), 0);
  EXPECT_EQ(parse_last_event_id("0"), 1);
  EXPECT_EQ(parse_last_event_id("41"), 42);
  EXPECT_EQ(parse_last_event_id("9223372036854775806"), INT64_MAX);
  for (const char* bad : {"9223372036854775807", "9223372036854775808", "-1", "", " 1", "1 ", "0x1", "+1"}) {
    try {
      (void)parse_last_event_id(std::string(bad));
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status(), 400) << bad;
      EXPECT_EQ(e.code(), "invalid_request") << bad;
    }
  }
}

TEST(ShopInput, PaymentEventNeedsItsFields) {
  HttpRequest req;
  req.body = R"({"id":"evt_1","type":"payment.succeeded","session_id":"cs_1","client_reference_id":"o1","created":5})";
  PaymentEvent ev = parse_payment_event(req);
  EXPECT_EQ(ev.id, "evt_1");
  EXPECT_EQ(ev.order_id, "o1");
  EXPECT_EQ(ev.created, 5);
  for (const char* bad : {R"([])", R"({"id":"e"})", R"({"id":"e","type":"t","session_id":"s","client_reference_id":"o","created":1.5})",
                          "{", ""}) {
    req.body = bad;
    EXPECT_THROW(parse_payment_event(req), HttpError) << bad;
  }
}

}  // namespace
