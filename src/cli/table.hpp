// Plain-text tables for the `keel` command on a terminal: columns aligned,
// long cells cut (with "…") so that a row fits the terminal's width.
//
// Widths count code points: a cell of East Asian wide characters or
// combining marks misaligns its row (no wcwidth tables here). Control
// characters in a cell (a newline in an error message, an escape sequence in
// a stored name) print as spaces: a cell never moves the cursor.
// Thread-safety: a Table is a plain value.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace keel::cli {

// The width of a terminal that says none (output to a pipe or a file).
inline constexpr int kDefaultWidth = 120;
// A cut cell keeps at least this many columns, ellipsis included.
inline constexpr size_t kMinCutWidth = 6;

struct Column {
  std::string header;
  bool right = false;  // right-aligned (numbers)
  bool cut = true;     // may be cut to fit the width (IDs, names); false: short fixed forms (statuses, times)
};

class Table {
 public:
  explicit Table(std::vector<Column> columns);
  // One cell per column; missing cells are empty, extra ones ignored.
  void add_row(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  // The header line and the rows, each ending in '\n', fitted to width
  // columns when the cuttable columns allow it.
  std::string render(int width) const;

 private:
  std::vector<size_t> fitted_widths(int width) const;
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// "key: value" lines, the keys aligned; a value longer than the line is cut.
std::string render_pairs(const std::vector<std::pair<std::string, std::string>>& pairs, int width);

// The terminal's width: stdout's TIOCGWINSZ, else $COLUMNS, else kDefaultWidth.
int terminal_width();

// Text helpers, exposed for their tests.
size_t display_width(const std::string& s);
std::string sanitize(const std::string& s);    // control characters to spaces
std::string cut(const std::string& s, size_t width);  // at most width columns, "…" marking a cut

}  // namespace keel::cli
