// The decoding of stored values: what the system database holds as a
// workflow's inputs or output, a step's result, an event or a message (and
// the apps' workflow inputs on top). A row whose bytes are arbitrary must
// give keel::SerializationError (parse_stored_json, from_json_value<T>),
// never a crash or another exception. The first byte picks the type the
// rest is read as; the other bytes are the stored text.
#include <map>
#include <optional>

#include "fuzz_support.hpp"
#include "keel/errors.hpp"
#include "keel/serialization.hpp"
#include "keel/status.hpp"
#include "payments/model.hpp"
#include "shop/store.hpp"

using namespace keel;

namespace {

template <class T>
void decode_as(const Json& j) {
  keel::fuzz::only<SerializationError>([&] {
    T value = from_json_value<T>(j);
    // What decodes encodes again (the next checkpoint writes it).
    (void)to_json_value(value).dump();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t pick = data[0];
  const std::string stored(keel::fuzz::text(data + 1, size - 1));

  keel::fuzz::only<SerializationError>([&] { (void)workflow_status_from_string(stored); });
  keel::fuzz::only<SerializationError>([&] { (void)operation_kind_from_string(stored); });
  keel::fuzz::only<Error>([&] { throw_recorded_error(stored, "message"); });

  Json j;
  if (!keel::fuzz::only<SerializationError>([&] { j = parse_stored_json(stored, "fuzz.output"); })) return 0;
  // Parsed JSON is valid UTF-8: it serializes again, to an equal value.
  const std::string again = j.dump();
  FUZZ_CHECK(Json::parse(again) == j);

  switch (pick % 12) {
    case 0: decode_as<std::string>(j); break;
    case 1: decode_as<int64_t>(j); break;
    case 2: decode_as<std::optional<int>>(j); break;
    case 3: decode_as<std::vector<std::string>>(j); break;
    case 4: decode_as<std::map<std::string, double>>(j); break;
    case 5: decode_as<bool>(j); break;
    case 6: decode_as<apps::shop::CheckoutRequest>(j); break;
    case 7: decode_as<apps::shop::Reservation>(j); break;
    case 8: decode_as<payments::CreateInput>(j); break;
    case 9: decode_as<payments::DeliveryJob>(j); break;
    case 10: decode_as<payments::AttemptResult>(j); break;
    default: decode_as<std::tuple<std::string, int64_t>>(j); break;
  }
  return 0;
}
