#include "sample_table.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace keel::soak {

SampleTable::SampleTable(std::vector<Column> columns, const std::string& csv_path)
    : columns_(std::move(columns)), series_(columns_.size()), csv_(csv_path, std::ios::trunc) {
  if (!csv_) throw std::runtime_error("cannot write the samples to " + csv_path);
  csv_ << "t_s";
  for (const auto& c : columns_) csv_ << ',' << c.name;
  csv_ << '\n' << std::flush;
}

void SampleTable::add(double t, const std::map<std::string, std::optional<double>>& values) {
  for (const auto& [name, value] : values) {
    bool known = false;
    for (const auto& c : columns_) known = known || c.name == name;
    if (!known) throw std::logic_error("SampleTable: no series named " + name);
  }
  char cell[64];
  std::snprintf(cell, sizeof cell, "%.1f", t);
  csv_ << cell;
  for (size_t i = 0; i < columns_.size(); ++i) {
    csv_ << ',';
    auto it = values.find(columns_[i].name);
    if (it == values.end() || !it->second) continue;
    std::snprintf(cell, sizeof cell, "%.0f", *it->second);
    csv_ << cell;
    series_[i].t.push_back(t);
    series_[i].v.push_back(*it->second);
  }
  csv_ << '\n' << std::flush;  // a run stopped early still leaves its samples
  ++rows_;
}

std::vector<SampleTable::Result> SampleTable::results() const {
  std::vector<Result> out;
  for (size_t i = 0; i < columns_.size(); ++i) {
    Result r{columns_[i], judge_growth(series_[i], columns_[i].limits)};
    if (!series_[i].v.empty()) r.max = *std::max_element(series_[i].v.begin(), series_[i].v.end());
    r.above_ceiling = columns_[i].ceiling && !series_[i].v.empty() && r.max > *columns_[i].ceiling;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> SampleTable::growing() const {
  std::vector<std::string> out;
  for (const auto& r : results())
    if (r.column.judged && r.verdict.grows) out.push_back(r.column.name);
  return out;
}

std::vector<std::string> SampleTable::above_ceiling() const {
  std::vector<std::string> out;
  for (const auto& r : results())
    if (r.above_ceiling) out.push_back(r.column.name);
  return out;
}

std::string SampleTable::summary() const {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-26s %-5s %7s %14s %14s %14s %14s  %s\n", "series", "unit", "samples",
                "1st-half mean", "2nd-half mean", "slope/hour", "allowed/run", "verdict");
  out += line;
  for (const auto& [c, v, max, above] : results()) {
    std::string verdict = !v.note.empty() ? "no verdict: " + v.note
                          : !c.judged     ? "info: " + c.info
                          : v.grows       ? "GROWS"
                                          : "ok";
    if (c.ceiling) {
      std::snprintf(line, sizeof line, "; max %.0f %s bound %.0f", max, above ? "ABOVE" : "within", *c.ceiling);
      verdict += line;
    }
    std::snprintf(line, sizeof line, "%-26s %-5s %7zu %14.1f %14.1f %14.1f %14.1f  %s\n", c.name.c_str(),
                  c.unit.c_str(), v.samples, v.first_half_mean, v.second_half_mean, v.slope_per_hour,
                  c.judged ? v.allowed_growth : 0.0, verdict.c_str());
    out += line;
  }
  return out;
}

}  // namespace keel::soak
