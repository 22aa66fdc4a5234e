#include "payments/model.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <charconv>
#include <stdexcept>
#include <variant>

namespace keel::payments {

namespace {

std::optional<std::string> opt_string(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}

bool has_control_or_space(std::string_view s) {
  for (unsigned char c : s)
    if (c <= 0x20 || c == 0x7f) return true;
  return false;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A JSON integer (not 1.0, not "1") within [min, max].
std::optional<int64_t> bounded_int(const Json& j, int64_t min, int64_t max) {
  if (!j.is_number_integer()) return std::nullopt;
  if (j.is_number_unsigned()) {
    auto u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) return std::nullopt;
    auto v = static_cast<int64_t>(u);
    if (v < min) return std::nullopt;
    return v;
  }
  auto v = j.get<int64_t>();
  if (v < min || v > max) return std::nullopt;
  return v;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url_encode(std::string_view in) {
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(kB64[(v >> (6 * k)) & 63]);
    i += 3;
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> b64url_decode(std::string_view in) {
  auto val = [](char c) -> int {
    const char* p = std::char_traits<char>::find(kB64, 64, c);
    return p ? static_cast<int>(p - kB64) : -1;
  };
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace

void to_json(Json& j, const Item& i) {
  j = Json{{"description", i.description}, {"quantity", i.quantity}, {"price_cents", i.price_cents}};
}
void from_json(const Json& j, Item& i) {
  j.at("description").get_to(i.description);
  j.at("quantity").get_to(i.quantity);
  j.at("price_cents").get_to(i.price_cents);
}

void to_json(Json& j, const CreateRequest& r) {
  j = Json{{"client_reference_id", r.client_reference_id},
           {"webhook_url", r.webhook_url},
           {"success_url", r.success_url ? Json(*r.success_url) : Json(nullptr)},
           {"cancel_url", r.cancel_url ? Json(*r.cancel_url) : Json(nullptr)},
           {"items", r.items},
           {"amount_cents", r.amount_cents}};
}
void from_json(const Json& j, CreateRequest& r) {
  j.at("client_reference_id").get_to(r.client_reference_id);
  j.at("webhook_url").get_to(r.webhook_url);
  r.success_url = opt_string(j, "success_url");
  r.cancel_url = opt_string(j, "cancel_url");
  j.at("items").get_to(r.items);
  j.at("amount_cents").get_to(r.amount_cents);
}

void to_json(Json& j, const CreateInput& c) {
  j = Json{{"idempotency_key", c.idempotency_key},
           {"fingerprint", c.fingerprint},
           {"nonce", c.nonce},
           {"request", c.request},
           {"delay_ms", c.delay_ms}};
}
void from_json(const Json& j, CreateInput& c) {
  j.at("idempotency_key").get_to(c.idempotency_key);
  j.at("fingerprint").get_to(c.fingerprint);
  j.at("nonce").get_to(c.nonce);
  j.at("request").get_to(c.request);
  c.delay_ms = j.value("delay_ms", int64_t{0});
}

void to_json(Json& j, const DeliveryJob& d) {
  j = Json{{"event_id", d.event_id},
           {"session_id", d.session_id},
           {"type", d.type},
           {"webhook_url", d.webhook_url},
           {"payload", d.payload},
           {"created_ms", d.created_ms},
           {"initial_backoff_ms", d.initial_backoff_ms},
           {"max_backoff_ms", d.max_backoff_ms},
           {"give_up_after_ms", d.give_up_after_ms}};
}
void from_json(const Json& j, DeliveryJob& d) {
  j.at("event_id").get_to(d.event_id);
  j.at("session_id").get_to(d.session_id);
  j.at("type").get_to(d.type);
  j.at("webhook_url").get_to(d.webhook_url);
  j.at("payload").get_to(d.payload);
  j.at("created_ms").get_to(d.created_ms);
  j.at("initial_backoff_ms").get_to(d.initial_backoff_ms);
  j.at("max_backoff_ms").get_to(d.max_backoff_ms);
  j.at("give_up_after_ms").get_to(d.give_up_after_ms);
}

void to_json(Json& j, const AttemptResult& a) {
  j = Json{{"ok", a.ok}, {"status", a.status}, {"error", a.error}, {"at_ms", a.at_ms}, {"duration_ms", a.duration_ms}};
}
void from_json(const Json& j, AttemptResult& a) {
  j.at("ok").get_to(a.ok);
  j.at("status").get_to(a.status);
  j.at("error").get_to(a.error);
  j.at("at_ms").get_to(a.at_ms);
  j.at("duration_ms").get_to(a.duration_ms);
}

bool is_loopback_http_url(std::string_view url) {
  if (url.size() > 2048 || has_control_or_space(url)) return false;
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() || to_lower(url.substr(0, kScheme.size())) != kScheme) return false;
  std::string_view rest = url.substr(kScheme.size());
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view host = authority;
  if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    if (!parse_int(authority.substr(colon + 1), 1, 65535)) return false;
  }
  std::string h = to_lower(host);
  return h == "127.0.0.1" || h == "localhost";
}

std::variant<CreateRequest, ValidationError> validate_create_request(const Json& body) {
  auto fail = [](std::string m) { return ValidationError{std::move(m)}; };
  if (!body.is_object()) return fail("the body must be a JSON object");
  CreateRequest r;

  auto cr = body.find("client_reference_id");
  if (cr == body.end() || !cr->is_string() || cr->get<std::string>().empty())
    return fail("client_reference_id must be a non-empty string");
  r.client_reference_id = cr->get<std::string>();
  if (r.client_reference_id.size() > 255) return fail("client_reference_id must be at most 255 characters");

  auto wh = body.find("webhook_url");
  if (wh == body.end() || !wh->is_string()) return fail("webhook_url must be a string");
  r.webhook_url = wh->get<std::string>();
  if (!is_loopback_http_url(r.webhook_url))
    return fail("webhook_url must be an http:// URL on 127.0.0.1 or localhost (loopback only)");

  for (const char* key : {"success_url", "cancel_url"}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_string() || it->get<std::string>().size() > 2048)
      return fail(std::string(key) + " must be a string of at most 2048 characters");
    (std::string_view(key) == "success_url" ? r.success_url : r.cancel_url) = it->get<std::string>();
  }

  auto items = body.find("items");
  if (items == body.end() || !items->is_array() || items->empty())
    return fail("items must be a non-empty array");
  if (items->size() > kMaxItems) return fail("items must hold at most " + std::to_string(kMaxItems) + " lines");
  int64_t total = 0;
  for (size_t i = 0; i < items->size(); ++i) {
    const Json& it = (*items)[i];
    std::string where = "items[" + std::to_string(i) + "]";
    if (!it.is_object()) return fail(where + " must be an object");
    Item item;
    auto d = it.find("description");
    if (d == it.end() || !d->is_string()) return fail(where + ".description must be a string");
    item.description = d->get<std::string>();
    if (item.description.size() > 1024) return fail(where + ".description must be at most 1024 characters");
    auto q = it.find("quantity");
    auto qv = q == it.end() ? std::nullopt : bounded_int(*q, 1, kMaxQuantity);
    if (!qv) return fail(where + ".quantity must be a positive integer of at most " + std::to_string(kMaxQuantity));
    item.quantity = *qv;
    auto p = it.find("price_cents");
    auto pv = p == it.end() ? std::nullopt : bounded_int(*p, 0, kMaxPriceCents);
    if (!pv)
      return fail(where + ".price_cents must be a non-negative integer of at most " + std::to_string(kMaxPriceCents));
    item.price_cents = *pv;
    // quantity <= 1e6 and price <= 1e12, so the product fits in int64.
    total += item.quantity * item.price_cents;
    if (total > kMaxAmountCents) return fail("the total amount is too large");
    r.items.push_back(std::move(item));
  }
  r.amount_cents = total;
  return r;
}

std::variant<std::string, ValidationError> validate_session_request(const Json& body) {
  auto it = body.is_object() ? body.find("session_id") : body.end();
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty() || it->get<std::string>().size() > 255)
    return ValidationError{"session_id must be a non-empty string"};
  return it->get<std::string>();
}

std::string event_type_for(std::string_view status) {
  if (status == kPaid) return "payment.succeeded";
  if (status == kCancelled) return "payment.cancelled";
  if (status == kExpired) return "payment.expired";
  throw std::invalid_argument("no event type for status " + std::string(status));
}

std::string new_id(std::string_view prefix) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(prefix);
  out.push_back('_');
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string encode_cursor(int64_t seq) { return b64url_encode("charges:" + std::to_string(seq)); }

std::optional<int64_t> decode_cursor(std::string_view cursor) {
  if (cursor.empty() || cursor.size() > 64) return std::nullopt;
  auto raw = b64url_decode(cursor);
  constexpr std::string_view kPrefix = "charges:";
  if (!raw || raw->rfind(kPrefix, 0) != 0) return std::nullopt;
  // Re-encoding must give the same text: rejects non-canonical variants.
  auto seq = parse_int(std::string_view(*raw).substr(kPrefix.size()), 0, INT64_MAX);
  if (!seq || encode_cursor(*seq) != cursor) return std::nullopt;
  return seq;
}

std::optional<int64_t> parse_int(std::string_view text, int64_t min, int64_t max) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < min || v > max) return std::nullopt;
  return v;
}

std::chrono::milliseconds parse_duration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  auto n = parse_int(text.substr(0, digits), 0, kMaxDurationMs);
  std::string_view unit = text.substr(digits);
  if (!n) throw std::invalid_argument("not a duration: '" + std::string(text) + "' (e.g. 250ms, 1s, 5m, 1h, 3d)");
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s" || unit.empty()) scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  else throw std::invalid_argument("unknown duration unit in '" + std::string(text) + "' (use ms, s, m, h or d)");
  // At most 2^40 ms (about 34 years), checked before multiplying: 2^40 days
  // in milliseconds overflowed int64 (undefined behaviour).
  if (*n > kMaxDurationMs / scale)
    throw std::invalid_argument("duration too long: '" + std::string(text) + "' (at most 2^40 ms, about 34 years)");
  return std::chrono::milliseconds(*n * scale);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace keel::payments
