#include "admin/request_guard.hpp"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <utility>

namespace keel::admin {

namespace {

std::array<unsigned char, 32> digest(const std::string& text) {
  std::array<unsigned char, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d.data());
  return d;
}

// "host[:port]" of an Origin ("scheme://host[:port]"), or empty when it has none.
std::string origin_authority(const std::string& origin) {
  auto scheme_end = origin.find("://");
  if (scheme_end == std::string::npos) return {};
  std::string rest = origin.substr(scheme_end + 3);
  return rest.substr(0, rest.find('/'));
}

bool changes_state(const std::string& method) { return method != "GET" && method != "HEAD"; }

}  // namespace

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

RequestGuard::RequestGuard(const std::string& token, std::set<std::string> open_paths)
    : has_token_(!token.empty()), open_paths_(std::move(open_paths)) {
  if (has_token_) token_digest_ = digest(token);
}

bool RequestGuard::authorized(const httplib::Request& req) const {
  constexpr std::string_view kBearer = "Bearer ";
  const std::string header = req.get_header_value("Authorization");
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) return false;
  auto given = digest(header.substr(kBearer.size()));
  return CRYPTO_memcmp(given.data(), token_digest_.data(), given.size()) == 0;
}

std::optional<Refusal> RequestGuard::check(const httplib::Request& req, const std::string& path) const {
  if (changes_state(req.method)) {
    // Browsers send these; curl, the CLI and scripts send neither.
    const std::string site = req.get_header_value("Sec-Fetch-Site");
    if (!site.empty() && site != "same-origin" && site != "none")
      return Refusal{403, "cross_site", "a cross-site request (Sec-Fetch-Site: " + site + ") may not change state"};
    if (req.has_header("Origin")) {
      const std::string origin = req.get_header_value("Origin");
      if (origin_authority(origin) != req.get_header_value("Host"))
        return Refusal{403, "cross_site", "a request from origin '" + origin + "' may not change state here"};
    }
  }
  if (!has_token_ || path == "/healthz") return std::nullopt;
  // Only reads of the console's files: they are the same for everyone, and
  // the page asks for the token before it reads any data.
  if (!changes_state(req.method) && open_paths_.count(path) != 0) return std::nullopt;
  if (!authorized(req))
    return Refusal{401, "unauthorized", "this route requires the header 'Authorization: Bearer <admin token>'"};
  return std::nullopt;
}

}  // namespace keel::admin
