// A PostgreSQL statement built together with its parameters: bind(value)
// appends the value and returns its placeholder ("$3", or "$3::text" with a
// cast), so the text and the parameter list cannot drift apart when a
// statement is assembled from parts (a claim's CTEs, then what hangs off
// them). The same sequence of calls yields the same text, so each shape is
// prepared once per connection (connection.hpp caches by text).
//
//   Statement s;
//   std::string id = s.bind(workflow_id, "text");
//   s << "SELECT status FROM keel.workflow_status WHERE workflow_id = " << id;
//   write_statement(s);
//
// Thread-safety: a value type.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "keel/sql.hpp"

namespace keel::sysdb::postgres {

class Statement {
 public:
  // Appends v to the parameters; its placeholder, cast to type unless empty.
  [[nodiscard]] std::string bind(SqlValue v, std::string_view type = {}) {
    params_.push_back(std::move(v));
    // Not "$" + std::to_string(...): GCC 12 at -O3 reports a false
    // -Wrestrict on that operator+ (GCC bug 105651), failing Release builds.
    std::string p(1, '$');
    p += std::to_string(params_.size());
    if (!type.empty()) p.append("::").append(type);
    return p;
  }
  // Appends SQL text (never a value: values go through bind).
  Statement& operator<<(std::string_view text) {
    sql_.append(text);
    return *this;
  }
  const std::string& sql() const { return sql_; }
  const std::vector<SqlValue>& params() const { return params_; }

 private:
  std::string sql_;
  std::vector<SqlValue> params_;
};

}  // namespace keel::sysdb::postgres
