// Webhook signatures shared by the payment service (signs) and the shop
// (verifies), as in spec/http.md:
//   Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
// Several v1= entries may be present; one match suffices; compared in
// constant time; a timestamp more than `tolerance` away from now is rejected.
// Thread-safe, pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace keel::apps {

std::string hmac_sha256_hex(std::string_view secret, std::string_view data);

// The header value for body signed at timestamp t.
std::string sign_webhook(std::string_view secret, int64_t t, std::string_view body);

enum class SignatureCheck { Valid, Missing, Malformed, Stale, Mismatch };
const char* to_string(SignatureCheck c);

SignatureCheck verify_webhook(std::string_view secret, std::string_view header, std::string_view body,
                              int64_t now_unix, int64_t tolerance_seconds = 300);

}  // namespace keel::apps
