// The instruments of Keel's metrics (GET /metrics, docs/operations.md
// "Metrics"): counters, gauges, histograms with fixed buckets, and labelled
// families of them. No third-party dependency (prometheus-cpp is not in
// Debian 12); the text format is exposition.hpp's.
//
// Cost on the hot path: an instrument is a few relaxed atomics. A family's
// lookup (with) is lock-free once the label set exists: children are never
// removed, so a reader probes an insert-only table of published pointers; only
// the first use of a label set takes the family's mutex. A family holds at
// most max_children label sets: further ones share one child whose label
// values are all "other", so a caller that passes unbounded values (a step
// name built at run time) cannot grow the scrape without bound.
//
// Thread-safety: every member is safe to call concurrently; a scrape reads
// while workers write (values are relaxed: a scrape sees each atomic's
// latest value, not a snapshot of all at one instant).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel::metrics {

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Upper bounds, strictly increasing; the +Inf bucket is implicit. Bounds are
// static arrays (buckets.hpp): a histogram refers to them, never copies them.
using Bounds = std::span<const double>;

class Histogram {
 public:
  explicit Histogram(Bounds bounds);
  void observe(double v);

  struct Snapshot {
    Bounds bounds;
    std::vector<uint64_t> cumulative;  // bounds.size() + 1 entries: the last is +Inf, == count
    double sum = 0;
  };
  // Cumulative counts, as the text format wants them; the count is the +Inf
  // bucket, so _count and the buckets always agree.
  Snapshot snapshot() const;

 private:
  Bounds bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// The label values of one child, in the order of its family's label names.
using LabelValues = std::vector<std::string>;

template <class T>
class Family {
 public:
  using Make = std::function<std::unique_ptr<T>()>;
  static constexpr size_t kDefaultMaxChildren = 256;

  Family(std::vector<std::string> label_names, Make make = [] { return std::make_unique<T>(); },
         size_t max_children = kDefaultMaxChildren)
      : label_names_(std::move(label_names)), make_(std::move(make)), max_children_(max_children) {}
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The child of these label values (one per label name), created on first use.
  T& with(std::initializer_list<std::string_view> values) {
    const size_t h = hash(values);
    for (size_t i = h & kMask;; i = (i + 1) & kMask) {
      const Child* c = slots_[i].load(std::memory_order_acquire);
      if (!c) return insert(values, h);
      if (c->hash == h && equal(c->values, values)) return *c->value;
    }
  }

  const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls f(values, child) for every child, in order of creation.
  void each(const std::function<void(const LabelValues&, const T&)>& f) const {
    std::lock_guard lock(mu_);
    for (const auto& c : children_) f(c->values, *c->value);
    if (overflow_) f(overflow_->values, *overflow_->value);
  }

 private:
  struct Child {
    LabelValues values;
    size_t hash = 0;
    std::unique_ptr<T> value;
  };
  // A power of two, at least twice max_children: probes stay short.
  static constexpr size_t kSlots = 1024;
  static constexpr size_t kMask = kSlots - 1;

  static size_t hash(std::initializer_list<std::string_view> values) {
    size_t h = 0x9e3779b97f4a7c15ULL;
    for (auto v : values) h = (h ^ std::hash<std::string_view>{}(v)) * 0x100000001b3ULL + 0x7f4a7c15;
    return h;
  }
  static bool equal(const LabelValues& a, std::initializer_list<std::string_view> b) {
    if (a.size() != b.size()) return false;
    auto it = b.begin();
    for (const auto& v : a)
      if (v != *it++) return false;
    return true;
  }

  T& insert(std::initializer_list<std::string_view> values, size_t h) {
    std::lock_guard lock(mu_);
    size_t i = h & kMask;
    for (;; i = (i + 1) & kMask) {  // another thread may have inserted it meanwhile
      const Child* c = slots_[i].load(std::memory_order_acquire);
      if (!c) break;
      if (c->hash == h && equal(c->values, values)) return *c->value;
    }
    if (children_.size() >= std::min(max_children_, kSlots / 2)) return overflow();
    auto child = std::make_unique<Child>(Child{LabelValues(values.begin(), values.end()), h, make_()});
    Child* raw = child.get();
    children_.push_back(std::move(child));
    slots_[i].store(raw, std::memory_order_release);  // published whole: readers see a constructed child
    return *raw->value;
  }

  T& overflow() {  // called with mu_ held
    if (!overflow_)
      overflow_ = std::make_unique<Child>(Child{LabelValues(label_names_.size(), "other"), 0, make_()});
    return *overflow_->value;
  }

  const std::vector<std::string> label_names_;
  const Make make_;
  const size_t max_children_;
  std::array<std::atomic<const Child*>, kSlots> slots_{};
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Child>> children_;  // guarded by mu_; never shrinks
  std::unique_ptr<Child> overflow_;               // guarded by mu_
};

// A family of histograms sharing bounds.
inline std::function<std::unique_ptr<Histogram>()> histograms_of(Bounds bounds) {
  return [bounds] { return std::make_unique<Histogram>(bounds); };
}

}  // namespace keel::metrics
