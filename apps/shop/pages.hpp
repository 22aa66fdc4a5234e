// shop/pages.hpp — the shop's browser pages (apps/shop/web/, compiled in by
// CMake; docs/shop.md, "The browser pages").
//
//   GET /               the storefront: products, quantities, Buy
//   GET /orders/:id     the order page, for a browser (wants_html); the JSON
//                       stays the answer for everyone else (api.cpp)
//   GET /assets/:name   their scripts, stylesheet and icon
//
// The pages are static files: they render the JSON API (GET /products,
// POST /checkout/:key, GET /orders/:id) with textContent.
#pragma once

#include <span>

#include "common/http_service.hpp"
#include "common/web_assets.hpp"

namespace keel::apps {
// Generated at build time (apps/shop/CMakeLists.txt).
std::span<const WebAsset> shop_web_assets();
}  // namespace keel::apps

namespace keel::apps::shop {

// GET / and GET /assets/:name.
void add_page_routes(HttpService& http);

// The order page; status 404 when the order is unknown (the page says so).
HttpResponse order_page(int status);

}  // namespace keel::apps::shop
