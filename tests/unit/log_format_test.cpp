// The log formats of keel::configure_logging (keel/logging.hpp): the text
// line's bracket, the JSON line's fields, and one valid JSON line whatever
// bytes the message holds.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "common/log_context.hpp"
#include "keel/logging.hpp"
#include "support/log_capture.hpp"

using keel::LogFormat;
using keel::detail::LogContextScope;
using keel::testing::LogCapture;
using Json = nlohmann::json;

namespace {

TEST(LogFormat, TextCarriesTheWorkflowAndStep) {
  LogCapture capture(LogFormat::Text);
  spdlog::info("outside");
  {
    LogContextScope workflow("order-3");
    spdlog::warn("in the workflow");
    LogContextScope step("order-3", "charge", 2);
    spdlog::warn("workflow failed: no");
  }
  auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 3u);
  std::regex stamp(R"(^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] )");
  for (const auto& line : lines) EXPECT_TRUE(std::regex_search(line, stamp)) << line;
  EXPECT_NE(lines[0].find("] [info] outside"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("wf="), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("] [warning] [wf=order-3] in the workflow"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("] [warning] [wf=order-3 step=charge#2] workflow failed: no"), std::string::npos)
      << lines[2];
}

TEST(LogFormat, JsonLinesHoldTheFields) {
  LogCapture capture(LogFormat::JsonLines);
  spdlog::info("outside");
  {
    LogContextScope step("order-3", "charge", 2);
    spdlog::error("declined");
  }
  auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  Json outside = Json::parse(lines[0]);
  Json inside = Json::parse(lines[1]);
  EXPECT_TRUE(std::regex_match(outside.at("ts").get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << outside.at("ts");
  EXPECT_EQ(outside.at("level"), "info");
  EXPECT_EQ(outside.at("msg"), "outside");
  EXPECT_EQ(outside.at("logger"), "");
  EXPECT_TRUE(outside.at("thread").is_number_unsigned());
  EXPECT_FALSE(outside.contains("workflow_id"));
  EXPECT_FALSE(outside.contains("step"));
  EXPECT_EQ(inside.at("level"), "error");
  EXPECT_EQ(inside.at("msg"), "declined");
  EXPECT_EQ(inside.at("workflow_id"), "order-3");
  EXPECT_EQ(inside.at("step"), "charge");
  EXPECT_EQ(inside.at("function_id"), 2);
}

// Quotes, control characters, newlines and bytes that are not UTF-8 (in the
// message and in the IDs) still make one line that parses.
TEST(LogFormat, AnyBytesMakeOneValidJsonLine) {
  LogCapture capture(LogFormat::JsonLines);
  const std::string nasty = "say \"hi\"\\\nline two\r\t\x01 bad:\xff\xfe end \xc3";
  {
    LogContextScope step("wf-\xff\"", "st\nep", 1);
    spdlog::info("{}", nasty);
  }
  auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u) << "the message's newline must not split the line";
  Json j = Json::parse(lines[0]);
  std::string msg = j.at("msg").get<std::string>();
  EXPECT_EQ(msg.rfind("say \"hi\"\\\nline two\r\t\x01 bad:", 0), 0u) << msg;
  EXPECT_NE(msg.find("\xEF\xBF\xBD"), std::string::npos) << "invalid bytes become U+FFFD";
  EXPECT_EQ(j.at("step"), "st\nep");
  EXPECT_EQ(j.at("workflow_id").get<std::string>().rfind("wf-", 0), 0u);
}

TEST(LogFormat, ScopesNestAndRestorePerThread) {
  EXPECT_EQ(keel::current_workflow_id(), "");
  {
    LogContextScope outer("parent");
    {
      LogContextScope inner("child", "s", 1);
      EXPECT_EQ(keel::current_workflow_id(), "child");
      std::string other = "unset";
      std::thread([&] { other = keel::current_workflow_id(); }).join();
      EXPECT_EQ(other, "") << "the context is the thread's own";
    }
    EXPECT_EQ(keel::current_workflow_id(), "parent");
    EXPECT_TRUE(keel::detail::current_log_context().step.empty());
  }
  EXPECT_EQ(keel::current_workflow_id(), "");
}

TEST(LogFormat, ParseLogFormat) {
  EXPECT_EQ(keel::parse_log_format("text"), LogFormat::Text);
  EXPECT_EQ(keel::parse_log_format("json"), LogFormat::JsonLines);
  for (const char* bad : {"", "JSON", "xml", "text "}) EXPECT_FALSE(keel::parse_log_format(bad)) << bad;
}

}  // namespace
