// apps/payments/model.hpp — the payment service's values and pure helpers:
// request validation, identifiers, fingerprints, cursors, durations.
// Everything here is pure (no I/O, no database) and thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace keel::payments {

using Json = nlohmann::json;

inline constexpr size_t kMaxIdempotencyKeyLength = 255;
inline constexpr size_t kMaxItems = 1000;
inline constexpr int64_t kMaxQuantity = 1'000'000;
inline constexpr int64_t kMaxPriceCents = 1'000'000'000'000;   // 10^10 currency units
inline constexpr int64_t kMaxAmountCents = 1'000'000'000'000'000;  // well inside int64 and double precision

// Session statuses. pending -> paid | cancelled | expired; the last three are final.
inline constexpr const char* kPending = "pending";
inline constexpr const char* kPaid = "paid";
inline constexpr const char* kCancelled = "cancelled";
inline constexpr const char* kExpired = "expired";

struct Item {
  std::string description;
  int64_t quantity = 0;
  int64_t price_cents = 0;
};
void to_json(Json& j, const Item& i);
void from_json(const Json& j, Item& i);

// A validated body of POST /api/create_payment_session.
struct CreateRequest {
  std::string client_reference_id;
  std::string webhook_url;
  std::optional<std::string> success_url;
  std::optional<std::string> cancel_url;
  std::vector<Item> items;
  int64_t amount_cents = 0;  // computed: sum of quantity * price_cents
};
void to_json(Json& j, const CreateRequest& r);
void from_json(const Json& j, CreateRequest& r);

// Validation failure: the field and a sentence; the HTTP layer makes it a 400.
struct ValidationError {
  std::string message;
};

// Validates a parsed body; returns the request or the first problem found.
// Unknown fields are ignored (they still count in the fingerprint).
std::variant<CreateRequest, ValidationError> validate_create_request(const Json& body);

// The session_id of a POST /api/submit_payment, /cancel_payment or
// /expire_session body ({"session_id": "..."}, 1 to 255 bytes); a
// ValidationError otherwise.
std::variant<std::string, ValidationError> validate_session_request(const Json& body);

// True for http://127.0.0.1[:port][/...] and http://localhost[:port][/...]
// (case-insensitive host), with no user info, whitespace or control bytes.
bool is_loopback_http_url(std::string_view url);

// The inputs of the create-session workflow.
struct CreateInput {
  std::string idempotency_key;
  std::string fingerprint;  // SHA-256 (hex) of the canonical JSON body
  std::string nonce;        // which HTTP request started the workflow
  CreateRequest request;
  int64_t delay_ms = 0;     // testing seam: a durable sleep before the insert
};
void to_json(Json& j, const CreateInput& c);
void from_json(const Json& j, CreateInput& c);

// One webhook event to deliver: the inputs of the delivery workflow (whose ID
// is event_id). The backoff schedule is part of the inputs, so that a
// recovered workflow replays deterministically whatever the flags now say.
struct DeliveryJob {
  std::string event_id;
  std::string session_id;
  std::string type;
  std::string webhook_url;
  std::string payload;  // the exact bytes POSTed (and signed)
  int64_t created_ms = 0;
  int64_t initial_backoff_ms = 1000;
  int64_t max_backoff_ms = 3'600'000;
  int64_t give_up_after_ms = 3LL * 24 * 3'600'000;
};
void to_json(Json& j, const DeliveryJob& d);
void from_json(const Json& j, DeliveryJob& d);

// The outcome of one delivery attempt (a step's recorded result).
struct AttemptResult {
  bool ok = false;
  int status = 0;     // HTTP status, 0 when no response
  std::string error;  // empty when a response came back
  int64_t at_ms = 0;
  int64_t duration_ms = 0;
};
void to_json(Json& j, const AttemptResult& a);
void from_json(const Json& j, AttemptResult& a);

// The event type of a final status: payment.succeeded / .cancelled / .expired.
std::string event_type_for(std::string_view status);

// "<prefix>_<32 hex>" from 128 random bits (OpenSSL RAND_bytes).
std::string new_id(std::string_view prefix);
std::string sha256_hex(std::string_view data);

// Opaque ledger cursors: encode a sequence number; decode returns nullopt for
// anything this service did not produce.
std::string encode_cursor(int64_t seq);
std::optional<int64_t> decode_cursor(std::string_view cursor);

// Parses "250ms", "1s", "5m", "1h", "3d" (a bare number means seconds), at
// most kMaxDurationMs. Throws std::invalid_argument.
inline constexpr int64_t kMaxDurationMs = int64_t{1} << 40;
std::chrono::milliseconds parse_duration(std::string_view text);

// A strict decimal integer in [min, max]; nullopt otherwise.
std::optional<int64_t> parse_int(std::string_view text, int64_t min, int64_t max);

int64_t now_ms();

}  // namespace keel::payments
