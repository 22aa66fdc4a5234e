#include "sysdb/workflow_query.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "keel/errors.hpp"

namespace keel::sysdb {

namespace {

// A cursor: the order's letter, the last row's created_at, '.', its ID in
// hex ("n1733460000000.6f72642d31"). Hex keeps any ID bytes printable and
// the cursor safe in a URL.
struct Cursor {
  ListOrder order = ListOrder::NewestFirst;
  int64_t created_at = 0;
  std::string id;
};

char order_letter(ListOrder o) { return o == ListOrder::NewestFirst ? 'n' : 'o'; }

std::string encode(const Cursor& c) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(1, order_letter(c.order));
  out += std::to_string(c.created_at);
  out += '.';
  for (unsigned char b : c.id) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<Cursor> decode(const std::string& s) {
  if (s.size() < 3 || (s[0] != 'n' && s[0] != 'o')) return std::nullopt;
  Cursor c;
  c.order = s[0] == 'n' ? ListOrder::NewestFirst : ListOrder::OldestFirst;
  size_t dot = s.find('.');
  if (dot == std::string::npos || dot == 1) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data() + 1, s.data() + dot, c.created_at);
  if (ec != std::errc() || end != s.data() + dot) return std::nullopt;
  std::string hex = s.substr(dot + 1);
  // An empty ID has an empty hex part: encode() writes it, so it decodes
  // (the next page after a row whose ID is "" must not be refused).
  if (hex.size() % 2 != 0) return std::nullopt;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    c.id += static_cast<char>(hi * 16 + lo);
  }
  return c;
}

// The code points of s when it is valid UTF-8.
std::optional<std::vector<char32_t>> decode_utf8(const std::string& s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return std::nullopt;
    char32_t cp = n == 1 ? b : b & (0x7F >> n);
    for (int k = 1; k < n; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c >> 6) != 2) return std::nullopt;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string encode_utf8(const std::vector<char32_t>& cps) {
  std::string out;
  for (char32_t cp : cps) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

// The smallest string above every string that starts with prefix, or
// nullopt when there is none. In byte order, which for UTF-8 is code point
// order: a UTF-8 prefix gets a UTF-8 bound (PostgreSQL refuses any other
// text) by stepping its last code point; other bytes (SQLite stores them)
// step their last byte.
std::optional<std::string> prefix_end(std::string prefix) {
  if (auto cps = decode_utf8(prefix)) {
    while (!cps->empty() && cps->back() == 0x10FFFF) cps->pop_back();
    if (cps->empty()) return std::nullopt;
    cps->back() = cps->back() == 0xD7FF ? 0xE000 : cps->back() + 1;
    return encode_utf8(*cps);
  }
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

class Where {
 public:
  explicit Where(const WorkflowTable& t) : id_(std::string("workflow_id") + t.id_collation) {}

  explicit Where(const WorkflowTable& t, std::vector<SqlValue> params)
      : id_(std::string("workflow_id") + t.id_collation), params_(std::move(params)) {}

  std::string bind(SqlValue v) {
    params_.push_back(std::move(v));
    return "$" + std::to_string(params_.size());
  }
  void add(const std::string& condition) { sql_ += (sql_.empty() ? " WHERE " : " AND ") + condition; }

  // Every filter but the statuses (the caller adds those: page_sql reads
  // each status's rows in order apart). name_unindexed: the name's condition
  // is written so that SQLite uses no index for it (a unary plus), when the
  // status index reads fewer rows (WorkflowTable::steer_rare_statuses).
  void filters(const ListWorkflowsQuery& q, bool name_unindexed) {
    equal(name_unindexed ? "+name" : "name", q.name);
    equal("queue_name", q.queue_name);
    equal("application_version", q.application_version);
    equal("executor_id", q.executor_id);
    equal("parent_id", q.parent_id);
    if (q.id_prefix && !q.id_prefix->empty()) {
      add(id_ + " >= " + bind(*q.id_prefix));
      if (auto end = prefix_end(*q.id_prefix)) add(id_ + " < " + bind(*end));
    }
    range("created_at", q.created_after_ms, q.created_before_ms);
    range("updated_at", q.updated_after_ms, q.updated_before_ms);
    // A row changes at or after its creation: an updated_before bound is
    // one on created_at too, which the creation-order index can use.
    if (q.updated_before_ms) add("created_at < " + bind(*q.updated_before_ms));
  }

  // After the cursor's row in the query's order: (created_at, id) below it
  // when newest first, above it when oldest first. The bare created_at bound
  // lets an index on created_at start at the cursor.
  void statuses(const std::vector<WorkflowStatus>& statuses) {
    if (statuses.empty()) return;
    std::string in;
    for (auto s : statuses) in += (in.empty() ? "" : ", ") + bind(to_string(s));
    add("status IN (" + in + ")");
  }

  void after(const Cursor& c) {
    bool newest = c.order == ListOrder::NewestFirst;
    std::string at = bind(c.created_at);
    std::string id = bind(c.id);
    add(std::string("created_at ") + (newest ? "<= " : ">= ") + at);
    add(std::string("(created_at ") + (newest ? "< " : "> ") + at + " OR " + id_ + (newest ? " < " : " > ") + id +
        ")");
  }

  std::string order_by(ListOrder o) const {
    const char* dir = o == ListOrder::NewestFirst ? " DESC" : "";
    return std::string(" ORDER BY created_at") + dir + ", " + id_ + dir;
  }

  const std::string& sql() const { return sql_; }
  std::vector<SqlValue> take_params() { return std::move(params_); }

 private:
  void equal(const char* column, const std::optional<std::string>& v) {
    if (v) add(std::string(column) + " = " + bind(*v));
  }
  void range(const char* column, const std::optional<int64_t>& from, const std::optional<int64_t>& to) {
    if (from) add(std::string(column) + " >= " + bind(*from));
    if (to) add(std::string(column) + " < " + bind(*to));
  }

  std::string id_;
  std::string sql_;
  std::vector<SqlValue> params_;
};

// Whether the name's condition must leave the planner to the status index
// (WorkflowTable::steer_rare_statuses): every status asked for is rare in a
// working system, where finished workflows are nearly all SUCCESS.
bool steer_off_name(const WorkflowTable& t, const std::vector<WorkflowStatus>& statuses) {
  return t.steer_rare_statuses && !statuses.empty() &&
         std::none_of(statuses.begin(), statuses.end(), [](WorkflowStatus s) { return s == WorkflowStatus::Success; });
}

}  // namespace

void validate(const ListWorkflowsQuery& q) {
  if (q.limit < 1 || q.limit > kMaxListLimit)
    throw UsageError("list_workflows: limit " + std::to_string(q.limit) + " is not from 1 to " +
                     std::to_string(kMaxListLimit));
  if (q.cursor.empty()) return;
  auto c = decode(q.cursor);
  if (!c) throw UsageError("list_workflows: cursor '" + q.cursor + "' is not one a list_workflows page returned");
  if (c->order != q.order)
    throw UsageError("list_workflows: cursor '" + q.cursor + "' continues a list in the other order");
}

namespace {

// The page's SELECT over the rows of `statuses` (all: empty), binding after
// `params`.
QuerySql one_select(const ListWorkflowsQuery& q, const WorkflowTable& t, const std::string& columns,
                    const std::vector<WorkflowStatus>& statuses, std::vector<SqlValue> params) {
  Where w(t, std::move(params));
  w.statuses(statuses);
  w.filters(q, steer_off_name(t, statuses));
  if (!q.cursor.empty()) w.after(*decode(q.cursor));
  std::string sql = "SELECT " + columns + " FROM " + t.name + w.sql() + w.order_by(q.order) + " LIMIT " +
                    w.bind(static_cast<int64_t>(q.limit) + 1);
  return {std::move(sql), w.take_params()};
}

}  // namespace

// Several statuses: one ordered, limited SELECT per status (each an index
// range read in order), merged. A single `status IN (...)` would read every
// row of those statuses and sort them.
QuerySql page_sql(const ListWorkflowsQuery& q, const WorkflowTable& t, const std::string& columns) {
  validate(q);
  std::vector<WorkflowStatus> statuses;
  for (auto s : q.statuses)
    if (std::find(statuses.begin(), statuses.end(), s) == statuses.end()) statuses.push_back(s);
  if (statuses.size() <= 1) return one_select(q, t, columns, statuses, {});
  QuerySql merged;
  std::string unions;
  for (size_t i = 0; i < statuses.size(); ++i) {
    QuerySql part = one_select(q, t, columns, {statuses[i]}, std::move(merged.params));
    merged.params = std::move(part.params);
    unions += (i ? " UNION ALL " : "") + std::string("SELECT * FROM (") + part.sql + ") AS s" + std::to_string(i);
  }
  Where outer(t, std::move(merged.params));
  merged.sql = "SELECT * FROM (" + unions + ") AS merged" + outer.order_by(q.order) + " LIMIT " +
               outer.bind(static_cast<int64_t>(q.limit) + 1);
  merged.params = outer.take_params();
  return merged;
}

QuerySql count_sql(const ListWorkflowsQuery& q, const WorkflowTable& t) {
  Where w(t);
  w.statuses(q.statuses);
  w.filters(q, steer_off_name(t, q.statuses));
  std::string sql = "SELECT count(*) FROM " + t.name + w.sql();
  return {std::move(sql), w.take_params()};
}

const std::string& terminal_statuses_sql() {
  static const std::string list = [] {
    std::string out;
    for (auto s : {WorkflowStatus::Enqueued, WorkflowStatus::Pending, WorkflowStatus::Success, WorkflowStatus::Error,
                   WorkflowStatus::Cancelled, WorkflowStatus::MaxRecoveryAttemptsExceeded})
      if (is_terminal(s)) out += (out.empty() ? "'" : ", '") + to_string(s) + "'";
    return out;
  }();
  return list;
}

WorkflowPage make_page(const ListWorkflowsQuery& q, std::vector<WorkflowInfo> rows) {
  WorkflowPage page;
  if (rows.size() > static_cast<size_t>(q.limit)) {
    rows.resize(static_cast<size_t>(q.limit));
    page.next_cursor = encode({q.order, rows.back().created_at_ms, rows.back().id});
  }
  page.workflows = std::move(rows);
  return page;
}

}  // namespace keel::sysdb
