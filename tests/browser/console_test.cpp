// The operator's web console (keel::AdminServer at "/") in headless
// Chromium, against a real Runtime on SQLite: the list and its filters and
// pages, a workflow's page, Cancel / Resume / Fork through the page (checked
// in the database, not only on the page), the executors and queues page,
// and the admin token. Screenshots of each page in each state go to
// <build>/browser-artifacts/console/; every test fails on a console error
// (console_fixture.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>

#include "console_fixture.hpp"

using namespace std::chrono_literals;

namespace keel::testing {
namespace {

TEST_F(ConsoleTest, AKnownWorkflowIsListedWithItsStatus) {
  serve();
  run_greet("wf-greet-1", "ann");
  run_failing("wf-fail-1");
  start_waiter("wf-wait-1");
  open();
  browser->find("#workflows-table");
  expect_listed({"wf-greet-1", "wf-fail-1", "wf-wait-1"});
  expect_text("tr[data-id='wf-greet-1'] td.status", "SUCCESS");
  expect_text("tr[data-id='wf-fail-1'] td.status", "ERROR");
  expect_text("tr[data-id='wf-wait-1'] td.status", "PENDING");
  expect_text("tr[data-id='wf-greet-1']", "greet");
  EXPECT_EQ(browser->title(), "Keel console");
  shot("list");

  // Refresh without reloading the page: a new workflow appears, and the
  // page's own state (a marker set on window) survives.
  browser->execute("window.__sameDocument = true;");
  run_greet("wf-greet-2", "bob");
  browser->click("#refresh");
  expect_listed({"wf-greet-1", "wf-greet-2", "wf-fail-1", "wf-wait-1"});
  EXPECT_TRUE(browser->execute("return window.__sameDocument === true;").get<bool>());
  shot("refreshed");

  // Auto-refresh (every 5 s) shows the next one by itself.
  browser->click("#auto-refresh");
  run_greet("wf-greet-3", "cy");
  expect_text("#workflows-table", "wf-greet-3", 12s);
  EXPECT_TRUE(browser->execute("return window.__sameDocument === true;").get<bool>());
}

TEST_F(ConsoleTest, FiltersNarrowTheList) {
  serve();
  run_greet("order-1", "ann");
  run_greet("order-2", "bob");
  run_failing("refund-1");
  start_waiter("order-3");
  open();
  expect_listed({"order-1", "order-2", "refund-1", "order-3"});

  browser->click("#f-status-ERROR");
  rerender_by("#apply-filters");
  expect_listed({"refund-1"});
  EXPECT_NE(browser->url().find("status=ERROR"), std::string::npos) << browser->url();
  shot("status-error");

  browser->click("#f-status-PENDING");  // ERROR and PENDING
  rerender_by("#apply-filters");
  expect_listed({"refund-1", "order-3"});
  shot("status-error-pending");

  rerender_by("#clear-filters");
  expect_listed({"order-1", "order-2", "refund-1", "order-3"});
  browser->type(browser->find("#f-name"), "greet");
  rerender_by("#apply-filters");
  expect_listed({"order-1", "order-2"});
  browser->clear(browser->find("#f-name"));
  browser->type(browser->find("#f-id-prefix"), "order-");
  browser->click("#f-status-SUCCESS");
  rerender_by("#apply-filters");
  expect_listed({"order-1", "order-2"});
  shot("prefix-and-status");

  // A time range: nothing was created before an hour ago; all after it.
  rerender_by("#clear-filters");
  browser->type(browser->find("#f-created-before"), "1h");
  rerender_by("#apply-filters");
  expect_listed({});
  browser->find("#no-workflows");
  browser->clear(browser->find("#f-created-before"));
  browser->type(browser->find("#f-created-after"), "1h");
  rerender_by("#apply-filters");
  expect_listed({"order-1", "order-2", "refund-1", "order-3"});

  // A filter the API refuses: its message is shown, not swallowed.
  expect_http_error(400);
  browser->clear(browser->find("#f-created-after"));
  browser->type(browser->find("#f-created-after"), "yesterday");
  rerender_by("#apply-filters");
  expect_text("#error", "invalid_time");
  EXPECT_TRUE(visible("#error"));
  shot("bad-filter");
}

TEST_F(ConsoleTest, QueueAndVersionFiltersAndCursorPaging) {
  serve();
  for (int i = 0; i < 27; ++i) run_greet("many-" + std::to_string(100 + i), "n" + std::to_string(i));
  auto queued = rt->enqueue(wf->greet, kConsoleQueue, {.workflow_id = "queued-1"}, std::string("q"));
  EXPECT_EQ(queued.result_for(10s), "hello q");
  open("#/workflows?queue_name=" + std::string(kConsoleQueue));
  expect_listed({"queued-1"});
  open("#/workflows?application_version=" + rt->config().application_version + "&id_prefix=many-10");
  expect_listed({"many-100", "many-101", "many-102", "many-103", "many-104", "many-105", "many-106", "many-107",
                 "many-108", "many-109"});
  browser->clear(browser->find("#f-version"));
  browser->type(browser->find("#f-version"), "no-such-version");
  rerender_by("#apply-filters");
  browser->find("#no-workflows");
  expect_listed({});

  // 28 workflows, 25 a page: the newest 25, then the last 3 via next_cursor.
  open("#/workflows?limit=25");
  browser->find("#workflows-table");
  ASSERT_TRUE(Browser::wait_until([&] { return listed_ids().size() == 25; }, 10s));
  expect_text("#page-info", "Page 1: 25 shown of 28 matching");
  auto first_page = listed_ids();
  shot("page-1");
  browser->click("#next-page");
  expect_text("#page-info", "Page 2: 3 shown");
  auto second_page = listed_ids();
  ASSERT_EQ(second_page.size(), 3u);
  for (const auto& id : second_page)
    EXPECT_EQ(std::count(first_page.begin(), first_page.end(), id), 0) << id << " is on both pages";
  EXPECT_EQ(second_page.back(), "many-100");  // the oldest, last
  EXPECT_EQ(browser->attribute(browser->find("#next-page"), "disabled"), "true");
  shot("page-2");
  browser->click("#prev-page");
  expect_text("#page-info", "Page 1: 25 shown");
  EXPECT_EQ(listed_ids(), first_page);
}

TEST_F(ConsoleTest, AWorkflowsPageShowsItsStepsOutcomeEventsInboxAndFamily) {
  serve();
  run_greet("wf-page-1", "carol");
  open();
  browser->click(browser->find("tr[data-id='wf-page-1'] a.wf-link"));
  browser->find("#steps-table");
  expect_text("#wf-id", "wf-page-1");
  expect_text("#wf-status", "SUCCESS");
  expect_text("#steps-table tbody tr[data-function-id='1'] .step-name", "make_greeting");
  expect_text("#steps-table tbody tr[data-function-id='1']", "step");
  expect_text("#steps-table tbody tr[data-function-id='1']", "\"hello carol\"");
  expect_text("#steps-table tbody tr[data-function-id='1'] .attempts", "1");
  expect_text("#wf-inputs", "carol");
  expect_text("#wf-output", "hello carol");
  browser->find("#no-events");
  browser->find("#no-messages");
  browser->find("#no-children");
  shot("success");
  shot("success-steps", "#steps-table");

  run_failing("wf-page-2");
  open("#/workflow/wf-page-2");
  expect_text("#wf-status", "ERROR");
  expect_text("#wf-error", "boom in step");
  expect_text("#steps-table tbody tr[data-function-id='1']", "boom in step");
  shot("error");
  shot("error-steps", "#steps-table");

  // A waiting workflow with a message in its inbox (another topic than it
  // waits for, so it stays there).
  start_waiter("wf-page-3");
  rt->send("wf-page-3", std::string("not for recv"), "other-topic");
  open("#/workflow/wf-page-3");
  expect_text("#wf-status", "PENDING");
  expect_text("#messages-table", "other-topic");
  expect_text("#messages-table", "not for recv");
  shot("pending");
  shot("pending-inbox", "#messages-table");

  // Events, children and parent.
  auto fam = rt->start(*family, {.workflow_id = "wf-fam-1"});
  ASSERT_EQ(fam.result_for(10s), "hello kid");
  auto kids = rt->list_workflows({.parent_id = "wf-fam-1"});
  ASSERT_EQ(kids.size(), 1u);
  const std::string kid = kids[0].id;
  open("#/workflow/wf-fam-1");
  expect_text("#events-table", "stage");
  expect_text("#events-table", "children started");
  expect_text("#children-table tr[data-id='" + kid + "']", "SUCCESS");
  expect_text("#steps-table", "child " + kid);
  shot("family", "#events-table");
  browser->click("#children-table tr[data-id='" + kid + "'] a.wf-link");
  expect_text("#wf-id", kid);
  expect_text("dl.summary", "wf-fam-1");  // its parent, linked
  shot("child");

  // An unknown ID: the API's 404 message is shown.
  expect_http_error(404);
  open("#/workflow/no-such-workflow");
  expect_text("#error", "no workflow with ID 'no-such-workflow'");
  shot("unknown");
}

TEST_F(ConsoleTest, CancelThroughThePageCancelsInTheDatabaseAndResumeRunsItAgain) {
  serve();
  start_waiter("wf-cancel-1");
  open("#/workflow/wf-cancel-1");
  expect_text("#wf-status", "PENDING");
  shot("before-cancel");

  // Dismissing the confirmation changes nothing.
  browser->click("#btn-cancel");
  EXPECT_NE(browser->accept_dialog(false).find("Cancel workflow wf-cancel-1"), std::string::npos);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(status_in_db("wf-cancel-1"), WorkflowStatus::Pending);

  browser->click("#btn-cancel");
  browser->accept_dialog(true);
  expect_text("#notice", "Cancelled: CANCELLED");
  EXPECT_EQ(status_in_db("wf-cancel-1"), WorkflowStatus::Cancelled);
  expect_text("#wf-status", "CANCELLED");
  shot("cancelled");

  browser->click("#btn-resume");
  EXPECT_NE(browser->accept_dialog(true).find("Resume workflow wf-cancel-1"), std::string::npos);
  expect_text("#notice", "Resumed: PENDING on executor console-exec");
  EXPECT_EQ(status_in_db("wf-cancel-1"), WorkflowStatus::Pending);
  expect_text("#wf-status", "PENDING");
  shot("resumed");
  // It really runs again: a message now completes it.
  rt->send("wf-cancel-1", std::string("go on"), "go");
  EXPECT_TRUE(eventually([&] { return status_in_db("wf-cancel-1") == WorkflowStatus::Success; }));
  EXPECT_EQ(rt->get_workflow("wf-cancel-1")->output, Json("go on"));
}

TEST_F(ConsoleTest, ForkThroughThePageCreatesAndRunsTheNewWorkflow) {
  serve();
  run_greet("wf-orig-1", "dora");
  open("#/workflow/wf-orig-1");
  browser->find("#fork-form");
  browser->click("#fork-step option[value='2']");  // after the last step: step 1 is copied, not run
  browser->type(browser->find("#fork-id"), "wf-forked-1");
  shot("fork-form");
  browser->click("#btn-fork");
  EXPECT_NE(browser->accept_dialog(true).find("from step 2"), std::string::npos);
  expect_text("#notice", "Forked as wf-forked-1");
  ASSERT_TRUE(eventually([&] { return rt->get_workflow("wf-forked-1").has_value(); }));
  EXPECT_TRUE(eventually([&] { return status_in_db("wf-forked-1") == WorkflowStatus::Success; }));
  auto forked = rt->get_workflow("wf-forked-1");
  EXPECT_EQ(forked->output, Json("hello dora"));
  EXPECT_EQ(forked->name, "greet");
  ASSERT_EQ(rt->list_steps("wf-forked-1").size(), 1u);
  shot("forked");

  // The notice links to the fork's page.
  browser->click("#notice a.wf-link");
  expect_text("#wf-id", "wf-forked-1");
  expect_text("#wf-status", "SUCCESS");
  shot("fork-page");

  // The same fork ID again: the API's 409 message is shown, nothing written.
  expect_http_error(409);
  open("#/workflow/wf-orig-1");
  browser->find("#fork-form");
  browser->type(browser->find("#fork-id"), "wf-forked-1");
  browser->click("#btn-fork");
  browser->accept_dialog(true);
  expect_text("#error", "workflow_conflict");
  shot("fork-conflict");
}

TEST_F(ConsoleTest, ExecutorsAndQueuesPageShowsThisExecutorAndItsQueue) {
  serve();
  start_waiter("wf-held-1");
  auto q1 = rt->enqueue(wf->waiter, kConsoleQueue, {.workflow_id = "wf-q-1"});
  auto q2 = rt->enqueue(wf->waiter, kConsoleQueue, {.workflow_id = "wf-q-2"});
  ASSERT_TRUE(eventually([&] {
    auto qs = rt->list_queues();
    return qs.size() == 1 && qs[0].running == 1 && qs[0].enqueued == 1;
  }));
  open();
  browser->click("#nav-system");
  browser->find("#executors-table");
  expect_text("#executors-table tr[data-id='console-exec'] .state", "live");
  expect_text("#executors-table tr[data-id='console-exec'] .held", "2");  // wf-held-1 and the dequeued one
  expect_text("#executors-table tr[data-id='console-exec']", rt->config().application_version);
  expect_text("#queues-table tr[data-name='console_queue'] .depth", "1");
  expect_text("#queues-table tr[data-name='console_queue'] .running", "1");
  expect_text("#queues-table tr[data-name='console_queue']", "none");  // no per-executor limit
  shot("system");
}

TEST_F(ConsoleTest, SchedulesArePausedResumedTriggeredAndDeletedFromThePage) {
  serve();
  open("#/system");
  const std::string row = std::string("#schedules-table tr[data-name='") + kConsoleSchedule + "']";
  expect_text(row + " .paused", "running");
  expect_text(row, "0 0 1 1 *");
  shot("schedules");

  browser->click(row + " button.pause");
  expect_text("#notice", std::string("Paused ") + kConsoleSchedule);
  EXPECT_TRUE(rt->list_schedules().at(0).paused);
  expect_text(row + " .paused", "paused");
  browser->click(row + " button.resume");
  expect_text("#notice", std::string("Resumed ") + kConsoleSchedule);
  EXPECT_FALSE(rt->list_schedules().at(0).paused);
  expect_text(row + " .paused", "running");

  browser->click(row + " button.trigger");
  EXPECT_NE(browser->accept_dialog(true).find("Start a run of schedule"), std::string::npos);
  expect_text("#notice", std::string("Started sched:") + kConsoleSchedule + ":manual:");
  ASSERT_TRUE(eventually([&] {
    auto runs = rt->list_workflows(ListWorkflowsQuery{.name = "console_tick"});
    return runs.size() == 1 && runs[0].status == WorkflowStatus::Success;
  }));
  shot("schedule-triggered");

  // Dismissing the confirmation deletes nothing; accepting it does.
  browser->click(row + " button.delete");
  browser->accept_dialog(false);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(rt->list_schedules().size(), 1u);
  browser->click(row + " button.delete");
  EXPECT_NE(browser->accept_dialog(true).find("Delete schedule"), std::string::npos);
  expect_text("#notice", std::string("Deleted ") + kConsoleSchedule);
  EXPECT_TRUE(rt->list_schedules().empty());
  browser->find("#no-schedules");
  shot("schedule-deleted");
}

TEST_F(ConsoleTest, WithATokenThePageAsksForItAndRefusesAWrongOne) {
  serve("console-token-42");
  run_greet("wf-secret-1", "eve");
  expect_http_error(401);
  open();
  browser->find("#token-form");
  ASSERT_TRUE(Browser::wait_until([&] { return visible("#token-panel"); }, 10s));
  expect_text("#token-message", "needs its admin token");
  expect_text("#error", "unauthorized");
  EXPECT_TRUE(listed_ids().empty());
  shot("asks-for-token");

  browser->type(browser->find("#token-input"), "wrong-token");
  browser->click("#token-submit");
  expect_text("#token-message", "refused this token");
  expect_text("#error", "HTTP 401");
  EXPECT_TRUE(listed_ids().empty());
  shot("wrong-token");

  browser->type(browser->find("#token-input"), "console-token-42");
  browser->click("#token-submit");
  expect_listed({"wf-secret-1"});
  EXPECT_FALSE(visible("#token-panel"));
  EXPECT_FALSE(visible("#error"));
  shot("right-token");
  // Kept for the tab: another page loads with it.
  open("#/workflow/wf-secret-1");
  expect_text("#wf-status", "SUCCESS");
  open("#/system");
  expect_text("#executors-table", "console-exec");
  shot("system-with-token");
}

// The gate every test ends with (console_fixture.hpp) can fail: a thrown
// error and an undeclared HTTP error are caught, a declared one is not.
TEST_F(ConsoleTest, TheConsoleErrorGateCatchesScriptErrorsAndUndeclaredHttpErrors) {
  serve();
  open();
  browser->find("#workflows-table");
  browser->execute("setTimeout(() => { throw new Error('injected by the test'); }, 0);");
  std::vector<std::string> caught;
  ASSERT_TRUE(Browser::wait_until([&] { return !(caught = unexpected_console_errors()).empty(); }, 5s));
  EXPECT_NE(caught[0].find("injected by the test"), std::string::npos) << caught[0];

  open("#/workflow/no-such-id");
  expect_text("#error", "no workflow with ID");
  ASSERT_TRUE(Browser::wait_until([&] { return !(caught = unexpected_console_errors()).empty(); }, 5s));
  EXPECT_NE(caught[0].find("status of 404"), std::string::npos) << caught[0];

  expect_http_error(404);
  open("#/workflow/another-missing-id");
  expect_text("#error", "another-missing-id");
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(unexpected_console_errors().empty());
}

}  // namespace
}  // namespace keel::testing

