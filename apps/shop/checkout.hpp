// shop/checkout.hpp — the checkout workflow (docs/shop.md walks through it).
//
//   reserve_inventory (transaction: inventory down + order row "reserving")
//     out of stock -> order "failed" (nothing held), event {error: out_of_stock}
//   create_payment_session (step, retried with backoff for >= 10 s,
//                           Idempotency-Key = ctx.idempotency_key())
//     gave up -> release_inventory (transaction: "failed"), event {error: payment_unavailable}
//   await_payment (transaction: "awaiting_payment" + session id)
//   set_event("payment_session", {...})
//   loop recv("payment") until the recorded deadline; events of another
//   session are ignored
//     payment.succeeded                  -> fulfil_order (transaction: "fulfilled")
//     payment.cancelled / expired        -> release_inventory (transaction: "cancelled")
//     deadline -> expire_session (step)  -> 409 already_paid: fulfil; else release
//
// Contract: one workflow per order, its ID is the order ID. Its inputs are
// [CheckoutRequest]; it returns the order's final status. It publishes
// exactly one value under the event kSessionEvent, read by the HTTP handler:
// either {order_id, session_id, payment_url, amount_cents, payments_url} or
// {error: "out_of_stock" | "unknown_product" | "payment_unavailable", message}.
// Checkouts that took the patch kProgressPatch also write each state of the
// order, once, to the stream kProgressStream, after the transaction that
// made it (GET /orders/:order_id/events).
// Thread-safety: every running checkout shares the PaymentsApi and the
// CheckoutSettings given to register_checkout, by reference: the settings are
// only read, and PaymentsApi is thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "keel/keel.hpp"
#include "shop/payments_client.hpp"
#include "shop/store.hpp"

namespace keel::apps::shop {

inline constexpr const char* kSessionEvent = "payment_session";
inline constexpr const char* kPaymentTopic = "payment";
inline constexpr const char* kCheckoutWorkflow = "checkout";
// The checkout's progress: a durable stream (keel/stream.hpp) of
// {"order_id", "status"} values, one per state change of the order
// (reserving, awaiting_payment, then fulfilled, cancelled or failed); it ends
// with the workflow. GET /orders/:order_id/events serves it as SSE.
inline constexpr const char* kProgressStream = "progress";
// The patch under which checkouts write it (docs/upgrades.md): checkouts
// started by an older build replay without it.
inline constexpr const char* kProgressPatch = "order_progress_stream";

struct CheckoutSettings {
  std::string payments_url;  // e.g. http://127.0.0.1:8086
  std::string webhook_url;   // e.g. http://127.0.0.1:8082/payment_webhook
  std::chrono::milliseconds checkout_timeout{std::chrono::seconds(60)};
  // The shop's base URL for customers, e.g. http://127.0.0.1:8082: the
  // session's success_url and cancel_url are <public_url>/orders/<order id>.
  // Empty: the session gets neither.
  std::string public_url;
  // Creating the session: 8 attempts, waiting 0.5 s, 1 s, 2 s, 3 s, 3 s, 3 s, 3 s
  // between them: at least 15.5 s of trying before giving up.
  keel::StepOptions create_session_retry{.max_attempts = 8,
                                         .interval = std::chrono::milliseconds(500),
                                         .backoff_rate = 2.0,
                                         .max_interval = std::chrono::seconds(3)};
  // Expiring the session at the deadline: the answer decides between fulfil
  // and cancel, so the checkout keeps asking (round after round) until the
  // payment service answers.
  keel::StepOptions expire_session_retry{.max_attempts = 20,
                                         .interval = std::chrono::seconds(1),
                                         .backoff_rate = 2.0,
                                         .max_interval = std::chrono::seconds(30)};
};

// Registers the error types that the workflow catches (call before launch).
void register_checkout_error_types();

// Registers the workflow "checkout" on rt. payments and settings must outlive rt.
keel::Workflow<std::string, CheckoutRequest> register_checkout(keel::Runtime& rt, PaymentsApi& payments,
                                                               const CheckoutSettings& settings);

}  // namespace keel::apps::shop
