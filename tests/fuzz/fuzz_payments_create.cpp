// POST /api/create_payment_session: the Idempotency-Key header (first line)
// and the JSON body (the rest), through the payment service's validators
// (payments/api.hpp, payments/model.hpp) as PaymentApi::handle_create runs
// them, up to the fingerprint. Documented failures: HttpError 400 from the
// key and the JSON parser, ValidationError from the body's rules. A valid
// request must keep its bounds and round-trip through its stored form
// (the create-session workflow's input).
#include "fuzz_support.hpp"
#include "payments/api.hpp"
#include "payments/model.hpp"

using keel::apps::HttpError;
using keel::apps::HttpRequest;
using namespace keel::payments;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = keel::fuzz::fields(keel::fuzz::text(data, size), 2);
  HttpRequest req;
  req.headers.emplace("idempotency-key", f[0]);
  req.body = f[1];
  auto is_400 = [](const HttpError& e) { FUZZ_CHECK(e.status() == 400); };
  keel::fuzz::only<HttpError>([&] { (void)idempotency_key_of(req, true); }, is_400);

  Json body;
  if (!keel::fuzz::only<HttpError>([&] { body = keel::apps::parse_json_body(req); }, is_400)) return 0;
  std::variant<CreateRequest, ValidationError> validated;
  keel::fuzz::only<std::exception>([&] { validated = validate_create_request(body); },
                                   [](const std::exception& e) {
                                     std::fprintf(stderr, "validate_create_request threw: %s\n", e.what());
                                     std::abort();
                                   });
  // The fingerprint of the canonical body, as the handler computes it.
  FUZZ_CHECK(sha256_hex(body.dump()).size() == 64);
  if (auto* err = std::get_if<ValidationError>(&validated)) {
    FUZZ_CHECK(!err->message.empty());
    return 0;
  }
  const CreateRequest& r = std::get<CreateRequest>(validated);
  FUZZ_CHECK(!r.client_reference_id.empty() && r.client_reference_id.size() <= 255);
  FUZZ_CHECK(is_loopback_http_url(r.webhook_url));
  FUZZ_CHECK(!r.items.empty() && r.items.size() <= kMaxItems);
  int64_t total = 0;
  for (const auto& item : r.items) {
    FUZZ_CHECK(item.quantity >= 1 && item.quantity <= kMaxQuantity);
    FUZZ_CHECK(item.price_cents >= 0 && item.price_cents <= kMaxPriceCents);
    total += item.quantity * item.price_cents;
  }
  FUZZ_CHECK(total == r.amount_cents && total <= kMaxAmountCents);

  CreateInput in{"key", sha256_hex(body.dump()), "req_1", r, 0};
  const Json stored = in;
  const CreateInput back = stored.get<CreateInput>();
  FUZZ_CHECK(Json(back) == stored);
  // The stored request validates again to the same request.
  auto again = validate_create_request(Json(r));
  FUZZ_CHECK(std::holds_alternative<CreateRequest>(again) && Json(std::get<CreateRequest>(again)) == Json(r));
  return 0;
}
