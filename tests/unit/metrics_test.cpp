// The metrics module (src/metrics/): the instruments, labelled families and
// the Prometheus text format they are written in.
#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "metrics/catalog.hpp"
#include "metrics/exposition.hpp"
#include "metrics/metrics.hpp"

namespace keel::metrics {
namespace {

constexpr Def kCount{"test_events_total", "counter", "Events.\nSecond line with a \\ backslash."};
constexpr Def kLatency{"test_latency_seconds", "histogram", "Latency."};
constexpr double kBounds[] = {0.1, 1, 10};

// The value of the sample whose text before the value is `series`.
std::string value_of(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "<absent: " + series + ">";
  at += series.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

TEST(MetricsText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value(R"(a"b\c)" "\n" "d"), R"(a\"b\\c\nd)");
  EXPECT_EQ(escape_help("x\\y\nz\"q"), "x\\\\y\\nz\"q");  // quotes stay as they are in HELP

  Family<Counter> family({"workflow"});
  family.with({"quote\"back\\slash\nnewline"}).inc(3);
  TextWriter w;
  w.counters(kCount, family);
  EXPECT_EQ(w.text(),
            "# HELP test_events_total Events.\\nSecond line with a \\\\ backslash.\n"
            "# TYPE test_events_total counter\n"
            "test_events_total{workflow=\"quote\\\"back\\\\slash\\nnewline\"} 3\n");
}

TEST(MetricsText, FormatsValues) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.0005), "0.0005");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(MetricsText, HistogramBucketsAreCumulativeAndEndWithInf) {
  Histogram h(kBounds);
  for (double v : {0.05, 0.1, 0.5, 0.7, 5.0, 100.0}) h.observe(v);
  TextWriter w;
  w.histogram(kLatency, h);
  const std::string& t = w.text();
  EXPECT_EQ(t.rfind("# HELP test_latency_seconds Latency.\n# TYPE test_latency_seconds histogram\n", 0), 0u) << t;
  EXPECT_EQ(value_of(t, "test_latency_seconds_bucket{le=\"0.1\"}"), "2") << t;  // le: less than or equal
  EXPECT_EQ(value_of(t, "test_latency_seconds_bucket{le=\"1\"}"), "4") << t;
  EXPECT_EQ(value_of(t, "test_latency_seconds_bucket{le=\"10\"}"), "5") << t;
  EXPECT_EQ(value_of(t, "test_latency_seconds_bucket{le=\"+Inf\"}"), "6") << t;
  EXPECT_EQ(value_of(t, "test_latency_seconds_count"), "6") << t;
  EXPECT_DOUBLE_EQ(std::stod(value_of(t, "test_latency_seconds_sum")), 106.35);
  // The buckets in increasing order of le, +Inf last, then _sum and _count.
  EXPECT_LT(t.find("le=\"0.1\""), t.find("le=\"1\""));
  EXPECT_LT(t.find("le=\"10\""), t.find("le=\"+Inf\""));
  EXPECT_LT(t.find("le=\"+Inf\""), t.find("test_latency_seconds_sum"));
}

TEST(MetricsText, HistogramFamilyKeepsItsLabelsBeforeLe) {
  Family<Histogram> family({"kind", "operation"}, histograms_of(kBounds));
  family.with({"step", "charge"}).observe(0.5);
  TextWriter w;
  w.histograms(kLatency, family);
  EXPECT_EQ(value_of(w.text(), "test_latency_seconds_bucket{kind=\"step\",operation=\"charge\",le=\"1\"}"), "1")
      << w.text();
  EXPECT_EQ(value_of(w.text(), "test_latency_seconds_count{kind=\"step\",operation=\"charge\"}"), "1");
}

TEST(MetricsText, CountersOnlyGrow) {
  Family<Counter> family({"workflow", "status"});
  std::vector<uint64_t> seen;
  for (int round = 0; round < 4; ++round) {
    family.with({"checkout", "SUCCESS"}).inc();
    TextWriter w;
    w.counters(kCount, family);
    seen.push_back(std::stoull(value_of(w.text(), "test_events_total{workflow=\"checkout\",status=\"SUCCESS\"}")));
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST(MetricsFamily, SameLabelsSameChildOthersApart) {
  Family<Counter> family({"a", "b"});
  Counter& one = family.with({"x", "y"});
  EXPECT_EQ(&one, &family.with({"x", "y"}));
  EXPECT_NE(&one, &family.with({"y", "x"}));
  EXPECT_NE(&one, &family.with({"xy", ""}));  // no ambiguity from joining the values
  int children = 0;
  family.each([&](const LabelValues&, const Counter&) { ++children; });
  EXPECT_EQ(children, 3);
}

// A family is bounded: label sets past its cap share one "other" child.
TEST(MetricsFamily, LabelSetsPastTheCapShareOneOtherChild) {
  Family<Counter> family({"operation"}, [] { return std::make_unique<Counter>(); }, /*max_children=*/3);
  for (int i = 0; i < 10; ++i) family.with({"op-" + std::to_string(i)}).inc();
  std::vector<std::string> names;
  uint64_t other = 0;
  family.each([&](const LabelValues& v, const Counter& c) {
    names.push_back(v[0]);
    if (v[0] == "other") other = c.value();
  });
  EXPECT_EQ(names, (std::vector<std::string>{"op-0", "op-1", "op-2", "other"}));
  EXPECT_EQ(other, 7u);
  EXPECT_EQ(family.with({"op-1"}).value(), 1u) << "existing children keep counting on their own";
}

// Workers update while a scraper writes the text (ThreadSanitizer runs this,
// label concurrency): no count is lost, and each scrape sees a consistent
// histogram (its +Inf bucket is its _count).
TEST(MetricsConcurrency, WorkersCountWhileScrapesRead) {
  RuntimeMetrics m;
  constexpr int kThreads = 4, kPerThread = 5000;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) {
      TextWriter w;
      m.write(w);
      ASSERT_NE(w.text().find("keel_workflows_started_total"), std::string::npos);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        m.workflows_started.with({"wf-" + std::to_string(i % 7)}).inc();
        m.operation_seconds.with({"step", t % 2 ? "a" : "b"}).observe(0.001 * (i % 50));
      }
    });
  }
  for (auto& w : workers) w.join();
  done.store(true);
  scraper.join();
  uint64_t started = 0, observed = 0;
  m.workflows_started.each([&](const LabelValues&, const Counter& c) { started += c.value(); });
  m.operation_seconds.each([&](const LabelValues&, const Histogram& h) { observed += h.snapshot().cumulative.back(); });
  EXPECT_EQ(started, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(observed, uint64_t{kThreads} * kPerThread);
}

}  // namespace
}  // namespace keel::metrics
