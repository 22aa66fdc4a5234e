#include "common/webhook_signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <vector>

namespace keel::apps {

std::string hmac_sha256_hex(std::string_view secret, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0xf]);
  }
  return out;
}

std::string sign_webhook(std::string_view secret, int64_t t, std::string_view body) {
  std::string ts = std::to_string(t);
  return "t=" + ts + ",v1=" + hmac_sha256_hex(secret, ts + "." + std::string(body));
}

const char* to_string(SignatureCheck c) {
  switch (c) {
    case SignatureCheck::Valid: return "valid";
    case SignatureCheck::Missing: return "missing signature";
    case SignatureCheck::Malformed: return "malformed signature header";
    case SignatureCheck::Stale: return "signature timestamp outside the tolerance";
    case SignatureCheck::Mismatch: return "signature does not match";
  }
  return "unknown";
}

SignatureCheck verify_webhook(std::string_view secret, std::string_view header, std::string_view body,
                              int64_t now_unix, int64_t tolerance_seconds) {
  if (header.empty()) return SignatureCheck::Missing;
  std::string_view t_text;
  std::vector<std::string_view> v1s;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.rfind("t=", 0) == 0) t_text = part.substr(2);
    else if (part.rfind("v1=", 0) == 0) v1s.push_back(part.substr(3));
  }
  int64_t t = 0;
  auto [ptr, ec] = std::from_chars(t_text.data(), t_text.data() + t_text.size(), t);
  if (t_text.empty() || ec != std::errc() || ptr != t_text.data() + t_text.size() || v1s.empty())
    return SignatureCheck::Malformed;
  // Compared without subtracting t: now - t overflows for a t near
  // INT64_MIN ("t=-9223372036854775808"), undefined behaviour.
  if (t < now_unix - tolerance_seconds || t > now_unix + tolerance_seconds) return SignatureCheck::Stale;
  std::string expected = hmac_sha256_hex(secret, std::string(t_text) + "." + std::string(body));
  bool match = false;
  for (auto v : v1s)
    if (v.size() == expected.size() && CRYPTO_memcmp(v.data(), expected.data(), expected.size()) == 0) match = true;
  return match ? SignatureCheck::Valid : SignatureCheck::Mismatch;
}

}  // namespace keel::apps
