#include "common/web_assets.hpp"

#include <string>

namespace keel::apps {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string_view content_type_of(std::string_view name) {
  if (ends_with(name, ".html")) return "text/html; charset=utf-8";
  if (ends_with(name, ".js")) return "text/javascript; charset=utf-8";
  if (ends_with(name, ".css")) return "text/css; charset=utf-8";
  if (ends_with(name, ".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

const WebAsset* find_asset(std::span<const WebAsset> assets, std::string_view name) {
  for (const WebAsset& a : assets)
    if (a.name == name) return &a;
  return nullptr;
}

void add_page_headers(HttpResponse& response) {
  response.headers["Content-Security-Policy"] = "default-src 'self'";
  response.headers["X-Content-Type-Options"] = "nosniff";
  response.headers["Cache-Control"] = "no-cache";
}

HttpResponse page_response(std::span<const WebAsset> assets, std::string_view name, int status) {
  const WebAsset* asset = find_asset(assets, name);
  if (!asset) throw HttpError(404, "not_found", "no asset " + std::string(name));
  HttpResponse r = HttpResponse::text(std::string(asset->data), status, std::string(content_type_of(name)));
  add_page_headers(r);
  return r;
}

bool wants_html(const HttpRequest& request) {
  auto accept = request.header("accept");
  return accept && accept->find("text/html") != std::string::npos &&
         accept->find("application/json") == std::string::npos;
}

void add_asset_routes(HttpService& http, std::span<const WebAsset> assets) {
  http.route("GET", "/assets/:name", [assets](const HttpRequest& req) {
    return page_response(assets, req.path_param("name").value_or(""));
  });
}

}  // namespace keel::apps
