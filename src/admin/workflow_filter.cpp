#include "admin/workflow_filter.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <limits>

namespace keel::admin {

namespace {

const std::vector<std::string> kFilterNames{"status",          "name",           "id_prefix",     "queue_name",
                                            "application_version", "executor_id", "parent_id",     "created_after",
                                            "created_before",  "updated_after",  "updated_before"};
const std::vector<std::string> kPageNames{"order", "limit", "cursor", "count"};

constexpr const char* kStatuses = "ENQUEUED, PENDING, SUCCESS, ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED";
constexpr const char* kTimeForms =
    "epoch milliseconds, an RFC 3339 time (2026-12-06T04:00:00Z) or a duration ago (90s, 15m, 2h, 30d)";

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::optional<int64_t> integer(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// n digits at s[pos], advancing pos.
std::optional<int> digits(const std::string& s, size_t& pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

bool expect(const std::string& s, size_t& pos, const char* choices) {
  if (pos >= s.size() || std::string_view(choices).find(s[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

std::optional<int64_t> parse_rfc3339(const std::string& s) {
  size_t p = 0;
  auto year = digits(s, p, 4);
  if (!year || !expect(s, p, "-")) return std::nullopt;
  auto month = digits(s, p, 2);
  if (!month || !expect(s, p, "-")) return std::nullopt;
  auto day = digits(s, p, 2);
  if (!day || !expect(s, p, "Tt ")) return std::nullopt;
  auto hour = digits(s, p, 2);
  if (!hour || !expect(s, p, ":")) return std::nullopt;
  auto minute = digits(s, p, 2);
  if (!minute || !expect(s, p, ":")) return std::nullopt;
  auto second = digits(s, p, 2);
  if (!second) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60)
    return std::nullopt;
  int64_t millis = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    size_t first = p;
    int64_t scale = 100;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
      millis += (s[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
    if (p == first) return std::nullopt;
  }
  int64_t offset_minutes = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int sign = s[p++] == '-' ? -1 : 1;
    auto oh = digits(s, p, 2);
    if (!oh || !expect(s, p, ":")) return std::nullopt;
    auto om = digits(s, p, 2);
    if (!om || *oh > 23 || *om > 59) return std::nullopt;
    offset_minutes = sign * (*oh * 60 + *om);
  } else {
    return std::nullopt;  // a time without its zone is ambiguous
  }
  if (p != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  time_t t = timegm(&tm);
  if (tm.tm_mday != *day) return std::nullopt;  // 31 November, 30 February: timegm normalized it
  return (static_cast<int64_t>(t) - offset_minutes * 60) * 1000 + millis;
}

class Parser {
 public:
  Parser(const FilterParams& params, int64_t now_ms) : params_(params), now_ms_(now_ms) {}

  void check_known(bool paging) {
    for (const auto& [key, value] : params_) {
      (void)value;
      bool known = std::count(kFilterNames.begin(), kFilterNames.end(), key) > 0 ||
                   (paging && std::count(kPageNames.begin(), kPageNames.end(), key) > 0);
      if (!known)
        throw FilterError{"invalid_parameter", "unknown parameter '" + key + "' (expected " + join(kFilterNames) +
                                                   (paging ? ", " + join(kPageNames) : std::string()) + ")"};
      if (params_.count(key) > 1) throw FilterError{"invalid_parameter", "parameter '" + key + "' is given more than once"};
    }
  }

  std::optional<std::string> text(const std::string& key) const {
    auto it = params_.find(key);
    if (it == params_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<std::string> nonempty(const std::string& key) const {
    auto v = text(key);
    if (v && v->empty()) throw FilterError{"invalid_" + key, "parameter '" + key + "' must not be empty"};
    return v;
  }

  std::vector<WorkflowStatus> statuses() const {
    std::vector<WorkflowStatus> out;
    auto v = text("status");
    if (!v) return out;
    size_t start = 0;
    for (;;) {
      size_t comma = v->find(',', start);
      std::string one = v->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      std::transform(one.begin(), one.end(), one.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      try {
        out.push_back(workflow_status_from_string(one));
      } catch (const SerializationError&) {
        throw FilterError{"invalid_status", "status '" + one + "' is not one of " + kStatuses};
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  }

  std::optional<int64_t> time(const std::string& key) const {
    auto v = text(key);
    if (!v) return std::nullopt;
    auto t = parse_time(*v, now_ms_);
    if (!t) throw FilterError{"invalid_time", key + " '" + *v + "' is not a time: " + kTimeForms};
    return t;
  }

  void paging(ListWorkflowsQuery& q) const {
    if (auto o = text("order")) {
      if (*o == "newest") q.order = ListOrder::NewestFirst;
      else if (*o == "oldest") q.order = ListOrder::OldestFirst;
      else throw FilterError{"invalid_order", "order '" + *o + "' is not newest or oldest"};
    }
    if (auto l = text("limit")) {
      auto n = integer(*l);
      if (!n || *n < 1 || *n > kMaxListLimit)
        throw FilterError{"invalid_limit",
                          "limit '" + *l + "' is not an integer from 1 to " + std::to_string(kMaxListLimit)};
      q.limit = static_cast<int>(*n);
    }
    if (auto c = text("count")) {
      if (*c != "true" && *c != "false") throw FilterError{"invalid_count", "count '" + *c + "' is not true or false"};
      q.count_total = *c == "true";
    }
    if (auto c = text("cursor")) q.cursor = *c;  // checked by list_workflows (UsageError: invalid_cursor)
  }

 private:
  const FilterParams& params_;
  int64_t now_ms_;
};

}  // namespace

const std::vector<std::string>& filter_parameter_names() { return kFilterNames; }
const std::vector<std::string>& page_parameter_names() { return kPageNames; }
std::string filter_parameter_list() { return join(kFilterNames); }

std::optional<int64_t> parse_duration(const std::string& text) {
  size_t unit = 0;
  while (unit < text.size() && std::isdigit(static_cast<unsigned char>(text[unit]))) ++unit;
  auto n = integer(std::string_view(text).substr(0, unit));
  if (!n || *n <= 0) return std::nullopt;
  std::string_view u = std::string_view(text).substr(unit);
  int64_t scale = 0;
  if (u == "ms") scale = 1;
  else if (u == "s") scale = 1000;
  else if (u == "m") scale = 60'000;
  else if (u == "h") scale = 3'600'000;
  else if (u == "d") scale = 86'400'000;
  else return std::nullopt;
  if (*n > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
  return *n * scale;
}

std::optional<int64_t> parse_time(const std::string& text, int64_t now_ms) {
  if (auto ms = integer(text)) return ms;
  if (auto ago = parse_duration(text)) return now_ms - *ago;
  return parse_rfc3339(text);
}

ListWorkflowsQuery parse_workflow_filter(const FilterParams& params, int64_t now_ms, bool paging) {
  Parser p(params, now_ms);
  p.check_known(paging);
  ListWorkflowsQuery q;
  q.statuses = p.statuses();
  q.name = p.nonempty("name");
  q.id_prefix = p.nonempty("id_prefix");
  q.queue_name = p.nonempty("queue_name");
  q.application_version = p.text("application_version");
  q.executor_id = p.text("executor_id");
  q.parent_id = p.nonempty("parent_id");
  q.created_after_ms = p.time("created_after");
  q.created_before_ms = p.time("created_before");
  q.updated_after_ms = p.time("updated_after");
  q.updated_before_ms = p.time("updated_before");
  if (paging) p.paging(q);
  return q;
}

}  // namespace keel::admin
