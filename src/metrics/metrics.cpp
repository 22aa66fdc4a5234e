#include "metrics/metrics.hpp"

#include <algorithm>

namespace keel::metrics {

Histogram::Histogram(Bounds bounds)
    : bounds_(bounds), counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {}

void Histogram::observe(double v) {
  // The first bound >= v: Prometheus buckets are "less than or equal".
  auto i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s{bounds_, std::vector<uint64_t>(bounds_.size() + 1), sum_.load(std::memory_order_relaxed)};
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  return s;
}

}  // namespace keel::metrics
