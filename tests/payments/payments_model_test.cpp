// The payment service's pure helpers (payments/model.hpp) on the inputs the
// fuzz targets found wrong (tests/fuzz, docs/testing.md "Fuzzing"); each
// input is in that target's corpus too.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "payments/model.hpp"
#include "payments/settings.hpp"

namespace {

using namespace keel::payments;
using std::chrono::milliseconds;

TEST(PaymentsModel, DurationsInEveryUnit) {
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("2"), milliseconds(2000));
  EXPECT_EQ(parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(parse_duration("3d"), milliseconds(3LL * 86'400'000));
  EXPECT_THROW(parse_duration("1w"), std::invalid_argument);
  EXPECT_THROW(parse_duration(""), std::invalid_argument);
}

// fuzz_durations: up to 2^40 of a unit was accepted, and 2^40 days (or
// hours, minutes) in milliseconds overflows int64: undefined behaviour
// (UBSan: signed integer overflow), in practice a negative or wrapped delay.
TEST(PaymentsModel, DurationTooLongForMillisecondsIsRefused) {
  EXPECT_THROW(parse_duration("1099511627776d"), std::invalid_argument);
  EXPECT_THROW(parse_duration("1099511627776h"), std::invalid_argument);
  EXPECT_THROW(parse_duration("1099511627776m"), std::invalid_argument);
  EXPECT_THROW(parse_duration("106751991167301d"), std::invalid_argument);
  EXPECT_EQ(parse_duration("1099511627776ms"), milliseconds(int64_t{1} << 40));
}

TEST(PaymentsModel, SessionRequestNeedsASessionId) {
  EXPECT_EQ(std::get<std::string>(validate_session_request(Json{{"session_id", "cs_1"}})), "cs_1");
  for (const Json& bad : {Json::array(), Json{{"session_id", ""}}, Json{{"session_id", 5}},
                          Json{{"session_id", std::string(256, 'x')}}, Json("cs_1")})
    EXPECT_TRUE(std::holds_alternative<ValidationError>(validate_session_request(bad))) << bad.dump();
}

}  // namespace

namespace {

// parse_settings over a command line (argv[0] added).
std::variant<keel::payments::Settings, int> parse_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "payments");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return keel::payments::parse_settings(static_cast<int>(argv.size()), argv.data());
}

// Retention is off unless asked for; --retention takes a positive duration.
TEST(PaymentsSettings, RetentionFlags) {
  auto plain = parse_cli({"start"});
  ASSERT_TRUE(std::holds_alternative<keel::payments::Settings>(plain));
  EXPECT_FALSE(std::get<keel::payments::Settings>(plain).service.retention.has_value());
  EXPECT_EQ(std::get<keel::payments::Settings>(plain).service.retention_interval, milliseconds(60'000));

  auto on = parse_cli({"start", "--retention", "2m", "--retention-interval", "5s"});
  ASSERT_TRUE(std::holds_alternative<keel::payments::Settings>(on));
  EXPECT_EQ(std::get<keel::payments::Settings>(on).service.retention, milliseconds(120'000));
  EXPECT_EQ(std::get<keel::payments::Settings>(on).service.retention_interval, milliseconds(5000));

  // A bad value is a bad command line (CLI11's exit code, after its message).
  for (const char* bad : {"0s", "soon"}) {
    auto r = parse_cli({"start", "--retention", bad});
    ASSERT_TRUE(std::holds_alternative<int>(r)) << bad;
    EXPECT_NE(std::get<int>(r), 0) << bad;
  }
}

}  // namespace
