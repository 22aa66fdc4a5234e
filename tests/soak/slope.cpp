#include "slope.hpp"

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <stdexcept>

namespace keel::soak {

namespace {

double mean(std::vector<double>::const_iterator begin, std::vector<double>::const_iterator end) {
  if (begin == end) return 0;
  return std::accumulate(begin, end, 0.0) / static_cast<double>(end - begin);
}

constexpr size_t kMinSecondHalf = 4;  // fewer points: a line through noise

}  // namespace

double least_squares_slope(const std::vector<double>& t, const std::vector<double>& v) {
  if (t.size() != v.size()) throw std::invalid_argument("least_squares_slope: times and values differ in size");
  if (t.size() < 2) throw std::invalid_argument("least_squares_slope: fewer than two points");
  const double mt = mean(t.begin(), t.end()), mv = mean(v.begin(), v.end());
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    sxy += (t[i] - mt) * (v[i] - mv);
    sxx += (t[i] - mt) * (t[i] - mt);
  }
  if (sxx == 0) throw std::invalid_argument("least_squares_slope: all points at one time");
  return sxy / sxx;
}

SlopeVerdict judge_growth(const Series& s, const SlopeLimits& limits) {
  if (s.t.size() != s.v.size()) throw std::invalid_argument("judge_growth: times and values differ in size");
  if (!std::is_sorted(s.t.begin(), s.t.end())) throw std::invalid_argument("judge_growth: times go backwards");
  SlopeVerdict out;
  out.samples = s.t.size();
  if (s.t.empty()) {
    out.note = "no samples";
    return out;
  }
  const double start = s.t.front(), run = s.t.back() - start, middle = start + run / 2;
  const size_t half = static_cast<size_t>(std::lower_bound(s.t.begin(), s.t.end(), middle) - s.t.begin());
  out.first_half_mean = mean(s.v.begin(), s.v.begin() + static_cast<std::ptrdiff_t>(half));
  out.second_half_mean = mean(s.v.begin() + static_cast<std::ptrdiff_t>(half), s.v.end());
  if (s.t.size() - half < kMinSecondHalf || s.t.back() == s.t[half]) {
    out.note = "too few samples in the second half";
    return out;
  }
  const std::vector<double> t2(s.t.begin() + static_cast<std::ptrdiff_t>(half), s.t.end());
  const std::vector<double> v2(s.v.begin() + static_cast<std::ptrdiff_t>(half), s.v.end());
  const double slope = least_squares_slope(t2, v2);
  out.slope_per_hour = slope * 3600;
  out.projected_growth = slope * run;
  out.allowed_growth = std::max(limits.relative * out.second_half_mean, limits.floor);
  out.grows = out.projected_growth > out.allowed_growth;
  return out;
}

}  // namespace keel::soak
