// The duration parsers, one input each: the shop's --checkout-timeout
// (shop::parse_duration, throws SettingsError), the payment service's
// --webhook-* flags (payments::parse_duration, throws
// std::invalid_argument), the admin API's "2h ago" times
// (admin::parse_duration and parse_time, nullopt when malformed), and
// --log-format. Each accepted duration must print back to itself in ms.
#include <chrono>

#include "fuzz_support.hpp"
#include "keel/logging.hpp"
#include "payments/model.hpp"
#include "shop/settings.hpp"
#include "workflow_filter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(keel::fuzz::text(data, size));

  std::chrono::milliseconds shop{0};
  if (keel::fuzz::only<keel::apps::shop::SettingsError>([&] { shop = keel::apps::shop::parse_duration(in); })) {
    FUZZ_CHECK(shop.count() > 0 && shop <= std::chrono::hours(365 * 24));
    FUZZ_CHECK(keel::apps::shop::parse_duration(std::to_string(shop.count()) + "ms") == shop);
  }

  std::chrono::milliseconds pay{0};
  if (keel::fuzz::only<std::invalid_argument>([&] { pay = keel::payments::parse_duration(in); })) {
    FUZZ_CHECK(pay.count() >= 0);
    if (pay.count() <= (int64_t{1} << 40))
      FUZZ_CHECK(keel::payments::parse_duration(std::to_string(pay.count()) + "ms") == pay);
  }

  if (auto ms = keel::admin::parse_duration(in)) {
    FUZZ_CHECK(*ms > 0);
    FUZZ_CHECK(keel::admin::parse_duration(std::to_string(*ms) + "ms") == ms);
  }
  constexpr int64_t kNow = 1'765'000'000'000;
  (void)keel::admin::parse_time(in, kNow);

  if (auto f = keel::parse_log_format(in)) FUZZ_CHECK(in == "text" || in == "json");
  return 0;
}
