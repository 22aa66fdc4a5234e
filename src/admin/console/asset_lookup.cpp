// Lookup of the console's embedded files, and the headers that keep the page
// to its own origin (console_assets.hpp).
#include "admin/console/console_assets.hpp"

namespace keel::admin::console {

const Asset* find_asset(std::string_view path) {
  for (const auto& a : assets())
    if (a.path == path) return &a;
  return nullptr;
}

const std::vector<std::pair<std::string_view, std::string_view>>& security_headers() {
  // default-src 'self' covers scripts, styles, images, fonts and fetch();
  // frame-ancestors is not covered by it and keeps the Cancel and Fork
  // buttons out of another site's frame (clickjacking).
  static const std::vector<std::pair<std::string_view, std::string_view>> headers{
      {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
  };
  return headers;
}

}  // namespace keel::admin::console
