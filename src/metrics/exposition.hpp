// The Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): one
// "# HELP" and one "# TYPE" line per metric family, then its samples,
// `name{label="value",...} value`. Label values are escaped (\\, \", \n), and
// so is HELP text (\\, \n). A histogram writes cumulative `_bucket{le="..."}`
// samples ending with le="+Inf", then `_sum` and `_count`.
// Thread-safety: a TextWriter is used by one thread (one scrape).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/metrics.hpp"

namespace keel::metrics {

// The Content-Type of a scrape in this format.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// What a metric family is: its name, its TYPE and its HELP text.
struct Def {
  std::string_view name;
  std::string_view type;  // "counter", "gauge" or "histogram"
  std::string_view help;
};

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// A sample value: integers exactly, +Inf/-Inf/NaN as the format spells them.
std::string format_value(double v);

class TextWriter {
 public:
  // The HELP and TYPE lines; once per family, before its samples.
  void header(const Def& def);
  void sample(std::string_view name, const Labels& labels, double value);

  // A family's header and its samples.
  void counter(const Def& def, const Counter& c);
  void gauge(const Def& def, double value);
  void histogram(const Def& def, const Histogram& h);
  void counters(const Def& def, const Family<Counter>& family);
  void histograms(const Def& def, const Family<Histogram>& family);

  const std::string& text() const { return out_; }

 private:
  void histogram_samples(std::string_view name, const Labels& labels, const Histogram::Snapshot& s);
  std::string out_;
};

}  // namespace keel::metrics
