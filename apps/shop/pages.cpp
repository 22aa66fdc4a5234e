#include "shop/pages.hpp"

namespace keel::apps::shop {

void add_page_routes(HttpService& http) {
  http.route("GET", "/", [](const HttpRequest&) { return page_response(shop_web_assets(), "index.html"); });
  add_asset_routes(http, shop_web_assets());
}

HttpResponse order_page(int status) { return page_response(shop_web_assets(), "order.html", status); }

}  // namespace keel::apps::shop
