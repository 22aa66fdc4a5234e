#include "metrics/exposition.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace keel::metrics {

namespace {

Labels labels_of(const std::vector<std::string>& names, const LabelValues& values) {
  Labels labels;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) labels.emplace_back(names[i], values[i]);
  return labels;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Exact integers (counts) without an exponent, up to 2^53.
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    return std::string(buf, end);
  }
  // The shortest text that reads back as v; without an exponent in the
  // range of bucket bounds and sums ("0.0005", not "5e-04").
  const double mag = std::fabs(v);
  auto format = mag >= 1e-6 && mag < 1e15 ? std::chars_format::fixed : std::chars_format::general;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, format);
  return std::string(buf, end);
}

void TextWriter::header(const Def& def) {
  out_ += "# HELP ";
  out_ += def.name;
  out_ += ' ';
  out_ += escape_help(def.help);
  out_ += "\n# TYPE ";
  out_ += def.name;
  out_ += ' ';
  out_ += def.type;
  out_ += '\n';
}

void TextWriter::sample(std::string_view name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) out_ += ',';
      out_ += labels[i].first;
      out_ += "=\"";
      out_ += escape_label_value(labels[i].second);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void TextWriter::counter(const Def& def, const Counter& c) {
  header(def);
  sample(def.name, {}, static_cast<double>(c.value()));
}

void TextWriter::gauge(const Def& def, double value) {
  header(def);
  sample(def.name, {}, value);
}

void TextWriter::histogram(const Def& def, const Histogram& h) {
  header(def);
  histogram_samples(def.name, {}, h.snapshot());
}

void TextWriter::counters(const Def& def, const Family<Counter>& family) {
  header(def);
  family.each([&](const LabelValues& values, const Counter& c) {
    sample(def.name, labels_of(family.label_names(), values), static_cast<double>(c.value()));
  });
}

void TextWriter::histograms(const Def& def, const Family<Histogram>& family) {
  header(def);
  family.each([&](const LabelValues& values, const Histogram& h) {
    histogram_samples(def.name, labels_of(family.label_names(), values), h.snapshot());
  });
}

void TextWriter::histogram_samples(std::string_view name, const Labels& labels, const Histogram::Snapshot& s) {
  const std::string base(name);
  for (size_t i = 0; i < s.cumulative.size(); ++i) {
    const double le = i < s.bounds.size() ? s.bounds[i] : std::numeric_limits<double>::infinity();
    const std::string le_text = format_value(le);
    Labels with_le = labels;
    with_le.emplace_back("le", le_text);
    sample(base + "_bucket", with_le, static_cast<double>(s.cumulative[i]));
  }
  sample(base + "_sum", labels, s.sum);
  sample(base + "_count", labels, static_cast<double>(s.cumulative.back()));
}

}  // namespace keel::metrics
