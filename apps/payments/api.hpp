// apps/payments/api.hpp — the payment service's HTTP handlers (spec/http.md,
// "The payment service"; answers and errors in apps/payments/README.md).
//
//   POST /api/create_payment_session   start (or join) workflow "create:<key>"
//   POST /api/submit_payment           workflow "submit:<session id>"
//   POST /api/cancel_payment           workflow "cancel:<session id>"
//   POST /api/expire_session           workflow "expire:<session id>"
//   GET  /api/sessions/:id             the session, its charge, events and deliveries
//   GET  /api/charges                  the ledger, ?after=CURSOR&limit=N
//   GET  /pay/:id                      the hosted payment page for a browser
//                                      (Accept: text/html); otherwise a text
//                                      page with ready curl commands
//   GET  /assets/:name                 the hosted page's script, style, icon
//   GET  /healthz
//
// Contract:
//  * Until set_ready(true), every route answers 503 (starting).
//  * Handlers validate the request before any durable write: a 400 means
//    nothing changed.
//  * A create key runs one workflow whatever the retries; the same key with
//    another body is 409 idempotency_key_reused, and a request arriving while
//    the first is still running is 409 request_in_progress. On submit /
//    cancel / expire a key is optional and bound to its body per endpoint.
// Thread-safety: handlers are called concurrently; PaymentApi holds only
// immutable state, an atomic flag and the (thread-safe) Runtime.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "common/http_service.hpp"
#include "keel/keel.hpp"
#include "payments/model.hpp"
#include "payments/settings.hpp"

namespace keel::payments {

class PaymentApi {
 public:
  // Registers the routes on http, before http.start(). rt, config and http
  // must outlive this object.
  PaymentApi(Runtime& rt, const ServiceConfig& config, apps::HttpService& http);
  PaymentApi(const PaymentApi&) = delete;
  PaymentApi& operator=(const PaymentApi&) = delete;

  // Serving for real once the runtime is launched; 503 before and after.
  void set_ready(bool ready) { ready_.store(ready); }

 private:
  void add_routes();
  apps::HttpResponse handle_create(const apps::HttpRequest& req);
  apps::HttpResponse handle_status_change(const apps::HttpRequest& req, const std::string& action);
  apps::HttpResponse handle_get_session(const apps::HttpRequest& req);
  apps::HttpResponse handle_charges(const apps::HttpRequest& req);
  apps::HttpResponse handle_pay_page(const apps::HttpRequest& req);
  void check_request_key(const std::string& endpoint, const std::string& key, const std::string& fingerprint);
  std::optional<Json> load_session(const std::string& session_id);

  Runtime& rt_;
  const ServiceConfig& config_;
  apps::HttpService& http_;
  std::atomic<bool> ready_{false};
};

// The idempotency key of a request, under any accepted header name
// (Idempotency-Key, dbos-idempotency-key, dbos-idmpotency-key). Throws
// HttpError 400 when required and missing, or when malformed (empty, longer
// than 255 characters, control characters).
std::optional<std::string> idempotency_key_of(const apps::HttpRequest& req, bool required);

}  // namespace keel::payments
