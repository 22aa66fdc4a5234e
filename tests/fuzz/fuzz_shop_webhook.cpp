// POST /payment_webhook: the Payment-Signature header (first line) over the
// body (the rest), with common/webhook_signature.hpp, then the event's
// fields (shop::parse_payment_event). verify_webhook must classify every
// header without throwing; a header the payment service signs must verify;
// the event parser throws only HttpError 400.
#include "common/webhook_signature.hpp"
#include "fuzz_support.hpp"
#include "shop/api.hpp"

using namespace keel::apps;

namespace {
constexpr int64_t kNow = 1'765'000'000;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = keel::fuzz::fields(keel::fuzz::text(data, size), 2);
  const std::string& header = f[0];
  const std::string& body = f[1];

  SignatureCheck check = SignatureCheck::Missing;
  keel::fuzz::only<std::exception>([&] { check = verify_webhook("whsec_dev", header, body, kNow, 300); },
                                   [](const std::exception& e) {
                                     std::fprintf(stderr, "verify_webhook threw: %s\n", e.what());
                                     std::abort();
                                   });
  FUZZ_CHECK(std::string_view(to_string(check)) != "unknown");
  if (header.empty()) FUZZ_CHECK(check == SignatureCheck::Missing);

  // The header the payment service sends for this body verifies, also next
  // to the fuzzed entries (several v1= entries: one match suffices).
  const std::string signed_header = sign_webhook("whsec_dev", kNow - 10, body);
  FUZZ_CHECK(verify_webhook("whsec_dev", signed_header, body, kNow, 300) == SignatureCheck::Valid);
  FUZZ_CHECK(verify_webhook("other", signed_header, body, kNow, 300) == SignatureCheck::Mismatch);
  FUZZ_CHECK(verify_webhook("whsec_dev", signed_header, body, kNow + 3600, 300) == SignatureCheck::Stale);

  HttpRequest req;
  req.body = body;
  shop::PaymentEvent ev;
  if (!keel::fuzz::only<HttpError>([&] { ev = shop::parse_payment_event(req); },
                                   [](const HttpError& e) { FUZZ_CHECK(e.status() == 400); }))
    return 0;
  FUZZ_CHECK(!ev.id.empty() && !ev.type.empty() && !ev.session_id.empty() && !ev.order_id.empty());
  FUZZ_CHECK(ev.created.is_number_integer());
  return 0;
}
