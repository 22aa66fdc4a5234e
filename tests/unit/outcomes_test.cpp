// The in-memory outcomes behind result() of workflows that ran here
// (src/runtime/outcomes.hpp): what is put is found, and the table stays bounded.
#include "runtime/outcomes.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using keel::WorkflowInfo;
using keel::WorkflowStatus;
using keel::detail::RecentOutcomes;

WorkflowInfo outcome(const std::string& id, int value) {
  WorkflowInfo info;
  info.id = id;
  info.status = WorkflowStatus::Success;
  info.output = value;
  return info;
}

TEST(RecentOutcomes, KeepsWhatWasPutAndForgetsTheOldestBeyondItsCapacity) {
  RecentOutcomes outcomes(3);
  for (int i = 0; i < 5; ++i) outcomes.put(outcome("w" + std::to_string(i), i));
  EXPECT_FALSE(outcomes.get("w0"));
  EXPECT_FALSE(outcomes.get("w1"));
  for (int i = 2; i < 5; ++i) {
    auto got = outcomes.get("w" + std::to_string(i));
    ASSERT_TRUE(got) << i;
    EXPECT_EQ(got->status, WorkflowStatus::Success);
    EXPECT_EQ(got->output, keel::Json(i));
  }
  EXPECT_FALSE(outcomes.get("never-put"));
}

TEST(RecentOutcomes, PuttingAnIdAgainTakesNoSecondPlace) {
  RecentOutcomes outcomes(2);
  outcomes.put(outcome("a", 1));
  outcomes.put(outcome("a", 1));  // e.g. a duplicate report: one entry
  outcomes.put(outcome("b", 2));
  EXPECT_TRUE(outcomes.get("a"));  // still one of the two newest ids
  EXPECT_TRUE(outcomes.get("b"));
  outcomes.put(outcome("c", 3));
  EXPECT_FALSE(outcomes.get("a"));
  EXPECT_TRUE(outcomes.get("c"));
}

}  // namespace
