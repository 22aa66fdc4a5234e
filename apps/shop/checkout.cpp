#include "shop/checkout.hpp"

#include <spdlog/spdlog.h>

#include "common/webhook_signature.hpp"

namespace keel::apps::shop {

using nlohmann::json;

namespace {

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t epoch_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The payment service takes idempotency keys of at most 255 characters; ours
// are "<order id>:<step>", and an order id may itself be 255 long.
std::string payment_idempotency_key(const std::string& key) {
  if (key.size() <= 255) return key;
  return "shop-sha256-" + hmac_sha256_hex("keel-shop-idempotency", key);
}

// A payment event that concerns this checkout: "paid", "cancelled" or
// "expired"; empty when the message is to be ignored.
std::string classify(const std::string& order_id, const json& event, const std::string& session_id) {
  if (!event.is_object() || !event.contains("type") || !event["type"].is_string() || !event.contains("session_id") ||
      !event["session_id"].is_string()) {
    spdlog::warn("Checkout {}: ignoring a malformed payment message", order_id);
    return "";
  }
  const std::string type = event["type"].get<std::string>();
  const std::string id = event.value("id", std::string());
  if (event["session_id"].get<std::string>() != session_id) {
    spdlog::warn("Checkout {}: ignoring event {} ({}) for session {}, not this order's session {}", order_id, id, type,
                 event["session_id"].get<std::string>(), session_id);
    return "";
  }
  if (type == "payment.succeeded") return "paid";
  if (type == "payment.cancelled") return "cancelled";
  if (type == "payment.expired") return "expired";
  spdlog::warn("Checkout {}: ignoring event {} of unknown type {}", order_id, id, type);
  return "";
}

// Writes the order's new state to its progress stream (when this checkout
// took the patch that writes it).
void report(keel::Context& ctx, bool progress, const char* status) {
  if (progress) ctx.write_stream(kProgressStream, json{{"order_id", ctx.workflow_id()}, {"status", status}});
}

std::string refuse(keel::Context& ctx, bool progress, const CheckoutRequest& req, const std::string& code,
                   const std::string& message) {
  const std::string& id = ctx.workflow_id();
  ctx.transaction("record_refused_order",
                  [&](keel::Sql& sql) { store::record_refused(sql, id, req, code, wall_ms()); });
  report(ctx, progress, kStatusFailed);
  ctx.set_event(kSessionEvent, json{{"error", code}, {"message", message}});
  spdlog::warn("Checkout {} failed or timed out: {}", id, message);
  return kStatusFailed;
}

std::string run_checkout(keel::Context& ctx, const CheckoutRequest& req, PaymentsApi& payments,
                         const CheckoutSettings& settings) {
  const std::string id = ctx.workflow_id();
  const bool progress = ctx.patched(kProgressPatch);

  // The settings this checkout runs with, recorded once: a restart with other
  // flags neither changes the path of a checkout in flight nor the body of
  // its (idempotent) session request.
  const json conf = ctx.step("checkout_settings", [&] {
    return json{{"payments_url", settings.payments_url},
                {"webhook_url", settings.webhook_url},
                {"checkout_timeout_ms", settings.checkout_timeout.count()},
                {"public_url", settings.public_url}};
  });
  const std::string payments_url = conf.at("payments_url").get<std::string>();
  // Absent from checkouts recorded by an older build: their session request
  // must stay the body they first sent (same idempotency key), so no URLs.
  const std::string public_url = conf.value("public_url", std::string());
  const std::string webhook_url = conf.at("webhook_url").get<std::string>();
  const int64_t timeout_ms = conf.at("checkout_timeout_ms").get<int64_t>();

  // 1. Reserve: inventory down and the order row, in one commit with the checkpoint.
  Reservation reservation;
  try {
    reservation = ctx.transaction("reserve_inventory", [&](keel::Sql& sql) {
      return store::reserve(sql, id, req, wall_ms());
    });
  } catch (const OutOfStock& e) {
    return refuse(ctx, progress, req, "out_of_stock", e.what());
  } catch (const UnknownProduct& e) {
    return refuse(ctx, progress, req, "unknown_product", e.what());
  }
  report(ctx, progress, kStatusReserving);

  // 2. One payment session for the order: the idempotency key is stable across
  // retries and recoveries, so the payment service creates it at most once.
  json items = json::array();
  for (const auto& i : reservation.items)
    items.push_back({{"description", i.name}, {"quantity", i.quantity}, {"price_cents", i.price_cents}});
  json request_body{{"client_reference_id", id}, {"webhook_url", webhook_url}, {"items", items}};
  if (!public_url.empty()) {
    // The hosted payment page sends the customer back to the order page,
    // which shows how the order ends whichever button was pressed.
    request_body["success_url"] = public_url + "/orders/" + id;
    request_body["cancel_url"] = public_url + "/orders/" + id;
  }
  json created;
  try {
    created = ctx.step("create_payment_session", settings.create_session_retry, [&] {
      auto r = payments.create_session(payments_url, payment_idempotency_key(ctx.idempotency_key()), request_body);
      if (r.ok) return json{{"ok", true}, {"session", r.body}};
      return json{{"ok", false}, {"refusal", r.body}};
    });
  } catch (const keel::MaxRetriesExceededError& e) {
    created = json{{"ok", false}, {"refusal", {{"message", e.what()}}}};
  }
  if (!created.at("ok").get<bool>()) {
    const json& refusal = created.at("refusal");
    const std::string why = refusal.value("message", std::string("the payment service refused"));
    ctx.transaction("release_inventory", [&](keel::Sql& sql) {
      store::release(sql, id, kStatusFailed, "payment_unavailable", wall_ms());
    });
    report(ctx, progress, kStatusFailed);
    ctx.set_event(kSessionEvent,
                  json{{"error", "payment_unavailable"},
                       {"message", "the payment service is unavailable; the order was not placed (" + why + ")"}});
    spdlog::warn("Checkout {} failed or timed out: no payment session ({})", id, why);
    return kStatusFailed;
  }
  const json& session = created.at("session");
  const std::string session_id = session.at("session_id").get<std::string>();
  const std::string payment_url = session.value("url", std::string());
  if (session.contains("amount_cents") && session["amount_cents"] != reservation.amount_cents)
    spdlog::warn("Checkout {}: the payment session {} is for {} cents, the order for {}", id, session_id,
                 session["amount_cents"].dump(), reservation.amount_cents);

  // 3. The order awaits payment; then the handler may answer.
  ctx.transaction("await_payment", [&](keel::Sql& sql) {
    store::mark_awaiting_payment(sql, id, session_id, wall_ms());
  });
  report(ctx, progress, kStatusAwaitingPayment);
  ctx.set_event(kSessionEvent, json{{"order_id", id},
                                    {"session_id", session_id},
                                    {"payment_url", payment_url},
                                    {"amount_cents", reservation.amount_cents},
                                    {"payments_url", payments_url}});

  // 4. Wait for the payment service's word, until a recorded deadline.
  const int64_t deadline = ctx.step("payment_deadline", [&] { return wall_ms() + timeout_ms; });
  std::string outcome;  // "paid", "cancelled", "expired"
  while (outcome.empty()) {
    const int64_t now = epoch_ms(ctx.now());
    if (now >= deadline) break;
    auto event = ctx.recv<json>(kPaymentTopic, std::chrono::milliseconds(deadline - now));
    if (!event) break;
    outcome = classify(id, *event, session_id);
  }

  // 5. No word in time: expire the session first; if it was paid meanwhile
  // (its webhook lost or late), the order is fulfilled, not cancelled.
  if (outcome.empty()) {
    spdlog::info("Checkout {}: no payment within {} ms, expiring session {}", id, timeout_ms, session_id);
    while (outcome.empty()) {
      try {
        json expired = ctx.step("expire_session", settings.expire_session_retry, [&] {
          auto r = payments.expire_session(payments_url, session_id);
          return json{{"paid", r.paid}, {"payment_status", r.payment_status}};
        });
        outcome = expired.at("paid").get<bool>() ? "paid" : "timed_out";
      } catch (const keel::MaxRetriesExceededError& e) {
        // Unknown whether the customer paid: cancelling now could break rule 1.
        spdlog::warn("Checkout {}: cannot reach the payment service to expire session {}, trying again: {}", id,
                     session_id, e.what());
      }
    }
  }

  if (outcome == "paid") {
    ctx.transaction("fulfil_order", [&](keel::Sql& sql) { store::fulfil(sql, id, wall_ms()); });
    report(ctx, progress, kStatusFulfilled);
    spdlog::info("Checkout {} succeeded", id);
    return kStatusFulfilled;
  }
  const std::string reason = outcome == "timed_out" ? "checkout_timeout" : "payment_" + outcome;
  ctx.transaction("release_inventory", [&](keel::Sql& sql) {
    store::release(sql, id, kStatusCancelled, reason, wall_ms());
  });
  report(ctx, progress, kStatusCancelled);
  spdlog::warn("Checkout {} failed or timed out ({})", id, reason);
  return kStatusCancelled;
}

}  // namespace

void register_checkout_error_types() {
  keel::register_error_type<OutOfStock>();
  keel::register_error_type<UnknownProduct>();
}

keel::Workflow<std::string, CheckoutRequest> register_checkout(keel::Runtime& rt, PaymentsApi& payments,
                                                               const CheckoutSettings& settings) {
  register_checkout_error_types();
  return rt.register_workflow(kCheckoutWorkflow,
                              [&payments, &settings](keel::Context& ctx, CheckoutRequest req) -> std::string {
                                return run_checkout(ctx, req, payments, settings);
                              });
}

}  // namespace keel::apps::shop
