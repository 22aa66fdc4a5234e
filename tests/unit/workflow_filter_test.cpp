// The filter parser of the admin API and the CLI (admin/workflow_filter.hpp):
// times in three forms, statuses, and a clear error for every bad parameter.
#include "admin/workflow_filter.hpp"

#include <gtest/gtest.h>

namespace {

using keel::admin::FilterError;
using keel::admin::FilterParams;
using keel::admin::parse_duration;
using keel::admin::parse_time;
using keel::admin::parse_workflow_filter;

constexpr int64_t kNow = 1'765'000'000'000;  // 2025-12-06T05:46:40Z

std::string error_code(const FilterParams& p, bool paging = true) {
  try {
    (void)parse_workflow_filter(p, kNow, paging);
  } catch (const FilterError& e) {
    EXPECT_FALSE(e.message.empty());
    return e.code;
  }
  return "";
}

TEST(WorkflowFilter, TimesAreEpochMsRfc3339OrADurationAgo) {
  EXPECT_EQ(parse_time("1700000000000", kNow), 1'700'000'000'000);
  EXPECT_EQ(parse_time("1970-01-01T00:00:01Z", kNow), 1000);
  EXPECT_EQ(parse_time("1970-01-01T00:00:01.250Z", kNow), 1250);
  EXPECT_EQ(parse_time("1970-01-01T01:00:00+01:00", kNow), 0);
  EXPECT_EQ(parse_time("1970-01-01T00:00:00-00:30", kNow), 1'800'000);
  EXPECT_EQ(parse_time("2024-02-29T00:00:00Z", kNow), 1'709'164'800'000) << "a leap day";
  EXPECT_EQ(parse_time("2h", kNow), kNow - 7'200'000);
  EXPECT_EQ(parse_time("30d", kNow), kNow - 30LL * 86'400'000);
  EXPECT_EQ(parse_time("500ms", kNow), kNow - 500);
  for (const char* bad : {"", "2h30", "-5m", "0s", "5w", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
                          "2024-01-01T00:00:00", "2024-01-01", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00Zjunk",
                          "99999999999999999999"})
    EXPECT_FALSE(parse_time(bad, kNow).has_value()) << bad;
  EXPECT_FALSE(parse_duration("9223372036854775807d").has_value()) << "overflow";
}

TEST(WorkflowFilter, ParametersMapToTheQuery) {
  auto q = parse_workflow_filter({{"status", "pending,Error"},
                                  {"name", "checkout"},
                                  {"id_prefix", "ord-"},
                                  {"queue_name", "q"},
                                  {"application_version", "v2"},
                                  {"executor_id", ""},
                                  {"parent_id", "p"},
                                  {"created_after", "1000"},
                                  {"created_before", "2000"},
                                  {"updated_after", "1h"},
                                  {"updated_before", "1970-01-01T00:00:03Z"},
                                  {"order", "oldest"},
                                  {"limit", "7"},
                                  {"cursor", "n1.61"},
                                  {"count", "true"}},
                                 kNow, true);
  EXPECT_EQ(q.statuses, (std::vector{keel::WorkflowStatus::Pending, keel::WorkflowStatus::Error}));
  EXPECT_EQ(q.name, "checkout");
  EXPECT_EQ(q.id_prefix, "ord-");
  EXPECT_EQ(q.queue_name, "q");
  EXPECT_EQ(q.application_version, "v2");
  EXPECT_EQ(q.executor_id, "") << "an empty executor is a filter: released workflows";
  EXPECT_EQ(q.parent_id, "p");
  EXPECT_EQ(q.created_after_ms, 1000);
  EXPECT_EQ(q.created_before_ms, 2000);
  EXPECT_EQ(q.updated_after_ms, kNow - 3'600'000);
  EXPECT_EQ(q.updated_before_ms, 3000);
  EXPECT_EQ(q.order, keel::ListOrder::OldestFirst);
  EXPECT_EQ(q.limit, 7);
  EXPECT_EQ(q.cursor, "n1.61");
  EXPECT_TRUE(q.count_total);
  auto defaults = parse_workflow_filter({}, kNow, true);
  EXPECT_TRUE(defaults.statuses.empty());
  EXPECT_EQ(defaults.limit, 100);
  EXPECT_EQ(defaults.order, keel::ListOrder::NewestFirst);
}

TEST(WorkflowFilter, EveryBadParameterHasItsCode) {
  EXPECT_EQ(error_code({{"colour", "red"}}), "invalid_parameter");
  EXPECT_EQ(error_code({{"name", "a"}, {"name", "b"}}), "invalid_parameter");
  EXPECT_EQ(error_code({{"status", "DONE"}}), "invalid_status");
  EXPECT_EQ(error_code({{"status", "PENDING,"}}), "invalid_status");
  EXPECT_EQ(error_code({{"name", ""}}), "invalid_name");
  EXPECT_EQ(error_code({{"id_prefix", ""}}), "invalid_id_prefix");
  EXPECT_EQ(error_code({{"created_after", "yesterday"}}), "invalid_time");
  EXPECT_EQ(error_code({{"order", "up"}}), "invalid_order");
  EXPECT_EQ(error_code({{"limit", "0"}}), "invalid_limit");
  EXPECT_EQ(error_code({{"limit", "10001"}}), "invalid_limit");
  EXPECT_EQ(error_code({{"limit", "5x"}}), "invalid_limit");
  EXPECT_EQ(error_code({{"count", "yes"}}), "invalid_count");
  EXPECT_EQ(error_code({{"limit", "5"}}, /*paging=*/false), "invalid_parameter") << "bulk operations do not page";
  EXPECT_EQ(error_code({{"status", "ERROR"}}, false), "");
}

}  // namespace
