// GET /orders ?status=S&limit=N&after=CURSOR, and GET /orders/:order_id's
// path parameter: one line each (status, limit, after). Documented
// failure: HttpError 400. A cursor the shop wrote must read back as its seq.
#include "fuzz_support.hpp"
#include "shop/api.hpp"

using keel::apps::HttpError;
using keel::apps::HttpRequest;
using namespace keel::apps::shop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = keel::fuzz::fields(keel::fuzz::text(data, size), 3);
  HttpRequest req;
  // A line starting with '-' leaves its parameter out (absent, not empty).
  const char* names[] = {"status", "limit", "after"};
  for (int i = 0; i < 3; ++i)
    if (f[i].empty() || f[i][0] != '-') req.query[names[i]] = f[i];

  OrdersQuery q;
  auto is_400 = [](const HttpError& e) { FUZZ_CHECK(e.status() == 400); };
  if (!keel::fuzz::only<HttpError>([&] { q = parse_orders_query(req); }, is_400)) return 0;
  FUZZ_CHECK(q.limit >= 1 && q.limit <= 500);
  FUZZ_CHECK(q.after >= 0);
  FUZZ_CHECK(!q.status || is_order_status(*q.status));

  // The "next" cursor of a page ending at q.after reads back as q.after.
  HttpRequest next;
  next.query["after"] = orders_cursor(q.after);
  FUZZ_CHECK(parse_orders_query(next).after == q.after);
  return 0;
}
