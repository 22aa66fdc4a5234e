// The web console's browser-test fixture: a real keel::Runtime on a fresh
// SQLite file running the sample workflows (support/sample_workflows.hpp)
// and a queue, its AdminServer on a free loopback port, and one headless
// Chromium (support/webdriver.hpp) pointed at it.
//
// Every test fails on a console error: TearDown asserts that the browser
// logged none, except the network lines of answers a test expected and
// declared with expect_http_error(status) (Chromium logs every 4xx answer
// to fetch() as "Failed to load resource: ... status of 401"; the page's
// own JavaScript errors are never allowed).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "e2e_support.hpp"
#include "keel/admin_server.hpp"
#include "keel/keel.hpp"
#include "support/runtime_fixture.hpp"
#include "support/sample_workflows.hpp"
#include "support/temp_dir.hpp"
#include "support/webdriver.hpp"

namespace keel::testing {

inline constexpr const char* kConsoleQueue = "console_queue";
// Fires on January 1st only: no tick runs during a test (its runs would show
// in the workflow lists); the page's Trigger starts one.
inline constexpr const char* kConsoleSchedule = "console_yearly";

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!browser_available())
      GTEST_SKIP() << "Chromium is not installed (apt-get install chromium chromium-driver): the console's "
                      "browser tests need /usr/bin/chromium and /usr/bin/chromedriver";
    rt = std::make_unique<Runtime>(test_config(dir, "console-exec"));
    wf = std::make_unique<SampleWorkflows>(*rt);
    // A workflow with an event and a child, for the page's events and family.
    family.emplace(rt->register_workflow("family", [greet = wf->greet](Context& ctx) {
      ctx.set_event("stage", std::string("children started"));
      auto child = ctx.start_child(greet, std::string("kid"));
      return child.result();
    }));
    rt->register_queue({.name = kConsoleQueue, .concurrency = 1});
    auto tick = rt->register_workflow("console_tick", [](Context&, ScheduledTick t) { return t.schedule; });
    rt->schedule(tick, {.name = kConsoleSchedule, .cron = "0 0 1 1 *"});
    rt->launch();
    browser = std::make_unique<Browser>(e2e::free_port(), std::string(KEEL_BROWSER_ARTIFACTS) + "/console");
  }

  void TearDown() override {
    if (browser)
      for (const auto& line : unexpected_console_errors()) ADD_FAILURE() << "console error: " << line;
    browser.reset();
    server.reset();
    rt.reset();
  }

  // The console's errors since the last call, less the declared HTTP errors.
  std::vector<std::string> unexpected_console_errors() {
    std::vector<std::string> out;
    for (const auto& line : browser->console_errors())
      if (!expected_network_line(line)) out.push_back(line);
    return out;
  }

  // Starts the admin server (with a token when given) and returns the base URL.
  std::string serve(const std::string& token = "") {
    server = std::make_unique<AdminServer>(*rt, AdminServerOptions{.host = "127.0.0.1", .port = 0, .token = token});
    server->start();
    base = "http://127.0.0.1:" + std::to_string(server->port());
    return base;
  }

  // Opens a console route ("#/workflows?...") by URL, as an operator would.
  // A change of hash only keeps the document, and the router renders the new
  // view on the hashchange that follows: the old view is marked first and
  // waited out, so that nothing is found on the page being left.
  void open(const std::string& hash = "") {
    const std::string target = base + "/" + hash;
    const bool same_url = browser->url() == target;  // no hashchange then: nothing to wait out
    if (!same_url)
      browser->execute("const v = document.getElementById('view');"
                       "if (v) for (const c of v.children) c.dataset.old = '1';");
    browser->go(target);
    bool ok = Browser::wait_until([&] {
      return browser->execute("return !document.querySelector('#view > [data-old]');").get<bool>();
    }, std::chrono::seconds(10));
    ASSERT_TRUE(ok) << "the console did not leave its old view for " << target;
  }

  // Declares that the page will get an HTTP error of this status from the
  // API, which Chromium logs on the console as a network line.
  void expect_http_error(int status) { expected_statuses.insert(status); }

  // The textContent of the first element matching css, or nothing.
  std::optional<std::string> text_of(const std::string& css) {
    auto v = browser->execute("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                              {css});
    if (v.is_null()) return std::nullopt;
    return v.get<std::string>();
  }
  bool visible(const std::string& css) {
    return browser
        ->execute("const e = document.querySelector(arguments[0]); return !!e && !e.hidden && e.offsetParent !== null;",
                  {css})
        .get<bool>();
  }
  // Waits until the element's text contains `part`; fails the test with what it held otherwise.
  void expect_text(const std::string& css, const std::string& part,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    bool ok = Browser::wait_until([&] {
      auto t = text_of(css);
      return t && t->find(part) != std::string::npos;
    }, timeout);
    EXPECT_TRUE(ok) << css << " should contain '" << part << "' but holds '" << text_of(css).value_or("<none>")
                    << "' at " << browser->url();
  }
  // Clicks a control of the workflows page that changes the hash (#apply-filters,
  // #clear-filters) and waits until the page has rendered again. Each render
  // replaces the filter form, and the hashchange that triggers it comes after
  // the click returns: an input found before then is removed under the test's
  // hands ("stale element reference", seen in CI).
  void rerender_by(const std::string& css) {
    browser->execute("document.getElementById('filters').dataset.old = '1';");
    browser->click(css);
    bool ok = Browser::wait_until([&] {
      return browser->execute("return !!document.getElementById('filters') && "
                              "!document.querySelector('#filters[data-old]');")
          .get<bool>();
    }, std::chrono::seconds(10));
    ASSERT_TRUE(ok) << "the workflows page did not render again after clicking " << css;
  }
  // The data-id of every row of the workflows table, in order.
  std::vector<std::string> listed_ids() {
    auto v = browser->execute(
        "return Array.from(document.querySelectorAll('#workflows-table tbody tr')).map(r => r.dataset.id);");
    return v.get<std::vector<std::string>>();
  }
  // Waits until the table lists exactly `ids` (in any order).
  void expect_listed(const std::set<std::string>& ids) {
    std::vector<std::string> got;
    bool ok = Browser::wait_until([&] {
      got = listed_ids();
      return std::set<std::string>(got.begin(), got.end()) == ids && got.size() == ids.size();
    }, std::chrono::seconds(10));
    std::string seen;
    for (const auto& g : got) seen += g + " ";
    EXPECT_TRUE(ok) << "the list shows: " << seen;
  }
  // A screenshot of the viewport, scrolled to `css` first when given.
  void shot(const std::string& name, const std::string& css = "") {
    if (!css.empty())
      browser->execute("const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView();", {css});
    browser->screenshot(::testing::UnitTest::GetInstance()->current_test_info()->name() + std::string("-") + name);
  }

  // Runs workflows of known outcome; returns once each has its status.
  void run_greet(const std::string& id, const std::string& who) {
    auto h = rt->start(wf->greet, {.workflow_id = id}, who);
    EXPECT_EQ(h.result_for(std::chrono::seconds(10)), "hello " + who);
  }
  void run_failing(const std::string& id) {
    auto h = rt->start(wf->failing, {.workflow_id = id});
    EXPECT_ANY_THROW(h.result_for(std::chrono::seconds(10)));
  }
  void start_waiter(const std::string& id) {
    auto h = rt->start(wf->waiter, {.workflow_id = id});
    ASSERT_TRUE(eventually([&] { return !rt->list_steps(id).empty(); }));
  }
  WorkflowStatus status_in_db(const std::string& id) {
    auto info = rt->get_workflow(id);
    if (!info) throw std::runtime_error("no workflow " + id + " in the database");
    return info->status;
  }

  TempDir dir;
  std::unique_ptr<Runtime> rt;
  std::unique_ptr<SampleWorkflows> wf;
  std::optional<Workflow<std::string>> family;
  std::unique_ptr<AdminServer> server;
  std::unique_ptr<Browser> browser;
  std::string base;

 private:
  bool expected_network_line(const std::string& line) const {
    for (int status : expected_statuses)
      if (line.find("Failed to load resource: the server responded with a status of " + std::to_string(status)) !=
          std::string::npos)
        return true;
    return false;
  }
  std::set<int> expected_statuses;
};

}  // namespace keel::testing
