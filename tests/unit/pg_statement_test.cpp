// The PostgreSQL statement builder (src/sysdb/postgres/statement.hpp) and
// the claims built with it: each placeholder names the value bound for it,
// however the statement was assembled.
#include "sysdb/postgres/statement.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <string>

#include "sysdb/postgres/claims.hpp"

namespace {

using keel::SqlValue;
using keel::sysdb::OperationRecord;
using keel::sysdb::postgres::Statement;
namespace claims = keel::sysdb::postgres::claims;

TEST(PgStatement, BindAppendsTheValueAndReturnsItsPlaceholder) {
  Statement s;
  std::string a = s.bind(std::string("w1"), "text");
  std::string b = s.bind(int64_t{7});
  s << "SELECT " << a << ", " << b << ", " << a;
  EXPECT_EQ(a, "$1::text");
  EXPECT_EQ(b, "$2");
  EXPECT_EQ(s.sql(), "SELECT $1::text, $2, $1::text");
  ASSERT_EQ(s.params().size(), 2u);
  EXPECT_EQ(std::get<std::string>(s.params()[0]), "w1");
  EXPECT_EQ(std::get<int64_t>(s.params()[1]), 7);
}

// Every $n in the text has a value, and every value is used.
void expect_consistent(const Statement& s) {
  std::set<size_t> used;
  static const std::regex placeholder(R"(\$(\d+))");
  for (std::sregex_iterator it(s.sql().begin(), s.sql().end(), placeholder), end; it != end; ++it)
    used.insert(std::stoul((*it)[1]));
  ASSERT_FALSE(used.empty()) << s.sql();
  EXPECT_EQ(*used.begin(), 1u) << s.sql();
  EXPECT_EQ(*used.rbegin(), s.params().size()) << s.sql();
  EXPECT_EQ(used.size(), s.params().size()) << "a value is bound but unused: " << s.sql();
}

OperationRecord record(int fid) {
  OperationRecord op;
  op.function_id = fid;
  op.name = "step";
  op.output = "1";
  op.started_at_ms = 10;
  op.completed_at_ms = 20;
  return op;
}

TEST(PgClaims, EveryFormBindsExactlyTheValuesItUses) {
  expect_consistent(claims::step("w", record(1), "me"));
  expect_consistent(claims::one_or_raise("w", record(1), "me"));
  expect_consistent(claims::insert("w", record(1)));
  Statement one;
  claims::Refs r = claims::one(one, "w", record(1), "me");
  one << "SELECT " << r.completed_at << ", " << one.bind(std::string("more"), "text") << " " << claims::kAnswer;
  expect_consistent(one);
  OperationRecord recv = record(3);
  recv.consumes_message_id = 42;
  Statement list;
  claims::Refs lr = claims::any(list, "w", {record(2), recv}, "me");
  list << claims::kAnswer;
  claims::refuse_partial(list, lr);
  expect_consistent(list);
  const auto& ps = list.params();
  EXPECT_EQ(std::count(ps.begin(), ps.end(), SqlValue(int64_t{42})), 1) << "the consumed message, bound once: " << list.sql();
}

TEST(PgClaims, ARecordConsumingAMessageNeedsTheListForm) {
  EXPECT_FALSE(claims::needs_list({record(1)}));
  EXPECT_TRUE(claims::needs_list({record(1), record(2)}));
  OperationRecord recv = record(1);
  recv.consumes_message_id = 5;
  EXPECT_TRUE(claims::needs_list({recv}));
}

}  // namespace
