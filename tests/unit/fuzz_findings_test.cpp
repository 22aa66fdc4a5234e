// The library's findings of the fuzz targets (tests/fuzz, docs/testing.md
// "Fuzzing"), one test each; each input is in its target's corpus too.
#include <gtest/gtest.h>

#include <string>
#include <optional>
#include <tuple>
#include <vector>

#include "common/database_url.hpp"
#include "keel/errors.hpp"
#include "keel/serialization.hpp"
#include "sysdb/workflow_query.hpp"

namespace {

using namespace keel;

// fuzz_stored_values: a stored number beyond the int64 range (a float to
// nlohmann, e.g. 18446744073709551907) decoded into an integer was a plain
// float-to-int cast: undefined behaviour (UBSan: "outside the range of
// representable values of type 'long'").
TEST(FuzzFindings, StoredNumberBeyondInt64IsASerializationErrorForIntegers) {
  const Json row = parse_stored_json(R"(["x", 18446744073709551907])", "output");
  EXPECT_THROW((from_json_value<std::tuple<std::string, int64_t>>(row)), SerializationError);
  EXPECT_THROW(from_json_value<int64_t>(parse_stored_json("-1e300", "output")), SerializationError);
  EXPECT_THROW(from_json_value<std::vector<int>>(parse_stored_json("[1, 2e19]", "output")), SerializationError);
  EXPECT_THROW(from_json_value<std::optional<int>>(parse_stored_json("3e9", "output")), SerializationError);
  EXPECT_EQ(from_json_value<int>(parse_stored_json("2.0e3", "output")), 2000);  // small floats still read
  // Read as floating point, the same numbers are fine.
  auto t = from_json_value<std::tuple<std::string, double>>(row);
  EXPECT_DOUBLE_EQ(std::get<1>(t), 18446744073709551907.0);
  EXPECT_DOUBLE_EQ(from_json_value<double>(parse_stored_json("-1e300", "output")), -1e300);
  // Integers at the edges are still integers.
  EXPECT_EQ(from_json_value<int64_t>(parse_stored_json("-9223372036854775808", "output")), INT64_MIN);
}

// fuzz_stored_values: a number too large for a double made nlohmann throw
// out_of_range (406), not parse_error, and it escaped parse_stored_json as
// an nlohmann exception instead of keel::SerializationError.
TEST(FuzzFindings, StoredNumberTooLargeForADoubleIsASerializationError) {
  EXPECT_THROW(parse_stored_json("5555555555555e555555555555555555555555555555555", "output"), SerializationError);
  EXPECT_THROW(parse_stored_json("[1e999]", "output"), SerializationError);
  EXPECT_THROW(parse_stored_json("{", "output"), SerializationError);
}

// fuzz_workflow_cursor: a page whose last row had the ID "" handed out the
// cursor "n<time>." and the next query refused it (UsageError).
TEST(FuzzFindings, CursorAfterAnEmptyIdContinues) {
  ListWorkflowsQuery q;
  q.limit = 1;
  WorkflowInfo last;
  last.created_at_ms = 42;
  WorkflowPage page = sysdb::make_page(q, {last, WorkflowInfo{}});
  ASSERT_EQ(page.next_cursor, "n42.");
  q.cursor = page.next_cursor;
  EXPECT_NO_THROW(sysdb::validate(q));
  auto sql = sysdb::page_sql(q, {"keel_workflow_status", ""}, "workflow_id");
  EXPECT_EQ(std::get<int64_t>(sql.params.at(0)), 42);
  EXPECT_EQ(std::get<std::string>(sql.params.at(1)), "");
  q.cursor = "n.";
  EXPECT_THROW(sysdb::validate(q), UsageError);
}

// fuzz_database_url: "sq\0ite:..." and "sqlite:a.db\0b" — a NUL byte cut
// the URL short where SQLite reads it (another file than the one named).
TEST(FuzzFindings, DatabaseUrlWithANulByteIsAConfigError) {
  EXPECT_THROW(detail::parse_database_url(std::string("sqlite:a.db\0.evil", 17)), ConfigError);
  EXPECT_THROW(detail::parse_database_url(std::string("sq\0ite:", 7)), ConfigError);
  EXPECT_EQ(detail::parse_database_url("sqlite:a.db").target, "a.db");
}

}  // namespace
