// The cron parser (keel/schedule.hpp has the grammar). A field is a comma
// list of items; each item sets bits of the field's bitset. Kept small
// because it faces outside text: tests/fuzz/fuzz_cron.cpp fuzzes it.
#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "keel/errors.hpp"
#include "keel/schedule.hpp"

namespace keel {

namespace {

struct FieldSpec {
  const char* what;
  int lo, hi;
  const char* const* names;  // names[i] is value lo_name + i; nullptr: none
  int names_base;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", nullptr};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr};

constexpr FieldSpec kSecond{"second", 0, 59, nullptr, 0};
constexpr FieldSpec kMinute{"minute", 0, 59, nullptr, 0};
constexpr FieldSpec kHour{"hour", 0, 23, nullptr, 0};
constexpr FieldSpec kDay{"day-of-month", 1, 31, nullptr, 0};
constexpr FieldSpec kMonth{"month", 1, 12, kMonthNames, 1};
constexpr FieldSpec kWeekday{"day-of-week", 0, 7, kDayNames, 0};  // 7 = Sunday too

[[noreturn]] void fail(const std::string& text, const std::string& why) {
  throw CronSyntaxError("cron expression '" + text + "': " + why);
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    out.emplace_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::vector<std::string> split_blanks(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// A number (at most 3 digits: no overflow) or a name of the field.
int value_of(const std::string& tok, const FieldSpec& f, const std::string& text) {
  if (tok.empty()) fail(text, std::string("empty value in the ") + f.what + " field");
  if (std::isdigit(static_cast<unsigned char>(tok[0]))) {
    if (tok.size() > 3 || !std::all_of(tok.begin(), tok.end(), [](char c) { return c >= '0' && c <= '9'; }))
      fail(text, "'" + tok + "' is not a number of the " + f.what + " field");
    int v = std::stoi(tok);
    if (v < f.lo || v > f.hi)
      fail(text, "'" + tok + "' is outside the " + f.what + " field (" + std::to_string(f.lo) + "-" +
                     std::to_string(f.hi) + ")");
    return v;
  }
  std::string up;
  for (char c : tok) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (int i = 0; f.names && f.names[i]; ++i)
    if (up == f.names[i]) return f.names_base + i;
  fail(text, "'" + tok + "' is not a value of the " + f.what + " field");
}

// One item: *, v, a-b, with an optional /step.
void parse_item(const std::string& item, const FieldSpec& f, std::vector<bool>& bits, const std::string& text) {
  auto parts = split(item, '/');
  if (parts.size() > 2) fail(text, "'" + item + "' has two steps");
  int step = 1;
  if (parts.size() == 2) {
    const std::string& s = parts[1];
    if (s.empty() || s.size() > 3 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      fail(text, "'" + item + "': the step must be a number");
    step = std::stoi(s);
    if (step == 0) fail(text, "'" + item + "': the step must not be 0");
  }
  int lo = f.lo, hi = f.hi;
  const std::string& range = parts[0];
  if (range != "*") {
    auto ends = split(range, '-');
    if (ends.size() > 2) fail(text, "'" + item + "' is not a range");
    lo = value_of(ends[0], f, text);
    hi = ends.size() == 2 ? value_of(ends[1], f, text) : (parts.size() == 2 ? f.hi : lo);
    if (lo > hi) fail(text, "'" + item + "': a range must not wrap (write two ranges)");
  }
  for (int v = lo; v <= hi; v += step) bits[static_cast<size_t>(v - f.lo)] = true;
}

std::vector<bool> parse_field(const std::string& field, const FieldSpec& f, const std::string& text) {
  std::vector<bool> bits(static_cast<size_t>(f.hi - f.lo + 1), false);
  for (const auto& item : split(field, ',')) parse_item(item, f, bits, text);
  return bits;
}

template <size_t N>
void copy_bits(const std::vector<bool>& from, int offset, std::bitset<N>& to) {
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i]) to.set((i + static_cast<size_t>(offset)) % N);
}

std::string expand_macro(const std::string& text) {
  static const std::array<std::pair<const char*, const char*>, 7> kMacros{{{"@yearly", "0 0 1 1 *"},
                                                                            {"@annually", "0 0 1 1 *"},
                                                                            {"@monthly", "0 0 1 * *"},
                                                                            {"@weekly", "0 0 * * 0"},
                                                                            {"@daily", "0 0 * * *"},
                                                                            {"@midnight", "0 0 * * *"},
                                                                            {"@hourly", "0 * * * *"}}};
  for (const auto& [name, expansion] : kMacros)
    if (text == name) return expansion;
  fail(text, "unknown macro");
}

// The longest month each month can have (February: 29).
constexpr int kMaxDays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

}  // namespace

CronExpression CronExpression::parse(std::string_view input) {
  const std::string text(input);
  if (text.size() > 1024) fail(text.substr(0, 64) + "...", "longer than 1024 characters");
  auto fields = split_blanks(text);
  if (fields.size() == 1 && fields[0][0] == '@') fields = split_blanks(expand_macro(fields[0]));
  if (fields.size() != 5 && fields.size() != 6)
    fail(text, "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (second first), got " +
                   std::to_string(fields.size()));
  if (fields.size() == 5) fields.insert(fields.begin(), "0");
  CronExpression e;
  e.text_ = text;
  copy_bits(parse_field(fields[0], kSecond, text), 0, e.seconds_);
  copy_bits(parse_field(fields[1], kMinute, text), 0, e.minutes_);
  copy_bits(parse_field(fields[2], kHour, text), 0, e.hours_);
  copy_bits(parse_field(fields[3], kDay, text), 1, e.days_);
  copy_bits(parse_field(fields[4], kMonth, text), 1, e.months_);
  copy_bits(parse_field(fields[5], kWeekday, text), 0, e.weekdays_);  // 7 wraps onto 0
  e.days_star_ = fields[3][0] == '*';
  e.weekdays_star_ = fields[5][0] == '*';
  // Only a restricted day-of-month with an unrestricted day-of-week can
  // never match (OR with a weekday always matches some day).
  if (!e.days_star_ && e.weekdays_star_) {
    bool possible = false;
    for (int m = 1; m <= 12; ++m)
      for (int d = 1; d <= kMaxDays[m]; ++d) possible = possible || (e.months_[m] && e.days_[d]);
    if (!possible) fail(text, "no month has such a day: it never fires");
  }
  return e;
}

}  // namespace keel
