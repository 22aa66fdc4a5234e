// The payment service's HTTP handlers: validation, then the workflow of the
// request (workflows.hpp) or a read of the tables (store.hpp).
#include "payments/api.hpp"

#include <cstdio>
#include <functional>

#include "common/await_result.hpp"
#include "common/web_assets.hpp"
#include "payments/store.hpp"
#include "payments/workflows.hpp"

namespace keel::apps {
// Generated at build time (apps/payments/CMakeLists.txt): pay.html, pay.js, ...
std::span<const WebAsset> payments_web_assets();
}  // namespace keel::apps

namespace keel::payments {

using apps::HttpError;
using apps::HttpRequest;
using apps::HttpResponse;

namespace {

// How long a request waits for its workflow's answer before 409 request_in_progress.
constexpr std::chrono::milliseconds kRequestWait{30'000};

std::string money(int64_t cents) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

HttpError session_not_found(const std::string& session_id) {
  return HttpError(404, "session_not_found", "no payment session " + session_id);
}

}  // namespace

std::optional<std::string> idempotency_key_of(const HttpRequest& req, bool required) {
  std::optional<std::string> key;
  for (const char* name : {"idempotency-key", "dbos-idempotency-key", "dbos-idmpotency-key"}) {
    if ((key = req.header(name))) break;
  }
  if (!key) {
    if (required)
      throw HttpError(400, "missing_idempotency_key",
                      "the Idempotency-Key header is required (also accepted: dbos-idempotency-key)");
    return std::nullopt;
  }
  if (key->empty() || key->size() > kMaxIdempotencyKeyLength)
    throw HttpError(400, "invalid_idempotency_key",
                    "the idempotency key must be 1 to " + std::to_string(kMaxIdempotencyKeyLength) + " characters");
  for (unsigned char c : *key)
    if (c < 0x20 || c == 0x7f)
      throw HttpError(400, "invalid_idempotency_key", "the idempotency key must not contain control characters");
  return key;
}

PaymentApi::PaymentApi(Runtime& rt, const ServiceConfig& config, apps::HttpService& http)
    : rt_(rt), config_(config), http_(http) {
  add_routes();
}

void PaymentApi::add_routes() {
  auto gated = [this](apps::HttpHandler handler) {
    return [this, handler = std::move(handler)](const HttpRequest& req) {
      if (!ready_.load()) throw HttpError(503, "starting", "the payment service is starting; retry shortly");
      return handler(req);
    };
  };
  auto action = [this](std::string name) {
    return [this, name](const HttpRequest& req) { return handle_status_change(req, name); };
  };
  http_.route("POST", "/api/create_payment_session", gated(std::bind_front(&PaymentApi::handle_create, this)));
  http_.route("POST", "/api/submit_payment", gated(action("submit")));
  http_.route("POST", "/api/cancel_payment", gated(action("cancel")));
  http_.route("POST", "/api/expire_session", gated(action("expire")));
  http_.route("GET", "/api/sessions/:id", gated(std::bind_front(&PaymentApi::handle_get_session, this)));
  http_.route("GET", "/api/charges", gated(std::bind_front(&PaymentApi::handle_charges, this)));
  http_.route("GET", "/pay/:id", gated(std::bind_front(&PaymentApi::handle_pay_page, this)));
  apps::add_asset_routes(http_, apps::payments_web_assets());  // the pay page's script, style, icon
  http_.route("GET", "/healthz", [this](const HttpRequest&) {
    if (!ready_.load()) return HttpResponse::json({{"status", "starting"}}, 503);
    return HttpResponse::json({{"status", "healthy"}});
  });
}

HttpResponse PaymentApi::handle_create(const HttpRequest& req) {
  std::string key = *idempotency_key_of(req, /*required=*/true);
  Json body = apps::parse_json_body(req);
  auto validated = validate_create_request(body);
  if (auto* err = std::get_if<ValidationError>(&validated)) throw HttpError(400, "invalid_request", err->message);

  CreateInput in;
  in.idempotency_key = key;
  in.fingerprint = sha256_hex(body.dump());  // nlohmann sorts keys: a canonical form
  in.nonce = new_id("req");
  in.request = std::get<CreateRequest>(std::move(validated));
  in.delay_ms = config_.test_create_delay.count();

  const std::string id = create_session_workflow_id(key);
  auto info = rt_.get_workflow(id);
  if (!info) {
    (void)rt_.start(kCreateSession, with_id(id), in);
    info = rt_.get_workflow(id);
    if (!info) throw std::runtime_error("workflow " + id + " vanished after its start");
  }
  CreateInput stored = info->inputs.at(0).get<CreateInput>();
  if (stored.fingerprint != in.fingerprint)
    throw HttpError(409, "idempotency_key_reused",
                    "this idempotency key was already used with a different request body");
  bool mine = stored.nonce == in.nonce;
  if (!mine && !is_terminal(info->status))
    throw HttpError(409, "request_in_progress", "a request with this idempotency key is still being processed");
  try {
    return HttpResponse::json(apps::await_result(rt_, rt_.retrieve<Json>(id), kRequestWait));
  } catch (const TimeoutError&) {
    throw HttpError(409, "request_in_progress", "a request with this idempotency key is still being processed");
  }
}

void PaymentApi::check_request_key(const std::string& endpoint, const std::string& key,
                                   const std::string& fingerprint) {
  std::string stored;
  rt_.run_sql_write([&](Sql& sql) { stored = store::bind_request_key(sql, endpoint, key, fingerprint, now_ms()); });
  if (stored != fingerprint)
    throw HttpError(409, "idempotency_key_reused",
                    "this idempotency key was already used on " + endpoint + " with a different request body");
}

HttpResponse PaymentApi::handle_status_change(const HttpRequest& req, const std::string& action) {
  auto key = idempotency_key_of(req, /*required=*/false);
  Json body = apps::parse_json_body(req);
  auto validated = validate_session_request(body);
  if (auto* err = std::get_if<ValidationError>(&validated)) throw HttpError(400, "invalid_request", err->message);
  const std::string session_id = std::get<std::string>(std::move(validated));

  bool exists = false;
  rt_.run_sql_read([&](Sql& sql) { exists = store::session_exists(sql, session_id); });
  if (!exists) throw session_not_found(session_id);
  if (key) check_request_key(action, *key, sha256_hex(body.dump()));

  Json r;
  try {
    r = apps::await_result(
        rt_, rt_.start(kChangeStatus, with_id(change_status_workflow_id(action, session_id)), session_id, action),
        kRequestWait);
  } catch (const TimeoutError&) {
    throw HttpError(409, "request_in_progress", "this request is still being processed; retry shortly");
  }
  if (!r.value("found", false)) throw session_not_found(session_id);
  std::string status = r.at("payment_status").get<std::string>();
  Json extra{{"session_id", session_id}, {"payment_status", status}};
  if (r.contains("charge_id")) extra["charge_id"] = r["charge_id"];

  if (action == "submit") {
    if (status == kPaid) return HttpResponse::json(extra);
    throw HttpError(409, "session_" + status, "the payment session is " + status + " and cannot be paid", extra);
  }
  // cancel / expire
  if (status == kPaid)
    throw HttpError(409, "already_paid", "the payment session is already paid", extra);
  return HttpResponse::json(extra);
}

std::optional<Json> PaymentApi::load_session(const std::string& session_id) {
  std::optional<Json> out;
  rt_.run_sql_read([&](Sql& sql) { out = store::session_json(sql, session_id); });
  return out;
}

HttpResponse PaymentApi::handle_get_session(const HttpRequest& req) {
  std::string id = req.path_param("id").value_or("");
  auto s = load_session(id);
  if (!s) throw session_not_found(id);
  return HttpResponse::json(*s);
}

HttpResponse PaymentApi::handle_charges(const HttpRequest& req) {
  int64_t limit = 100;
  if (auto l = req.query_param("limit")) {
    auto v = parse_int(*l, 1, 500);
    if (!v) throw HttpError(400, "invalid_limit", "limit must be an integer from 1 to 500");
    limit = *v;
  }
  int64_t after = 0;
  if (auto a = req.query_param("after"); a && !a->empty()) {
    auto v = decode_cursor(*a);
    if (!v) throw HttpError(400, "invalid_cursor", "after must be a cursor returned as 'next' by this endpoint");
    after = *v;
  }
  Json page;
  rt_.run_sql_read([&](Sql& sql) { page = store::charges_page(sql, after, limit); });
  return HttpResponse::json(page);
}

HttpResponse PaymentApi::handle_pay_page(const HttpRequest& req) {
  std::string id = req.path_param("id").value_or("");
  auto s = load_session(id);
  // A browser gets the hosted page, which reads GET /api/sessions/:id (and
  // says when there is no such session); curl, as before, the text.
  if (apps::wants_html(req)) return apps::page_response(apps::payments_web_assets(), "pay.html", s ? 200 : 404);
  if (!s) throw session_not_found(id);
  std::string base = http_.base_url();
  std::string body_json = Json{{"session_id", id}}.dump();
  std::string page = "Payment session " + id + "\n" + "Amount: " + money((*s)["amount_cents"].get<int64_t>()) +
                     " (" + std::to_string((*s)["amount_cents"].get<int64_t>()) + " cents)\n" +
                     "Status: " + (*s)["payment_status"].get<std::string>() + "\n";
  if ((*s)["payment_status"] == kPending) {
    page += "Submit payment:\ncurl -X POST " + base + "/api/submit_payment -H \"Content-type: application/json\" -d '" +
            body_json + "'\n";
    page += "Cancel payment:\ncurl -X POST " + base + "/api/cancel_payment -H \"Content-type: application/json\" -d '" +
            body_json + "'\n";
  }
  return HttpResponse::text(page);
}

}  // namespace keel::payments
