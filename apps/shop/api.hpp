// shop/api.hpp — the shop's HTTP handlers (spec/http.md, "The shop").
//
//   POST /checkout/:key?     start (or join) the checkout of key; answer once
//                            its payment session exists
//   POST /payment_webhook    signed payment events -> the checkout's "payment" topic
//   GET  /orders/:order_id   one order (JSON; the order page for a browser)
//   GET  /orders             ?status=S&limit=N&after=CURSOR
//   GET  /products           the catalogue with its inventory
//   GET  /, /assets/:name    the storefront and its files (shop/pages.hpp)
//
// Contract:
//  * Handlers validate everything before any durable write: a 4xx answer
//    means nothing changed.
//  * POST /checkout with a key runs the checkout at most once per key (the key
//    is the workflow ID); the same key with another body is 409
//    idempotency_key_reused. The answer comes from the workflow's
//    "payment_session" event, so it is the same for every request with that key.
//  * POST /payment_webhook answers 200 only once the event is durably
//    recorded for its order (keel send with the event id as idempotency key),
//    so a redelivered event is recorded once. An event for an unknown order
//    (or of an unknown type) is acknowledged with 200 and ignored, so the
//    payment service stops retrying what can never apply.
// Thread-safety: handlers are called concurrently; ShopApi holds only
// immutable state and the (thread-safe) Runtime.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/http_service.hpp"
#include "keel/keel.hpp"
#include "shop/store.hpp"

namespace keel::apps::shop {

struct ApiSettings {
  std::string webhook_secret = "whsec_dev";
  int64_t webhook_tolerance_seconds = 300;
  // How long POST /checkout waits for the payment session before answering
  // 503 checkout_in_progress (the checkout goes on; ask again with the key).
  // Covers the >= 10 s the checkout spends retrying an unreachable payment service.
  std::chrono::milliseconds session_wait{std::chrono::seconds(60)};
};

class ShopApi {
 public:
  ShopApi(keel::Runtime& rt, keel::Workflow<std::string, CheckoutRequest> checkout, ApiSettings settings);

  void add_routes(HttpService& http);

  HttpResponse checkout(const HttpRequest& req);
  HttpResponse payment_webhook(const HttpRequest& req);
  HttpResponse get_order(const HttpRequest& req);
  HttpResponse order_events(const HttpRequest& req);
  HttpResponse list_orders(const HttpRequest& req);
  HttpResponse list_products(const HttpRequest& req);

 private:
  nlohmann::json wait_for_session(const std::string& order_id);

  keel::Runtime& rt_;
  keel::Workflow<std::string, CheckoutRequest> checkout_;
  ApiSettings settings_;
};

// Exposed for tests of the validation rules (and the fuzz targets of
// tests/fuzz): each throws HttpError 400 when invalid, and nothing else.
void validate_checkout_key(const std::string& key);
CheckoutRequest parse_checkout_body(const std::string& body);

// GET /orders ?status=S&limit=N&after=CURSOR.
struct OrdersQuery {
  std::optional<std::string> status;
  int limit = 100;
  int64_t after = 0;  // the seq after which the page starts
};
OrdersQuery parse_orders_query(const HttpRequest& req);
// The cursor GET /orders returns as "next" for the page ending at seq.
std::string orders_cursor(int64_t seq);

// GET /orders/:id/events: the offset of the first event to send, after the
// Last-Event-ID a reconnecting client sends (0 without one). The header must
// be an event id this stream can have written (a decimal offset below
// INT64_MAX); anything else is HttpError 400.
int64_t parse_last_event_id(const std::optional<std::string>& header);

// The body of POST /payment_webhook (after its signature is checked).
struct PaymentEvent {
  std::string id;
  std::string type;
  std::string session_id;
  std::string order_id;  // client_reference_id
  nlohmann::json created;  // an integer (unix seconds)
};
PaymentEvent parse_payment_event(const HttpRequest& req);

}  // namespace keel::apps::shop
