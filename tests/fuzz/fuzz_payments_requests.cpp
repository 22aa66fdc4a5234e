// The payment service's other request inputs: the body of POST
// /api/submit_payment, /cancel_payment and /expire_session (the rest of the
// input), and GET /api/charges ?limit=N (first line) &after=CURSOR (second
// line). Documented failures: HttpError 400 (JSON), ValidationError
// (session_id), nullopt (limit, cursor). A cursor must be canonical: the
// service's own encoding of what it decodes to.
#include "fuzz_support.hpp"
#include "payments/api.hpp"
#include "payments/model.hpp"

using keel::apps::HttpError;
using keel::apps::HttpRequest;
using namespace keel::payments;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = keel::fuzz::fields(keel::fuzz::text(data, size), 3);

  // Leading zeros are accepted ("0500" is 500): the value is what counts.
  if (auto limit = parse_int(f[0], 1, 500)) FUZZ_CHECK(*limit >= 1 && *limit <= 500 && std::stoll(f[0]) == *limit);
  if (auto seq = decode_cursor(f[1])) {
    FUZZ_CHECK(*seq >= 0);
    FUZZ_CHECK(encode_cursor(*seq) == f[1]);
  }
  // Any sequence number's cursor decodes back to it.
  if (f[0].size() <= 19) {
    if (auto n = parse_int(f[0], 0, INT64_MAX)) FUZZ_CHECK(decode_cursor(encode_cursor(*n)) == n);
  }

  HttpRequest req;
  req.body = f[2];
  Json body;
  if (!keel::fuzz::only<HttpError>([&] { body = keel::apps::parse_json_body(req); },
                                   [](const HttpError& e) { FUZZ_CHECK(e.status() == 400); }))
    return 0;
  auto v = validate_session_request(body);
  if (auto* id = std::get_if<std::string>(&v)) {
    FUZZ_CHECK(!id->empty() && id->size() <= 255);
    // The fingerprint of an idempotent status change.
    FUZZ_CHECK(sha256_hex(body.dump()).size() == 64);
  }
  return 0;
}
