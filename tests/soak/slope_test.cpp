// The soak's growth test on made-up series (slope.hpp): what it must fail
// (steady growth) and what it must pass (flat noise, a sawtooth, growth that
// stops after the warm-up).
#include "slope.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "sample_table.hpp"

#include <cmath>
#include <random>
#include <stdexcept>

namespace {

using keel::soak::judge_growth;
using keel::soak::least_squares_slope;
using keel::soak::Series;
using keel::soak::SlopeLimits;

// An hour sampled every 5 s, values from f(t).
template <typename F>
Series hour_of(F f) {
  Series s;
  for (double t = 0; t <= 3600; t += 5) {
    s.t.push_back(t);
    s.v.push_back(f(t));
  }
  return s;
}

TEST(Slope, LeastSquaresOfALineIsItsSlope) {
  EXPECT_DOUBLE_EQ(least_squares_slope({0, 1, 2, 3}, {1, 3, 5, 7}), 2.0);
  EXPECT_THROW(least_squares_slope({0, 1}, {1}), std::invalid_argument);
  EXPECT_THROW(least_squares_slope({0}, {1}), std::invalid_argument);
  EXPECT_THROW(least_squares_slope({2, 2, 2}, {1, 2, 3}), std::invalid_argument);
}

// 100 MB growing 20 MB an hour (in kB): a leak, projected 20 % of the level.
TEST(Slope, SteadyGrowthFails) {
  auto v = judge_growth(hour_of([](double t) { return 100'000 + 20'000 * t / 3600; }), {.relative = 0.1, .floor = 1000});
  EXPECT_TRUE(v.grows);
  EXPECT_NEAR(v.slope_per_hour, 20'000, 1);
  EXPECT_GT(v.second_half_mean, v.first_half_mean);
}

// A slow leak of 1 fd a minute on 40 fds: small in absolute terms, but
// unbounded; the floor of 8 does not hide it.
TEST(Slope, SmallButSteadyGrowthAboveTheFloorFails) {
  EXPECT_TRUE(judge_growth(hour_of([](double t) { return 40 + std::floor(t / 60); }), {.relative = 0.25, .floor = 8})
                  .grows);
}

TEST(Slope, FlatNoisySeriesPasses) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 3'000);
  auto v = judge_growth(hour_of([&](double) { return 100'000 + noise(rng); }), {.relative = 0.1, .floor = 1000});
  EXPECT_FALSE(v.grows) << v.slope_per_hour;
}

// Retention's passes: the table fills for 60 s, then drops back.
TEST(Slope, SawtoothPasses) {
  auto v = judge_growth(hour_of([](double t) { return 1000 + 50 * std::fmod(t, 60); }), {.relative = 0.1, .floor = 10});
  EXPECT_FALSE(v.grows) << v.slope_per_hour;
}

// Warm-up: grows for ten minutes, flat afterwards; the second half is flat.
TEST(Slope, GrowthThatStopsInTheFirstHalfPasses) {
  auto v = judge_growth(hour_of([](double t) { return 50'000 + 30'000 * std::min(t, 600.0) / 600; }),
                        {.relative = 0.1, .floor = 1000});
  EXPECT_FALSE(v.grows);
  EXPECT_LT(v.first_half_mean, v.second_half_mean);
}

// A tiny count moving by one or two stays under the floor.
TEST(Slope, TinySeriesUnderTheFloorPasses) {
  EXPECT_FALSE(judge_growth(hour_of([](double t) { return t < 2000 ? 11 : 13; }), {.relative = 0.25, .floor = 8}).grows);
}

TEST(Slope, TooFewSamplesGiveNoVerdict) {
  auto v = judge_growth({{0, 1, 2, 3, 4}, {1, 2, 3, 4, 5}}, {.relative = 0.1, .floor = 0});
  EXPECT_FALSE(v.grows);
  EXPECT_NE(v.note, "");
  EXPECT_EQ(judge_growth({}, {}).note, "no samples");
  EXPECT_THROW(judge_growth({{0, 1}, {1}}, {}), std::invalid_argument);
  EXPECT_THROW(judge_growth({{1, 0}, {1, 1}}, {}), std::invalid_argument);
}

// A ceiling is a hard bound: one sample above it is reported, judged series
// or not (a victim's per-life connections too), and an empty cell is no sample.
TEST(Slope, ASampleAboveItsCeilingIsReportedJudgedOrNot) {
  const auto csv = std::filesystem::temp_directory_path() / ("keel_soak_ceiling_" + std::to_string(::getpid()) + ".csv");
  {
    keel::soak::SampleTable table({{"judged", true, {0.25, 4}, "", "", 19.0},
                                   {"info", false, {}, "per life", "", 19.0},
                                   {"within", true, {0.25, 4}, "", "", 19.0}},
                                  csv.string());
    table.add(0, {{"judged", 18.0}, {"info", 3.0}, {"within", 19.0}});
    table.add(1, {{"judged", 20.0}, {"info", 25.0}, {"within", std::nullopt}});
    EXPECT_EQ(table.above_ceiling(), (std::vector<std::string>{"judged", "info"}));
    EXPECT_NE(table.summary().find("max 25 ABOVE bound 19"), std::string::npos) << table.summary();
  }
  std::filesystem::remove(csv);
}

}  // namespace
