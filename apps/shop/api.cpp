#include "shop/api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <set>

#include "common/await_result.hpp"
#include "common/webhook_signature.hpp"
#include "shop/checkout.hpp"
#include "shop/pages.hpp"

namespace keel::apps::shop {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr size_t kMaxKeyLength = 255;
constexpr size_t kMaxLines = 100;
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 500;

bool key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

int64_t positive_int(const json& v, const std::string& what) {
  if (!v.is_number_integer()) throw HttpError(400, "invalid_request", what + " must be a positive integer");
  int64_t n = 0;
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw HttpError(400, "invalid_request", what + " is too large");
    n = static_cast<int64_t>(v.get<uint64_t>());
  } else {
    n = v.get<int64_t>();
  }
  if (n <= 0) throw HttpError(400, "invalid_request", what + " must be a positive integer");
  return n;
}

bool wants_json(const HttpRequest& req) {
  auto accept = req.header("accept");
  return accept && accept->find("application/json") != std::string::npos;
}

// '...' for a POSIX shell.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

HttpResponse session_answer(const json& ev, bool as_json) {
  if (ev.contains("error")) {
    const std::string code = ev.value("error", std::string("checkout_failed"));
    const std::string msg = ev.value("message", std::string("the checkout failed"));
    if (code == "out_of_stock") throw HttpError(409, code, msg);
    if (code == "unknown_product") throw HttpError(400, code, msg);
    if (code == "payment_unavailable") throw HttpError(503, code, msg);
    throw HttpError(500, code, msg);
  }
  const std::string order_id = ev.at("order_id").get<std::string>();
  const std::string session_id = ev.at("session_id").get<std::string>();
  const std::string payments = ev.at("payments_url").get<std::string>();
  const json body{{"session_id", session_id}};
  const std::string submit_url = payments + "/api/submit_payment";
  const std::string cancel_url = payments + "/api/cancel_payment";
  if (as_json) {
    return HttpResponse::json(json{{"order_id", order_id},
                                   {"session_id", session_id},
                                   {"amount_cents", ev.at("amount_cents")},
                                   {"payment_url", ev.value("payment_url", std::string())},
                                   {"submit_payment", {{"url", submit_url}, {"body", body}}},
                                   {"cancel_payment", {{"url", cancel_url}, {"body", body}}}});
  }
  // As the tutorial prints it: two ready curl commands.
  auto curl = [&](const std::string& url, const std::string& key) {
    return "curl -X POST " + url + " -H \"Content-type: application/json\" -H \"dbos-idempotency-key: " + key +
           "\" -d " + shell_quote(body.dump()) + "\n";
  };
  return HttpResponse::text("Submit payment:\n" + curl(submit_url, "submit-" + session_id) + "Cancel payment:\n" +
                            curl(cancel_url, "cancel-" + session_id));
}

int64_t parse_cursor(const std::string& c) {
  // 19 digits can exceed int64 ("c9999999999999999999"): from_chars says
  // so (std::stoll threw std::out_of_range, a 500).
  int64_t seq = 0;
  const char* end = c.data() + c.size();
  bool ok = c.size() >= 2 && c.size() <= 20 && c[0] == 'c' &&
            std::all_of(c.begin() + 1, c.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (ok) {
    auto [ptr, ec] = std::from_chars(c.data() + 1, end, seq);
    ok = ec == std::errc() && ptr == end;
  }
  if (!ok)
    throw HttpError(400, "invalid_cursor", "'after' is not a cursor returned by GET /orders");
  return seq;
}

}  // namespace

std::string orders_cursor(int64_t seq) { return "c" + std::to_string(seq); }

void validate_checkout_key(const std::string& key) {
  if (key.size() > kMaxKeyLength)
    throw HttpError(400, "invalid_key", "the idempotency key is longer than 255 characters");
  if (!std::all_of(key.begin(), key.end(), key_char))
    throw HttpError(400, "invalid_key", "the idempotency key may only contain A-Z a-z 0-9 . _ : -");
}

CheckoutRequest parse_checkout_body(const std::string& body) {
  CheckoutRequest r;
  bool blank = std::all_of(body.begin(), body.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
  if (blank) {
    r.items.push_back(LineItem{1, 1});  // as in the tutorial: one unit of product 1
    return r;
  }
  HttpRequest fake;
  fake.body = body;
  json j = parse_json_body(fake);
  if (!j.is_object() || !j.contains("items"))
    throw HttpError(400, "invalid_request", "the body must be {\"items\": [{\"product_id\": N, \"quantity\": N}, ...]}");
  const json& items = j["items"];
  if (!items.is_array()) throw HttpError(400, "invalid_request", "items must be an array");
  if (items.empty()) throw HttpError(400, "invalid_request", "items must hold at least one line");
  if (items.size() > kMaxLines) throw HttpError(400, "invalid_request", "items may hold at most 100 lines");
  for (size_t i = 0; i < items.size(); ++i) {
    const json& line = items[i];
    const std::string where = "items[" + std::to_string(i) + "]";
    if (!line.is_object()) throw HttpError(400, "invalid_request", where + " must be an object");
    if (!line.contains("product_id")) throw HttpError(400, "invalid_request", where + ".product_id is missing");
    if (!line.contains("quantity")) throw HttpError(400, "invalid_request", where + ".quantity is missing");
    r.items.push_back(LineItem{positive_int(line["product_id"], where + ".product_id"),
                               positive_int(line["quantity"], where + ".quantity")});
  }
  return r;
}

PaymentEvent parse_payment_event(const HttpRequest& req) {
  json ev = parse_json_body(req);
  auto str = [&](const char* field) -> std::string {
    if (!ev.is_object() || !ev.contains(field) || !ev[field].is_string() || ev[field].get<std::string>().empty())
      throw HttpError(400, "invalid_event", std::string("the event's '") + field + "' must be a non-empty string");
    return ev[field].get<std::string>();
  };
  PaymentEvent out{str("id"), str("type"), str("session_id"), str("client_reference_id"), nullptr};
  if (!ev.contains("created") || !ev["created"].is_number_integer())
    throw HttpError(400, "invalid_event", "the event's 'created' must be an integer (unix seconds)");
  out.created = ev["created"];
  return out;
}

int64_t parse_last_event_id(const std::optional<std::string>& header) {
  if (!header) return 0;
  int64_t seen = -1;
  auto [ptr, ec] = std::from_chars(header->data(), header->data() + header->size(), seen);
  // INT64_MAX is no offset a stream wrote (the next one would overflow).
  if (ec != std::errc() || ptr != header->data() + header->size() || seen < 0 ||
      seen == std::numeric_limits<int64_t>::max())
    throw HttpError(400, "invalid_request", "Last-Event-ID must be an event id of this stream");
  return seen + 1;
}

OrdersQuery parse_orders_query(const HttpRequest& req) {
  OrdersQuery q;
  q.status = req.query_param("status");
  if (q.status && q.status->empty()) q.status.reset();
  if (q.status && !is_order_status(*q.status))
    throw HttpError(400, "invalid_request",
                    "status must be one of reserving, awaiting_payment, fulfilled, cancelled, failed");
  q.limit = kDefaultPageSize;
  if (auto l = req.query_param("limit")) {
    if (l->empty() || l->size() > 4 || !std::all_of(l->begin(), l->end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw HttpError(400, "invalid_request", "limit must be an integer from 1 to 500");
    q.limit = std::stoi(*l);
    if (q.limit < 1 || q.limit > kMaxPageSize)
      throw HttpError(400, "invalid_request", "limit must be an integer from 1 to 500");
  }
  if (auto a = req.query_param("after"); a && !a->empty()) q.after = parse_cursor(*a);
  return q;
}

ShopApi::ShopApi(keel::Runtime& rt, keel::Workflow<std::string, CheckoutRequest> checkout, ApiSettings settings)
    : rt_(rt), checkout_(std::move(checkout)), settings_(std::move(settings)) {}

void ShopApi::add_routes(HttpService& http) {
  http.route("POST", "/checkout/:key?", [this](const HttpRequest& r) { return checkout(r); });
  http.route("POST", "/payment_webhook", [this](const HttpRequest& r) { return payment_webhook(r); });
  http.route("GET", "/orders/:order_id/events", [this](const HttpRequest& r) { return order_events(r); });
  http.route("GET", "/orders/:order_id", [this](const HttpRequest& r) { return get_order(r); });
  http.route("GET", "/orders", [this](const HttpRequest& r) { return list_orders(r); });
  http.route("GET", "/products", [this](const HttpRequest& r) { return list_products(r); });
  add_page_routes(http);
}

HttpResponse ShopApi::checkout(const HttpRequest& req) {
  std::optional<std::string> key = req.path_param("key");
  if (key && key->empty()) key.reset();
  if (key) validate_checkout_key(*key);
  CheckoutRequest order = parse_checkout_body(req.body);

  // Unknown products are refused before anything is recorded.
  std::set<int64_t> known;
  rt_.run_sql_read([&](keel::Sql& sql) {
    for (const auto& p : store::list_products(sql)) known.insert(p.product_id);
  });
  for (const auto& line : order.items)
    if (!known.count(line.product_id))
      throw HttpError(400, "unknown_product", "there is no product " + std::to_string(line.product_id));

  std::string id;
  try {
    id = rt_.start(checkout_, keel::StartOptions{.workflow_id = key.value_or("")}, order).id();
  } catch (const keel::WorkflowConflictError&) {
    throw HttpError(409, "idempotency_key_reused", "the key '" + key.value_or("") + "' belongs to another request");
  } catch (const keel::RuntimeStateError& e) {
    throw HttpError(503, "shutting_down", e.what());
  }
  if (key) {
    // Starting an existing ID runs nothing: this request joins that checkout,
    // which is only right if it asks for the same thing.
    auto info = rt_.get_workflow(id);
    bool same = false;
    if (info && info->inputs.is_array() && info->inputs.size() == 1) {
      try {
        same = info->inputs[0].get<CheckoutRequest>() == order;
      } catch (const std::exception&) {
        same = false;
      }
    }
    if (!same)
      throw HttpError(409, "idempotency_key_reused",
                      "the key '" + id + "' was already used for a checkout with another body");
  }
  json ev = wait_for_session(id);
  return session_answer(ev, wants_json(req));
}

json ShopApi::wait_for_session(const std::string& order_id) {
  const auto until = std::chrono::steady_clock::now() + settings_.session_wait;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    std::optional<json> ev;
    try {
      ev = rt_.get_event<json>(order_id, kSessionEvent, std::clamp<std::chrono::milliseconds>(left, 0ms, 1000ms));
      if (ev) return *ev;
      auto info = rt_.get_workflow(order_id);
      if (!info) throw HttpError(500, "internal_error", "the checkout " + order_id + " vanished");
      if (keel::is_terminal(info->status)) {
        if ((ev = rt_.get_event<json>(order_id, kSessionEvent, 0ms))) return *ev;
        throw HttpError(500, "checkout_failed",
                        "the checkout " + order_id + " ended (" + keel::to_string(info->status) +
                            ") without a payment session");
      }
      // Parked on a full disk: 503 storage_full now, not after session_wait.
      throw_if_storage_full(rt_, "the checkout " + order_id);
    } catch (const keel::RuntimeStateError& e) {
      throw HttpError(503, "shutting_down", e.what());
    }
    if (std::chrono::steady_clock::now() >= until)
      throw HttpError(503, "checkout_in_progress",
                      "the payment session of " + order_id + " is not ready yet; ask again with the same key",
                      json{{"order_id", order_id}});
  }
}

HttpResponse ShopApi::payment_webhook(const HttpRequest& req) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto header = req.header("Payment-Signature");
  auto check = verify_webhook(settings_.webhook_secret, header.value_or(""), req.body, now,
                              settings_.webhook_tolerance_seconds);
  if (!header || header->empty()) check = SignatureCheck::Missing;
  if (check != SignatureCheck::Valid) {
    spdlog::warn("payment_webhook: rejected ({})", to_string(check));
    throw HttpError(400, "invalid_signature", std::string("the Payment-Signature is not valid: ") + to_string(check));
  }
  const PaymentEvent ev = parse_payment_event(req);
  const std::string& event_id = ev.id;
  const std::string& type = ev.type;
  const std::string& session_id = ev.session_id;
  const std::string& order_id = ev.order_id;

  if (type != "payment.succeeded" && type != "payment.cancelled" && type != "payment.expired") {
    spdlog::warn("[{}] payment_webhook: ignoring event {} of unknown type {}", order_id, event_id, type);
    return HttpResponse::json({{"received", true}, {"ignored", "unknown event type"}});
  }
  auto info = rt_.get_workflow(order_id);
  if (!info || info->name != kCheckoutWorkflow) {
    spdlog::warn("[{}] payment_webhook: ignoring event {} ({}): no such order", order_id, event_id, type);
    return HttpResponse::json({{"received", true}, {"ignored", "unknown order"}});
  }
  const json message{{"id", event_id}, {"type", type}, {"session_id", session_id},
                     {"client_reference_id", order_id}, {"created", ev.created}};
  try {
    // Durable before we answer; the event id makes a redelivery a no-op.
    rt_.send(order_id, message, kPaymentTopic, "payment_webhook:" + order_id + ":" + event_id);
  } catch (const keel::WorkflowNotFoundError&) {
    return HttpResponse::json({{"received", true}, {"ignored", "unknown order"}});
  } catch (const keel::RuntimeStateError& e) {
    throw HttpError(503, "shutting_down", e.what());
  }
  spdlog::info("[{}] payment_webhook: recorded event {} ({}) for session {}", order_id, event_id, type, session_id);
  return HttpResponse::json({{"received", true}});
}

HttpResponse ShopApi::get_order(const HttpRequest& req) {
  const std::string id = req.path_param("order_id").value_or("");
  std::optional<Order> order;
  rt_.run_sql_read([&](keel::Sql& sql) { order = store::get_order(sql, id); });
  // A browser gets the page, which reads this same JSON (and says when there
  // is no such order); everyone else, as before, the JSON.
  if (wants_html(req)) return order_page(order ? 200 : 404);
  if (!order) throw HttpError(404, "order_not_found", "there is no order '" + id + "'");
  return HttpResponse::json(order_json(*order));
}

// Server-Sent Events: the order's progress stream (kProgressStream), one
// event per state change ("event: <status>", "data: {order_id, status}",
// "id: <offset>"), from the start or after the Last-Event-ID a reconnecting
// client sends; the response ends with the checkout workflow (an "end"
// event). A comment line every few seconds keeps idle proxies from closing
// it and finds a client that has gone.
HttpResponse ShopApi::order_events(const HttpRequest& req) {
  const std::string id = req.path_param("order_id").value_or("");
  std::optional<keel::WorkflowInfo> info;
  try {
    info = rt_.get_workflow(id);
  } catch (const keel::RuntimeStateError& e) {
    throw HttpError(503, "shutting_down", e.what());
  }
  if (!info || info->name != kCheckoutWorkflow) throw HttpError(404, "order_not_found", "there is no order '" + id + "'");
  const int64_t from = parse_last_event_id(req.header("last-event-id"));
  HttpResponse res;
  res.content_type = "text/event-stream";
  res.headers["Cache-Control"] = "no-cache";
  res.stream = [this, id, from](const std::function<bool(std::string_view)>& write) {
    constexpr auto kKeepAlive = 5s;
    try {
      auto reader = rt_.stream_reader<json>(id, kProgressStream, from);
      for (;;) {
        const int64_t offset = reader.offset();
        if (auto v = reader.next(kKeepAlive)) {
          const std::string status = v->value("status", std::string("unknown"));
          if (!write("id: " + std::to_string(offset) + "\nevent: " + status + "\ndata: " + dump_json(*v) + "\n\n"))
            return;
        } else if (reader.ended()) {
          write("event: end\ndata: {}\n\n");
          return;
        } else if (!write(": keep-alive\n\n")) {
          return;
        }
      }
    } catch (const std::exception& e) {  // the runtime shutting down, the database gone
      spdlog::warn("[{}] GET /orders/{}/events: {}", id, id, e.what());
    }
  };
  return res;
}

HttpResponse ShopApi::list_orders(const HttpRequest& req) {
  const OrdersQuery q = parse_orders_query(req);
  const int limit = q.limit;
  std::vector<Order> orders;
  rt_.run_sql_read([&](keel::Sql& sql) { orders = store::list_orders(sql, q.status, q.after, q.limit); });
  json out = json::array();
  for (const auto& o : orders) out.push_back(order_json(o));
  json next = nullptr;
  if (static_cast<int>(orders.size()) == limit && !orders.empty()) next = orders_cursor(orders.back().seq);
  return HttpResponse::json({{"orders", out}, {"next", next}});
}

HttpResponse ShopApi::list_products(const HttpRequest&) {
  std::vector<Product> products;
  rt_.run_sql_read([&](keel::Sql& sql) { products = store::list_products(sql); });
  json out = json::array();
  for (const auto& p : products) out.push_back(product_json(p));
  return HttpResponse::json(out);
}

}  // namespace keel::apps::shop
