// Who may use the admin server (keel/admin_server.hpp, "Security"): the
// bearer token, and the refusal of cross-site browser requests that would
// change state. Pure functions of the request, so each refusal is tested
// over real HTTP and nothing here holds state but the token's digest.
#pragma once

#include <httplib.h>

#include <array>
#include <optional>
#include <set>
#include <string>

namespace keel::admin {

struct Refusal {
  int status;
  std::string code;
  std::string message;
};

// Whether host names this machine's loopback only: localhost, 127.0.0.0/8, ::1.
bool is_loopback_host(const std::string& host);

class RequestGuard {
 public:
  // An empty token: no authentication (the server then binds loopback only).
  // open_paths: the paths (exact, as sent, without the query) served without
  // the token besides /healthz: the web console's static files, which hold
  // no data. Every other path still needs the token.
  explicit RequestGuard(const std::string& token, std::set<std::string> open_paths = {});
  bool has_token() const { return has_token_; }
  // Why req must be refused, or nothing.
  std::optional<Refusal> check(const httplib::Request& req, const std::string& path) const;

 private:
  bool authorized(const httplib::Request& req) const;
  bool has_token_ = false;
  std::set<std::string> open_paths_;
  std::array<unsigned char, 32> token_digest_{};  // SHA-256: the comparison never depends on the token's length
};

}  // namespace keel::admin
