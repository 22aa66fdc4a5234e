// The soak's samples (tests/soak): named series, written to a CSV as they
// come (one row per sample: t_s, then one cell per series, empty when the
// value could not be read, e.g. a victim that was down), and judged at the
// end with judge_growth (slope.hpp). Thread-safety: one thread adds; the
// summary is read after the last add.
#pragma once

#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "slope.hpp"

namespace keel::soak {

struct Column {
  std::string name;
  // Judged series fail the run when they grow; the others are reported only,
  // and `info` says why they are not judged.
  bool judged = false;
  SlopeLimits limits;
  std::string info;
  std::string unit;  // for the summary
  // A hard bound no sample may pass, judged or not (a documented limit, e.g.
  // a process's connections: growth within it is a pool warming up, beyond
  // it a leak). Checked in every run, the short one too.
  std::optional<double> ceiling;
};

class SampleTable {
 public:
  // Opens (truncates) csv_path and writes the header; throws std::runtime_error
  // when it cannot.
  SampleTable(std::vector<Column> columns, const std::string& csv_path);

  // One sample at t seconds; a series missing from `values` (or nullopt) is
  // an empty cell. Throws std::logic_error for a name that is not a column.
  void add(double t, const std::map<std::string, std::optional<double>>& values);

  struct Result {
    Column column;
    SlopeVerdict verdict;
    double max = 0;             // the largest sample (0 without samples)
    bool above_ceiling = false;  // max > column.ceiling
  };
  std::vector<Result> results() const;
  // The names of judged series that grow.
  std::vector<std::string> growing() const;
  // The names of series with a sample above their ceiling.
  std::vector<std::string> above_ceiling() const;
  // A table: series, samples, first-half mean, second-half mean, slope per
  // hour, allowed growth, verdict.
  std::string summary() const;
  size_t rows() const { return rows_; }

 private:
  std::vector<Column> columns_;
  std::vector<Series> series_;
  std::ofstream csv_;
  size_t rows_ = 0;
};

}  // namespace keel::soak
