// Every line logged while a workflow runs carries its ID, and a step's lines
// its step (keel/logging.hpp): workflow code, a step's and a transaction's
// bodies, and the engine's own line about a failed workflow.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "support/log_capture.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::LogCapture;
using keel::testing::RuntimeTest;

namespace {

using LoggingTest = RuntimeTest;

std::vector<nlohmann::json> parse_all(const std::vector<std::string>& lines) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines) out.push_back(nlohmann::json::parse(line));
  return out;
}

const nlohmann::json* find_msg(const std::vector<nlohmann::json>& lines, const std::string& msg) {
  for (const auto& j : lines)
    if (j.at("msg") == msg) return &j;
  return nullptr;
}

TEST_F(LoggingTest, EveryLineOfAWorkflowCarriesItsIdAndTheStepsTheirStep) {
  auto ok = rt->register_workflow("logs", [](keel::Context& ctx) {
    spdlog::info("workflow code");
    int n = ctx.step("charge", [] {
      spdlog::info("in the step");
      return 1;
    });
    ctx.transaction("reserve", [](keel::Sql&) { spdlog::info("in the transaction"); });
    spdlog::info("after the step");
    return n;
  });
  auto failing = rt->register_workflow("fails", [](keel::Context&) -> int { throw std::runtime_error("no"); });
  rt->launch();
  LogCapture capture(keel::LogFormat::JsonLines);
  spdlog::info("before");
  EXPECT_EQ(rt->start(ok, {.workflow_id = "order-3"}).result_for(10s), 1);
  EXPECT_THROW(rt->start(failing, {.workflow_id = "fail-1"}).result_for(10s), std::exception);
  // The engine logs a failure before it records it: the line is in.
  auto lines = parse_all(capture.lines());

  ASSERT_NE(find_msg(lines, "before"), nullptr);
  EXPECT_FALSE(find_msg(lines, "before")->contains("workflow_id"));
  for (const auto& j : lines) {
    if (j.at("msg") == "before") continue;
    ASSERT_TRUE(j.contains("workflow_id")) << j.dump();
    EXPECT_TRUE(j.at("workflow_id") == "order-3" || j.at("workflow_id") == "fail-1") << j.dump();
  }
  const auto* step = find_msg(lines, "in the step");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->at("workflow_id"), "order-3");
  EXPECT_EQ(step->at("step"), "charge");
  EXPECT_EQ(step->at("function_id"), 1);
  const auto* tx = find_msg(lines, "in the transaction");
  ASSERT_NE(tx, nullptr);
  EXPECT_EQ(tx->at("workflow_id"), "order-3");
  EXPECT_EQ(tx->at("step"), "reserve");
  EXPECT_EQ(tx->at("function_id"), 2);
  for (const char* msg : {"workflow code", "after the step"}) {
    ASSERT_NE(find_msg(lines, msg), nullptr) << msg;
    EXPECT_EQ(find_msg(lines, msg)->at("workflow_id"), "order-3") << msg;
    EXPECT_FALSE(find_msg(lines, msg)->contains("step")) << msg;
  }
  const auto* failed = find_msg(lines, "workflow failed: no");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->at("workflow_id"), "fail-1");
  EXPECT_EQ(failed->at("level"), "warning");
  rt.reset();  // its threads stop before the capture gives the logger back
}

// A child's lines carry the child's ID, and the parent's lines after it the
// parent's again (each run sets and restores the context on its thread).
TEST_F(LoggingTest, AChildsLinesCarryTheChildsId) {
  auto child = rt->register_workflow("child", [](keel::Context& ctx) {
    spdlog::info("child {}", ctx.workflow_id());
    return 2;
  });
  auto parent = rt->register_workflow("parent", [&child](keel::Context& ctx) {
    int r = ctx.start_child(child).result();
    spdlog::info("parent code");
    return r;
  });
  rt->launch();
  LogCapture capture(keel::LogFormat::JsonLines);
  EXPECT_EQ(rt->start(parent, {.workflow_id = "mum"}).result_for(10s), 2);
  auto lines = parse_all(capture.lines());
  auto kid = std::find_if(lines.begin(), lines.end(),
                          [](const auto& j) { return j.at("msg").template get<std::string>().rfind("child ", 0) == 0; });
  ASSERT_NE(kid, lines.end());
  EXPECT_EQ("child " + kid->at("workflow_id").get<std::string>(), kid->at("msg")) << kid->dump();
  ASSERT_NE(find_msg(lines, "parent code"), nullptr);
  EXPECT_EQ(find_msg(lines, "parent code")->at("workflow_id"), "mum");
  rt.reset();  // its threads stop before the capture gives the logger back
}

}  // namespace
