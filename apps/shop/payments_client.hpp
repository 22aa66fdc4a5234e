// shop/payments_client.hpp — the shop's calls to the payment service.
//
// Contract:
//  * A call either returns a definitive answer of the payment service, or
//    throws PaymentServiceUnavailable when the answer is unknown or
//    transient (connection refused, timeout, 5xx, 429, 409
//    request_in_progress). The checkout's steps retry on that exception.
//  * create_session sends Idempotency-Key: key, so repeating it with the same
//    key and body creates one session.
// Thread-safety: thread-safe; each call opens its own connection.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace keel::apps::shop {

class PaymentServiceUnavailable : public std::runtime_error {
 public:
  explicit PaymentServiceUnavailable(const std::string& message) : std::runtime_error(message) {}
};

struct CreateSessionResult {
  bool ok = false;
  // ok: the service's answer {session_id, url, amount_cents, payment_status}.
  // !ok: {"status": http status, "error": code, "message": ...} — refused for good.
  nlohmann::json body;
};

struct ExpireResult {
  bool paid = false;          // 409 already_paid: the session was charged
  std::string payment_status;  // "expired", "cancelled", "paid", or "unknown_session"
};

class PaymentsApi {
 public:
  virtual ~PaymentsApi() = default;
  virtual CreateSessionResult create_session(const std::string& base_url, const std::string& idempotency_key,
                                             const nlohmann::json& body) = 0;
  virtual ExpireResult expire_session(const std::string& base_url, const std::string& session_id) = 0;
};

// The real client, over apps/common's HttpClient.
class HttpPaymentsApi : public PaymentsApi {
 public:
  HttpPaymentsApi(std::chrono::milliseconds connect_timeout, std::chrono::milliseconds read_timeout)
      : connect_timeout_(connect_timeout), read_timeout_(read_timeout) {}
  CreateSessionResult create_session(const std::string& base_url, const std::string& idempotency_key,
                                     const nlohmann::json& body) override;
  ExpireResult expire_session(const std::string& base_url, const std::string& session_id) override;

 private:
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds read_timeout_;
};

}  // namespace keel::apps::shop
