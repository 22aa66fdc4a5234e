// The browser harness itself (support/webdriver.hpp): the checks every
// browser test relies on must be able to fail. A page's uncaught exception
// and console.error reach console_errors(); clicks run the page's handlers;
// screenshots are real PNG files.
#include <gtest/gtest.h>

#include <fstream>

#include "e2e_support.hpp"
#include "support/webdriver.hpp"

namespace {

using keel::testing::Browser;

class BrowserHarnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!keel::testing::browser_available()) GTEST_SKIP() << "Chromium is not installed (apt-get install chromium chromium-driver)";
    browser_ = std::make_unique<Browser>(keel::e2e::free_port(), std::string(KEEL_BROWSER_ARTIFACTS) + "/harness");
  }
  std::unique_ptr<Browser> browser_;
};

const char* kPage =
    "data:text/html,<h1 id='t'>hello</h1><button id='b' onclick=\"document.getElementById('t').textContent='clicked'\">"
    "go</button><button id='bad' onclick='undefinedFunction()'>bad</button>";

TEST_F(BrowserHarnessTest, ClicksRunHandlersAndTextIsRead) {
  browser_->go(kPage);
  EXPECT_EQ(browser_->text("#t"), "hello");
  browser_->click("#b");
  EXPECT_EQ(browser_->text("#t"), "clicked");
  EXPECT_TRUE(browser_->console_errors().empty());
}

TEST_F(BrowserHarnessTest, AnUncaughtExceptionIsAConsoleError) {
  browser_->go(kPage);
  browser_->click("#bad");
  auto errors = browser_->console_errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("undefinedFunction"), std::string::npos) << errors[0];
}

TEST_F(BrowserHarnessTest, AMissingElementIsAnErrorNotAHang) {
  browser_->go(kPage);
  EXPECT_FALSE(browser_->try_find("#nothing").has_value());
  EXPECT_THROW(browser_->find("#nothing", std::chrono::milliseconds(200)), keel::testing::WebDriverError);
}

TEST_F(BrowserHarnessTest, ScreenshotsArePngFiles) {
  browser_->go(kPage);
  auto file = browser_->screenshot("harness-page");
  std::ifstream in(file, std::ios::binary);
  std::string magic(8, '\0');
  in.read(magic.data(), 8);
  EXPECT_EQ(magic, std::string("\x89PNG\r\n\x1a\n", 8));
}

}  // namespace
