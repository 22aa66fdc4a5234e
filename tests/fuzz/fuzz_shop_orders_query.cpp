// GET /orders ?status=S&limit=N&after=CURSOR, one line each (status, limit,
// after), and the Last-Event-ID header of GET /orders/:id/events (a fourth
// line). Documented failure: HttpError 400. A cursor the shop wrote must read
// back as its seq; an accepted event id must be the offset before the one it
// resumes from.
#include "fuzz_support.hpp"
#include "shop/api.hpp"

using keel::apps::HttpError;
using keel::apps::HttpRequest;
using namespace keel::apps::shop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = keel::fuzz::fields(keel::fuzz::text(data, size), 4);
  HttpRequest req;
  // A line starting with '-' leaves its parameter out (absent, not empty).
  const char* names[] = {"status", "limit", "after"};
  for (int i = 0; i < 3; ++i)
    if (f[i].empty() || f[i][0] != '-') req.query[names[i]] = f[i];

  auto is_400 = [](const HttpError& e) { FUZZ_CHECK(e.status() == 400); };
  // The fourth line is the header; a leading '-' leaves it out.
  std::optional<std::string> last_event_id;
  if (f[3].empty() || f[3][0] != '-') last_event_id = f[3];
  int64_t from = 0;
  if (keel::fuzz::only<HttpError>([&] { from = parse_last_event_id(last_event_id); }, is_400)) {
    FUZZ_CHECK(from >= 0);
    FUZZ_CHECK(last_event_id.has_value() == (from > 0));
    if (from > 0) FUZZ_CHECK(parse_last_event_id(std::to_string(from - 1)) == from);
  }

  OrdersQuery q;
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
