// TZif (RFC 8536) and POSIX TZ footer reading; see zone_rules.hpp.
#include "schedule/zone_rules.hpp"

#include <algorithm>
#include <cctype>

namespace keel::detail {

namespace {

using namespace std::chrono;

// --- POSIX TZ strings ---

struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i;
    return true;
  }
};

std::optional<int64_t> number(Cursor& c, int max_digits) {
  int64_t v = 0;
  int n = 0;
  while (n < max_digits && std::isdigit(static_cast<unsigned char>(c.peek()))) v = v * 10 + (c.s[c.i++] - '0'), ++n;
  if (n == 0) return std::nullopt;
  return v;
}

// A zone abbreviation: letters, or <...> quoted.
bool abbreviation(Cursor& c) {
  if (c.eat('<')) {
    while (!c.done() && c.peek() != '>') ++c.i;
    return c.eat('>');
  }
  size_t start = c.i;
  while (std::isalpha(static_cast<unsigned char>(c.peek()))) ++c.i;
  return c.i - start >= 3;
}

// [+-]hh[:mm[:ss]] in seconds (hours up to 167: TZif v3 times).
std::optional<int64_t> hms(Cursor& c) {
  int64_t sign = 1;
  if (c.eat('-')) sign = -1;
  else c.eat('+');
  auto h = number(c, 3);
  if (!h || *h > 167) return std::nullopt;
  int64_t total = *h * 3600;
  for (int64_t unit : {60, 1}) {
    if (!c.eat(':')) break;
    auto v = number(c, 2);
    if (!v || *v > 59) return std::nullopt;
    total += *v * unit;
  }
  return sign * total;
}

std::optional<PosixRule::When> when(Cursor& c) {
  PosixRule::When w;
  if (c.eat('M')) {
    auto m = number(c, 2);
    if (!m || !c.eat('.')) return std::nullopt;
    auto wk = number(c, 1);
    if (!wk || !c.eat('.')) return std::nullopt;
    auto d = number(c, 1);
    if (!d || *m < 1 || *m > 12 || *wk < 1 || *wk > 5 || *d > 6) return std::nullopt;
    w.month = static_cast<int>(*m), w.week = static_cast<int>(*wk), w.weekday = static_cast<int>(*d);
  } else {
    w.kind = c.eat('J') ? 'J' : 'D';
    auto n = number(c, 3);
    if (!n || *n > 365 || (w.kind == 'J' && *n < 1)) return std::nullopt;
    w.day = static_cast<int>(*n);
  }
  if (c.eat('/')) {
    auto t = hms(c);
    if (!t) return std::nullopt;
    w.time = *t;
  }
  return w;
}

// The local date of a rule's day in year y, as days since the epoch.
int64_t rule_day(const PosixRule::When& w, int y) {
  const year yr{y};
  if (w.kind == 'M') {
    const year_month ym = yr / month(static_cast<unsigned>(w.month));
    sys_days first = sys_days(ym / day(1));
    unsigned wd0 = weekday(first).c_encoding();
    int64_t d = (w.weekday - static_cast<int>(wd0) + 7) % 7 + 7 * (w.week - 1);
    const int64_t last_index = static_cast<unsigned>((ym / std::chrono::last).day()) - 1;
    while (d > last_index) d -= 7;
    return first.time_since_epoch().count() + d;
  }
  int64_t jan1 = sys_days(yr / January / 1).time_since_epoch().count();
  if (w.kind == 'D') return jan1 + w.day;
  // Jn: 1..365, 29 February never counted.
  return jan1 + w.day - 1 + (yr.is_leap() && w.day >= 60 ? 1 : 0);
}

// --- TZif ---

int64_t be(std::string_view b, size_t at, int n) {
  uint64_t v = 0;
  for (int k = 0; k < n; ++k) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(k)]);
  if (n == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

struct Header {
  int64_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
  size_t data_size(int time_size) const {
    return static_cast<size_t>(timecnt * time_size + timecnt + typecnt * 6 + charcnt + leapcnt * (time_size + 4) +
                               isstdcnt + isutcnt);
  }
};

std::optional<Header> header(std::string_view b, size_t at) {
  if (b.size() < at + 44 || b.substr(at, 4) != "TZif") return std::nullopt;
  Header h{be(b, at + 20, 4), be(b, at + 24, 4), be(b, at + 28, 4),
           be(b, at + 32, 4), be(b, at + 36, 4), be(b, at + 40, 4)};
  for (int64_t v : {h.isutcnt, h.isstdcnt, h.leapcnt, h.timecnt, h.typecnt, h.charcnt})
    if (v < 0 || v > (1 << 20)) return std::nullopt;
  if (h.typecnt < 1) return std::nullopt;
  return h;
}

}  // namespace

std::optional<PosixRule> PosixRule::parse(std::string_view text) {
  Cursor c{text};
  PosixRule r;
  if (!abbreviation(c)) return std::nullopt;
  auto std_off = hms(c);
  if (!std_off) return std::nullopt;
  r.std_offset = -*std_off;  // POSIX counts west-positive
  if (c.done()) return r;
  if (!abbreviation(c)) return std::nullopt;
  r.dst_offset = r.std_offset + 3600;
  if (!c.done() && c.peek() != ',') {
    auto dst = hms(c);
    if (!dst) return std::nullopt;
    r.dst_offset = -*dst;
  }
  if (!c.eat(',')) return std::nullopt;  // DST without rules: not in TZif footers
  auto s = when(c);
  if (!s || !c.eat(',')) return std::nullopt;
  auto e = when(c);
  if (!e || !c.done()) return std::nullopt;
  r.start = *s, r.end = *e;
  return r;
}

int64_t PosixRule::offset_at(int64_t utc) const {
  if (!dst_offset) return std_offset;
  const int y = static_cast<int>(year_month_day(floor<days>(sys_seconds(seconds(utc + std_offset)))).year());
  // Transition instants in UTC: the start is given in standard time, the end in DST.
  int64_t start_utc = rule_day(start, y) * 86400 + start.time - std_offset;
  int64_t end_utc = rule_day(end, y) * 86400 + end.time - *dst_offset;
  bool in_dst = start_utc < end_utc ? (utc >= start_utc && utc < end_utc) : !(utc >= end_utc && utc < start_utc);
  return in_dst ? *dst_offset : std_offset;
}

std::optional<ZoneRules> ZoneRules::parse(std::string_view b) {
  auto h1 = header(b, 0);
  if (!h1) return std::nullopt;
  const char version = b[4];
  size_t at = 44;
  int tsize = 4;
  Header h = *h1;
  if (version >= '2') {  // skip the v1 block: the v2 one has 64-bit times and a footer
    at += h1->data_size(4);
    auto h2 = header(b, at);
    if (!h2) return std::nullopt;
    h = *h2, at += 44, tsize = 8;
  }
  if (b.size() < at + h.data_size(tsize)) return std::nullopt;
  ZoneRules z;
  const size_t idx_at = at + static_cast<size_t>(h.timecnt * tsize);
  const size_t types_at = idx_at + static_cast<size_t>(h.timecnt);
  auto type_offset = [&](int64_t i) { return be(b, types_at + static_cast<size_t>(i) * 6, 4); };
  for (int64_t i = 0; i < h.timecnt; ++i) {
    int64_t t = be(b, at + static_cast<size_t>(i * tsize), tsize);
    auto type = static_cast<unsigned char>(b[idx_at + static_cast<size_t>(i)]);
    if (type >= h.typecnt || (!z.transitions_.empty() && t <= z.transitions_.back())) return std::nullopt;
    z.transitions_.push_back(t);
    z.offsets_.push_back(type_offset(type));
  }
  z.initial_offset_ = type_offset(0);
  if (tsize == 8) {
    size_t foot = at + h.data_size(8);
    if (foot < b.size() && b[foot] == '\n') {
      size_t end = b.find('\n', foot + 1);
      if (end == std::string_view::npos) return std::nullopt;
      std::string_view text = b.substr(foot + 1, end - foot - 1);
      if (!text.empty()) {
        z.footer_ = PosixRule::parse(text);
        if (!z.footer_) return std::nullopt;
      }
    }
  }
  return z;
}

int64_t ZoneRules::offset_at(int64_t utc) const {
  if (footer_ && (transitions_.empty() || utc >= transitions_.back())) return footer_->offset_at(utc);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<size_t>(it - transitions_.begin() - 1)];
}

}  // namespace keel::detail
