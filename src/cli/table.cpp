#include "table.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <numeric>
#include <string_view>

namespace keel::cli {

namespace {

constexpr std::string_view kEllipsis = "…";
constexpr size_t kGap = 2;  // spaces between two columns

bool continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::string pad(const std::string& s, size_t width, bool right) {
  size_t w = display_width(s);
  if (w >= width) return s;
  std::string fill(width - w, ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

size_t display_width(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return !continuation_byte(c); }));
}

std::string sanitize(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  return out;
}

std::string cut(const std::string& s, size_t width) {
  if (display_width(s) <= width) return s;
  if (width == 0) return {};
  // Keep width - 1 code points, then the ellipsis.
  size_t kept = 0, end = 0;
  while (end < s.size()) {
    if (!continuation_byte(s[end])) {
      if (kept == width - 1) break;
      ++kept;
    }
    ++end;
  }
  return s.substr(0, end) + std::string(kEllipsis);
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (auto& c : cells) c = sanitize(c);
  rows_.push_back(std::move(cells));
}

// Each column as wide as its widest cell; then, while the row is wider than
// the terminal, the widest cuttable column gives up a column at a time (so
// long IDs and names shrink before anything else does).
std::vector<size_t> Table::fitted_widths(int width) const {
  std::vector<size_t> w(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    w[i] = display_width(columns_[i].header);
    for (const auto& row : rows_) w[i] = std::max(w[i], display_width(row[i]));
  }
  auto total = [&] { return std::accumulate(w.begin(), w.end(), size_t{0}) + kGap * (w.size() - 1); };
  const size_t limit = static_cast<size_t>(std::max(width, 1));
  while (!w.empty() && total() > limit) {
    size_t widest = w.size();
    for (size_t i = 0; i < w.size(); ++i)
      if (columns_[i].cut && w[i] > kMinCutWidth && (widest == w.size() || w[i] > w[widest]))
        widest = i;
    if (widest == w.size()) break;  // nothing left to cut: the terminal wraps the row
    --w[widest];
  }
  return w;
}

std::string Table::render(int width) const {
  const std::vector<size_t> w = fitted_widths(width);
  std::string out;
  auto line = [&](auto cell_of) {
    std::string text;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (i > 0) text += std::string(kGap, ' ');
      text += pad(cut(cell_of(i), w[i]), w[i], columns_[i].right);
    }
    text.erase(text.find_last_not_of(' ') + 1);  // no trailing blanks
    out += text + '\n';
  };
  line([&](size_t i) { return columns_[i].header; });
  for (const auto& row : rows_) line([&](size_t i) { return row[i]; });
  return out;
}

std::string render_pairs(const std::vector<std::pair<std::string, std::string>>& pairs, int width) {
  size_t key_width = 0;
  for (const auto& [k, v] : pairs) key_width = std::max(key_width, display_width(k) + 1);
  std::string out;
  for (const auto& [k, v] : pairs) {
    // The value gets what the key leaves of the line, and never less than kMinCutWidth.
    const size_t line_width = static_cast<size_t>(std::max(width, 1));
    const size_t room = line_width > key_width + 1 + kMinCutWidth ? line_width - key_width - 1 : kMinCutWidth;
    std::string line = pad(k + ":", key_width, false) + " " + cut(sanitize(v), room);
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + '\n';
  }
  return out;
}

int terminal_width() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    int n = 0;
    std::string_view s(columns);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size() && n > 0) return n;
  }
  return kDefaultWidth;
}

}  // namespace keel::cli
