#include "shop/payments_client.hpp"

#include "common/http_service.hpp"

namespace keel::apps::shop {

using nlohmann::json;

namespace {

json parse_or_null(const HttpClientResponse& r) {
  try {
    return r.json();
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string error_code(const json& body) {
  if (body.is_object() && body.contains("error") && body["error"].is_string()) return body["error"].get<std::string>();
  return "";
}

std::string describe(const std::string& what, const HttpClientResponse& r) {
  std::string body = r.body.substr(0, 300);
  return what + ": HTTP " + std::to_string(r.status) + " " + body;
}

// Transient: the same request may well succeed later.
bool transient(const HttpClientResponse& r, const json& body) {
  if (r.status >= 500 || r.status == 429 || r.status == 408) return true;
  return r.status == 409 && error_code(body) == "request_in_progress";
}

}  // namespace

CreateSessionResult HttpPaymentsApi::create_session(const std::string& base_url, const std::string& idempotency_key,
                                                    const json& body) {
  HttpClient client({.connect_timeout = connect_timeout_, .read_timeout = read_timeout_, .write_timeout = read_timeout_});
  HttpClientResponse r;
  try {
    r = client.post_json(base_url + "/api/create_payment_session", {{"Idempotency-Key", idempotency_key}},
                         body.dump());
  } catch (const std::exception& e) {
    throw PaymentServiceUnavailable(std::string("create_payment_session: ") + e.what());
  }
  json answer = parse_or_null(r);
  if (transient(r, answer)) throw PaymentServiceUnavailable(describe("create_payment_session", r));
  if (r.status == 200) {
    if (!answer.is_object() || !answer.contains("session_id") || !answer["session_id"].is_string() ||
        answer["session_id"].get<std::string>().empty())
      throw PaymentServiceUnavailable(describe("create_payment_session: unexpected answer", r));
    return CreateSessionResult{true, answer};
  }
  // Any other answer is a refusal that repeating will not change.
  return CreateSessionResult{false, json{{"status", r.status},
                                         {"error", error_code(answer).empty() ? "refused" : error_code(answer)},
                                         {"message", describe("create_payment_session", r)}}};
}

ExpireResult HttpPaymentsApi::expire_session(const std::string& base_url, const std::string& session_id) {
  HttpClient client({.connect_timeout = connect_timeout_, .read_timeout = read_timeout_, .write_timeout = read_timeout_});
  HttpClientResponse r;
  try {
    r = client.post_json(base_url + "/api/expire_session", {}, json{{"session_id", session_id}}.dump());
  } catch (const std::exception& e) {
    throw PaymentServiceUnavailable(std::string("expire_session: ") + e.what());
  }
  json answer = parse_or_null(r);
  if (r.status == 200) {
    std::string status = answer.is_object() ? answer.value("payment_status", std::string()) : std::string();
    if (status == "paid") return ExpireResult{true, "paid"};
    if (status == "expired" || status == "cancelled") return ExpireResult{false, status};
    throw PaymentServiceUnavailable(describe("expire_session: unexpected answer", r));
  }
  if (r.status == 409) {
    std::string status = answer.is_object() ? answer.value("payment_status", std::string()) : std::string();
    if (error_code(answer) == "already_paid" || status == "paid") return ExpireResult{true, "paid"};
    if (status == "expired" || status == "cancelled") return ExpireResult{false, status};
  }
  // The service that created the session does not know it: it was never
  // created, so it cannot have been paid. (A 404 for another reason, such as
  // a wrong route, proves nothing and is asked again.)
  if (r.status == 404 && error_code(answer) == "session_not_found") return ExpireResult{false, "unknown_session"};
  // Anything else: we do not know whether the session was paid, so the
  // checkout must ask again rather than guess.
  throw PaymentServiceUnavailable(describe("expire_session", r));
}

}  // namespace keel::apps::shop
