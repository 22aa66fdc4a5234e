// The soak's growth test (tests/soak): does a sampled series grow without
// bound? A leak grows roughly linearly with the work done, so the test fits a
// least-squares line to the second half of the run (the first half holds the
// warm-up: caches, pools and the retention window filling) and projects it
// over one more run length. The series fails when that projected growth
// exceeds both a fraction of its level (`relative` of the second half's
// mean) and an absolute floor (so that a count of 12 file descriptors does
// not fail on one more). A flat series, noisy or not, and a sawtooth whose
// teeth are short against the run (retention's passes, restarts) have a
// slope near zero and pass. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace keel::soak {

// One series' samples: times in seconds since the start, values.
struct Series {
  std::vector<double> t;
  std::vector<double> v;
};

struct SlopeLimits {
  double relative = 0.25;  // of the second half's mean, over one more run length
  double floor = 0;        // absolute, in the series' unit
};

struct SlopeVerdict {
  size_t samples = 0;              // in the whole series
  double first_half_mean = 0;
  double second_half_mean = 0;
  double slope_per_hour = 0;       // least squares over the second half
  double projected_growth = 0;     // slope times one more run length
  double allowed_growth = 0;       // max(relative * second_half_mean, floor)
  bool grows = false;              // projected_growth > allowed_growth
  std::string note;                // why no verdict could be reached, else ""
};

// Least-squares slope of v over t (value units per second). Throws
// std::invalid_argument when the sizes differ, fewer than two points are
// given or all t are equal.
double least_squares_slope(const std::vector<double>& t, const std::vector<double>& v);

// The verdict on a whole run's series. Fewer than 4 samples in the second
// half: no verdict (grows = false, note says so). Throws
// std::invalid_argument on sizes that differ or times that go backwards.
SlopeVerdict judge_growth(const Series& s, const SlopeLimits& limits);

}  // namespace keel::soak
