// POST /checkout/:key? — the idempotency key (first line of the input) and
// the JSON body (the rest), through the shop's own validators
// (shop/api.hpp). Documented failure: HttpError 400. A body that parses
// must give 1..100 positive lines and survive a round trip through its
// JSON form (the workflow's stored input).
#include "fuzz_support.hpp"
#include "shop/api.hpp"

using keel::apps::HttpError;
using namespace keel::apps::shop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = keel::fuzz::fields(keel::fuzz::text(data, size), 2);
  auto is_400 = [](const HttpError& e) { FUZZ_CHECK(e.status() == 400 && !e.code().empty()); };
  keel::fuzz::only<HttpError>([&] { validate_checkout_key(f[0]); }, is_400);

  CheckoutRequest r;
  if (!keel::fuzz::only<HttpError>([&] { r = parse_checkout_body(f[1]); }, is_400)) return 0;
  FUZZ_CHECK(!r.items.empty() && r.items.size() <= 100);
  for (const auto& line : r.items) FUZZ_CHECK(line.product_id > 0 && line.quantity > 0);
  const nlohmann::json stored = r;
  FUZZ_CHECK(stored.get<CheckoutRequest>() == r);
  FUZZ_CHECK(parse_checkout_body(stored.dump()) == r);
  return 0;
}
