// keel::AdminServer over real HTTP on loopback, against a Runtime on a real
// SQLite file, or a fresh PostgreSQL database under KEEL_TEST_DATABASE_URL
// (the postgres.AdminServerTest.* run).
#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "keel/admin_server.hpp"
#include "keel/keel.hpp"
#include "support/sample_workflows.hpp"
#include "support/temp_dir.hpp"
#include "support/test_databases.hpp"

using namespace std::chrono_literals;
using keel::Json;

namespace {

struct HttpResult {
  int status = -1;  // -1: no response (connection failed)
  Json body;        // discarded (is_discarded()) when not JSON
  std::string raw;
  httplib::Headers headers;
};

HttpResult to_result(const httplib::Result& r) {
  HttpResult out;
  if (!r) return out;
  out.status = r->status;
  out.raw = r->body;
  out.headers = r->headers;
  out.body = Json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  return out;
}

keel::RuntimeConfig config_for(const keel::testing::TempDir& dir, const std::string& executor) {
  keel::RuntimeConfig c;
  c.database_url = keel::testing::test_db_url(dir);  // PostgreSQL under KEEL_TEST_DATABASE_URL
  c.executor_id = executor;
  c.poll_interval = 50ms;
  return c;
}

using keel::testing::eventually;

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_ = std::make_unique<keel::Runtime>(config_for(dir_, "admin-test"));
    wf_ = std::make_unique<keel::testing::SampleWorkflows>(*rt_);
    rt_->launch();
    server_ = std::make_unique<keel::AdminServer>(*rt_, "127.0.0.1", 0);
    server_->start();
    client_ = make_client(server_->port());
  }

  void TearDown() override {
    client_.reset();
    server_.reset();
    rt_.reset();
    if (keel::testing::testing_on_postgres())
      keel::testing::detail::PgTestDatabases::instance().drop(keel::testing::detail::database_for(dir_));
  }

  static std::unique_ptr<httplib::Client> make_client(int port) {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_url_encode(false);  // the tests send paths already percent-encoded
    c->set_connection_timeout(5);
    c->set_read_timeout(30);
    return c;
  }

  HttpResult get(const std::string& path) { return to_result(client_->Get(path)); }
  HttpResult post(const std::string& path) { return to_result(client_->Post(path)); }
  HttpResult post(const std::string& path, const std::string& body) {
    return to_result(client_->Post(path, body, "application/json"));
  }

  std::string run_greet(const std::string& id, const std::string& who) {
    auto h = rt_->start(wf_->greet, {.workflow_id = id}, who);
    EXPECT_EQ(h.result_for(10s), "hello " + who);
    return id;
  }

  void run_failing(const std::string& id) {
    auto h = rt_->start(wf_->failing, {.workflow_id = id});
    EXPECT_ANY_THROW(h.result_for(10s));
  }

  // Starts a waiter and returns once it waits in recv (its first step is recorded).
  keel::Handle<std::string> start_waiter(const std::string& id) {
    auto h = rt_->start(wf_->waiter, {.workflow_id = id});
    EXPECT_TRUE(eventually([&] { return !rt_->list_steps(id).empty(); }));
    return h;
  }


  keel::testing::TempDir dir_;
  std::unique_ptr<keel::Runtime> rt_;
  std::unique_ptr<keel::testing::SampleWorkflows> wf_;
  std::unique_ptr<keel::AdminServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

void expect_error(const HttpResult& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.raw;
  ASSERT_TRUE(r.body.is_object()) << r.raw;
  EXPECT_EQ(r.body.value("error", ""), code) << r.raw;
  ASSERT_TRUE(r.body.contains("message") && r.body["message"].is_string()) << r.raw;
  EXPECT_FALSE(r.body["message"].get<std::string>().empty()) << r.raw;
}

TEST_F(AdminServerTest, HealthzAnswersHealthyOnTheBoundPort) {
  EXPECT_GT(server_->port(), 0);
  auto r = get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, (Json{{"status", "healthy"}}));
  auto ct = r.headers.find("Content-Type");
  ASSERT_NE(ct, r.headers.end());
  EXPECT_EQ(ct->second, "application/json");
}

TEST_F(AdminServerTest, GetWorkflowReturnsItsRecordedFields) {
  run_greet("g-1", "ann");
  auto r = get("/workflows/g-1");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["id"], "g-1");
  EXPECT_EQ(r.body["name"], "greet");
  EXPECT_EQ(r.body["status"], "SUCCESS");
  EXPECT_EQ(r.body["inputs"], Json::array({"ann"}));
  EXPECT_EQ(r.body["output"], "hello ann");
  EXPECT_TRUE(r.body["error"].is_null());
  EXPECT_EQ(r.body["executor_id"], "admin-test");
  EXPECT_TRUE(r.body["parent_id"].is_null());
  EXPECT_TRUE(r.body["queue_name"].is_null());
  EXPECT_GT(r.body["created_at_ms"].get<int64_t>(), 0);
}

TEST_F(AdminServerTest, FailedWorkflowShowsItsRecordedError) {
  run_failing("f-1");
  auto r = get("/workflows/f-1");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["status"], "ERROR");
  ASSERT_TRUE(r.body["error"].is_object()) << r.raw;
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("boom in step"), std::string::npos) << r.raw;
  EXPECT_TRUE(r.body["output"].is_null());
}

TEST_F(AdminServerTest, UnknownWorkflowIs404OnEveryWorkflowRoute) {
  expect_error(get("/workflows/nope"), 404, "workflow_not_found");
  expect_error(get("/workflows/nope/steps"), 404, "workflow_not_found");
  expect_error(post("/workflows/nope/cancel"), 404, "workflow_not_found");
  expect_error(post("/workflows/nope/resume"), 404, "workflow_not_found");
  EXPECT_NE(get("/workflows/nope").body["message"].get<std::string>().find("nope"), std::string::npos);
}

TEST_F(AdminServerTest, ListFiltersByStatusNameAndLimit) {
  run_greet("g-1", "ann");
  run_greet("g-2", "bob");
  run_greet("g-3", "cid");
  run_failing("f-1");

  auto all = get("/workflows");
  ASSERT_EQ(all.status, 200) << all.raw;
  std::set<std::string> ids;
  for (const auto& w : all.body["workflows"]) ids.insert(w["id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"g-1", "g-2", "g-3", "f-1"}));

  auto errors = get("/workflows?status=ERROR");
  ASSERT_EQ(errors.status, 200) << errors.raw;
  ASSERT_EQ(errors.body["workflows"].size(), 1u);
  EXPECT_EQ(errors.body["workflows"][0]["id"], "f-1");

  auto lower = get("/workflows?status=success");  // case-insensitive
  ASSERT_EQ(lower.status, 200) << lower.raw;
  EXPECT_EQ(lower.body["workflows"].size(), 3u);

  auto by_name = get("/workflows?name=greet");
  ASSERT_EQ(by_name.status, 200) << by_name.raw;
  EXPECT_EQ(by_name.body["workflows"].size(), 3u);
  for (const auto& w : by_name.body["workflows"]) EXPECT_EQ(w["name"], "greet");

  auto both = get("/workflows?name=greet&status=ERROR");
  ASSERT_EQ(both.status, 200) << both.raw;
  EXPECT_TRUE(both.body["workflows"].empty());

  auto limited = get("/workflows?limit=2");
  ASSERT_EQ(limited.status, 200) << limited.raw;
  EXPECT_EQ(limited.body["workflows"].size(), 2u);

  auto of_version = get("/workflows?application_version=0&executor_id=admin-test");
  ASSERT_EQ(of_version.status, 200) << of_version.raw;
  EXPECT_EQ(of_version.body["workflows"].size(), 4u);
  auto other_version = get("/workflows?application_version=v2");
  ASSERT_EQ(other_version.status, 200) << other_version.raw;
  EXPECT_TRUE(other_version.body["workflows"].empty());
  auto other_executor = get("/workflows?executor_id=someone-else");
  ASSERT_EQ(other_executor.status, 200) << other_executor.raw;
  EXPECT_TRUE(other_executor.body["workflows"].empty()) << "the executor filter is applied";
}

TEST_F(AdminServerTest, ListRejectsBadParametersWith400) {
  for (const char* limit : {"abc", "0", "-1", "10001", "5x", "", "99999999999999999999"})
    expect_error(get(std::string("/workflows?limit=") + limit), 400, "invalid_limit");
  expect_error(get("/workflows?status=RUNNING"), 400, "invalid_status");
  expect_error(get("/workflows?name="), 400, "invalid_name");
  expect_error(get("/workflows?stauts=ERROR"), 400, "invalid_parameter");
  expect_error(get("/workflows?limit=1&limit=2"), 400, "invalid_parameter");
}

TEST_F(AdminServerTest, ListPagesWithACursorAndCountsWhenAsked) {
  for (int i = 0; i < 5; ++i) run_greet("p-" + std::to_string(i), "x");
  run_failing("p-fail");
  std::vector<std::string> seen;
  std::string path = "/workflows?id_prefix=p-&order=oldest&limit=2&count=true";
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 10);
    auto r = get(path);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 6) << r.raw;
    for (const auto& w : r.body["workflows"]) seen.push_back(w["id"].get<std::string>());
    if (r.body["next_cursor"].is_null()) break;
    path = "/workflows?id_prefix=p-&order=oldest&limit=2&count=true&cursor=" + r.body["next_cursor"].get<std::string>();
  }
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 6u);
  auto newest = get("/workflows?id_prefix=p-&limit=6");
  ASSERT_EQ(newest.status, 200) << newest.raw;
  std::vector<std::string> reversed;
  for (const auto& w : newest.body["workflows"]) reversed.push_back(w["id"].get<std::string>());
  EXPECT_EQ(std::vector<std::string>(reversed.rbegin(), reversed.rend()), seen);
  EXPECT_TRUE(newest.body["total"].is_null()) << "counted only when asked";

  auto several = get("/workflows?status=ERROR,success&id_prefix=p-");
  ASSERT_EQ(several.status, 200) << several.raw;
  EXPECT_EQ(several.body["workflows"].size(), 6u);
  auto recent = get("/workflows?created_after=1h&created_before=" + std::to_string(INT64_C(4102444800000)));
  ASSERT_EQ(recent.status, 200) << recent.raw;
  EXPECT_EQ(recent.body["workflows"].size(), 6u);
  auto old = get("/workflows?created_before=2001-01-01T00:00:00Z");
  ASSERT_EQ(old.status, 200) << old.raw;
  EXPECT_TRUE(old.body["workflows"].empty());
}

TEST_F(AdminServerTest, ListRejectsBadFiltersAndCursorsWith400) {
  expect_error(get("/workflows?created_after=yesterday"), 400, "invalid_time");
  expect_error(get("/workflows?updated_before=2026-02-30T00:00:00Z"), 400, "invalid_time");
  expect_error(get("/workflows?order=sideways"), 400, "invalid_order");
  expect_error(get("/workflows?count=maybe"), 400, "invalid_count");
  expect_error(get("/workflows?cursor=not-a-cursor"), 400, "invalid_cursor");
  expect_error(get("/workflows?status=PENDING,NOPE"), 400, "invalid_status");
  expect_error(get("/workflows?id_prefix="), 400, "invalid_id_prefix");
  run_greet("c-1", "a");
  run_greet("c-2", "b");
  auto page = get("/workflows?limit=1");
  ASSERT_TRUE(page.body["next_cursor"].is_string()) << page.raw;
  expect_error(get("/workflows?order=oldest&cursor=" + page.body["next_cursor"].get<std::string>()), 400,
               "invalid_cursor");
}

TEST_F(AdminServerTest, DeleteRemovesAFinishedWorkflowAndRefusesOthers) {
  run_greet("d-1", "ann");
  auto r = post("/workflows/d-1/delete");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["deleted"], true);
  expect_error(get("/workflows/d-1"), 404, "workflow_not_found");
  expect_error(post("/workflows/d-1/delete"), 404, "workflow_not_found");
  (void)start_waiter("d-2");
  expect_error(post("/workflows/d-2/delete"), 409, "workflow_conflict");
  EXPECT_EQ(rt_->get_workflow("d-2")->status, keel::WorkflowStatus::Pending) << "unchanged";
  EXPECT_EQ(get("/workflows/d-1/delete").status, 405);
}

TEST_F(AdminServerTest, BulkCancelCountsInADryRunThenCancelsTheMatches) {
  (void)start_waiter("b-1");
  (void)start_waiter("b-2");
  run_greet("b-done", "x");
  auto dry = post("/workflows/cancel", R"({"status": "PENDING", "id_prefix": "b-", "dry_run": true})");
  ASSERT_EQ(dry.status, 200) << dry.raw;
  EXPECT_EQ(dry.body["dry_run"], true);
  EXPECT_EQ(dry.body["matched"], 2);
  EXPECT_EQ(dry.body["changed"], 0);
  EXPECT_EQ(rt_->get_workflow("b-1")->status, keel::WorkflowStatus::Pending);
  auto done = post("/workflows/cancel", R"({"status": ["PENDING"], "id_prefix": "b-"})");
  ASSERT_EQ(done.status, 200) << done.raw;
  EXPECT_EQ(done.body["changed"], 2);
  EXPECT_EQ(done.body["failed"], 0);
  EXPECT_EQ(rt_->get_workflow("b-2")->status, keel::WorkflowStatus::Cancelled);
  EXPECT_EQ(rt_->get_workflow("b-done")->status, keel::WorkflowStatus::Success);
  auto resumed = post("/workflows/resume", R"({"status": "CANCELLED", "id_prefix": "b-1"})");
  ASSERT_EQ(resumed.status, 200) << resumed.raw;
  EXPECT_EQ(resumed.body["changed"], 1);
  EXPECT_EQ(rt_->get_workflow("b-1")->status, keel::WorkflowStatus::Pending);
  auto deleted = post("/workflows/delete", R"({"id_prefix": "b-"})");
  ASSERT_EQ(deleted.status, 200) << deleted.raw;
  EXPECT_EQ(deleted.body["matched"], 2) << "the finished ones: b-2 (cancelled) and b-done";
  EXPECT_EQ(deleted.body["changed"], 2);
  EXPECT_TRUE(rt_->get_workflow("b-1").has_value()) << "PENDING again: not deleted";
}

TEST_F(AdminServerTest, BulkOperationsRefuseAnEmptyOrBadFilter) {
  (void)start_waiter("e-1");
  expect_error(post("/workflows/cancel"), 400, "filter_required");
  expect_error(post("/workflows/cancel", R"({"dry_run": false})"), 400, "filter_required");
  expect_error(post("/workflows/cancel", R"({"status": "NOPE"})"), 400, "invalid_status");
  expect_error(post("/workflows/cancel", R"({"limit": "5"})"), 400, "invalid_body");
  expect_error(post("/workflows/cancel", R"({"name": 5.5})"), 400, "invalid_body");
  expect_error(post("/workflows/cancel", R"({"name": "x", "dry_run": "yes"})"), 400, "invalid_body");
  expect_error(post("/workflows/cancel", "[1]"), 400, "invalid_body");
  expect_error(post("/workflows/delete", R"({"status": "PENDING"})"), 400, "invalid_request");
  EXPECT_EQ(get("/workflows/cancel").status, 404) << "a GET reads workflow 'cancel', which does not exist";
  EXPECT_EQ(rt_->get_workflow("e-1")->status, keel::WorkflowStatus::Pending) << "nothing changed";
}

TEST_F(AdminServerTest, StepsListsTheRecordedSteps) {
  run_greet("g-1", "ann");
  auto r = get("/workflows/g-1/steps");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["workflow_id"], "g-1");
  ASSERT_EQ(r.body["steps"].size(), 1u) << r.raw;
  const auto& s = r.body["steps"][0];
  EXPECT_EQ(s["name"], "make_greeting");
  EXPECT_EQ(s["kind"], "step");
  EXPECT_EQ(s["output"], "hello ann");
  EXPECT_EQ(s["attempts"], 1);
  EXPECT_TRUE(s["error"].is_null());
  EXPECT_TRUE(s["function_id"].is_number_integer());

  run_failing("f-1");
  auto f = get("/workflows/f-1/steps");
  ASSERT_EQ(f.status, 200) << f.raw;
  ASSERT_EQ(f.body["steps"].size(), 1u) << f.raw;
  EXPECT_EQ(f.body["steps"][0]["name"], "explode");
  EXPECT_TRUE(f.body["steps"][0]["error"].is_object()) << f.raw;
}

TEST_F(AdminServerTest, UnknownRouteIs404) {
  expect_error(get("/nope"), 404, "not_found");  // "/" is the web console (console_routes_test.cpp)
  expect_error(get("/console/nope.js"), 404, "not_found");
  expect_error(get("/workflows/"), 404, "not_found");
  expect_error(get("/workflows/x/steps/more"), 404, "not_found");
  expect_error(post("/workflows/x/explode"), 404, "not_found");
}

TEST_F(AdminServerTest, WrongMethodIs405WithAllowHeader) {
  auto r = post("/healthz");
  expect_error(r, 405, "method_not_allowed");
  EXPECT_EQ(r.headers.find("Allow")->second, "GET, HEAD");

  auto c = get("/workflows/x/cancel");
  expect_error(c, 405, "method_not_allowed");
  EXPECT_EQ(c.headers.find("Allow")->second, "POST");

  expect_error(to_result(client_->Delete("/workflows/x")), 405, "method_not_allowed");
  expect_error(to_result(client_->Put("/workflows")), 405, "method_not_allowed");
  expect_error(post("/workflows/x/steps"), 405, "method_not_allowed");
}

TEST_F(AdminServerTest, PathSegmentsArePercentDecoded) {
  run_greet("order/42 x", "ann");
  auto r = get("/workflows/order%2F42%20x");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["id"], "order/42 x");
  EXPECT_EQ(get("/workflows/order%2F42%20x/steps").status, 200);
  expect_error(get("/workflows/%zz"), 400, "bad_request");
  expect_error(get("/workflows/abc%2"), 400, "bad_request");
}

// A fork keeps the records before start_step and runs here (this process
// registers the workflow and is of its version): the kept step does not run
// again, the recv after it waits for its own message.
TEST_F(AdminServerTest, ForkKeepsTheStepsBeforeStartStepAndRunsFromThere) {
  auto h = start_waiter("wait-1");
  rt_->send("wait-1", std::string("first"), "go");
  ASSERT_EQ(h.result_for(10s), "first");
  auto r = post("/workflows/wait-1/fork", R"({"start_step": 2, "workflow_id": "wait-1b"})");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["workflow_id"], "wait-1b");
  EXPECT_EQ(r.body["forked_from"], "wait-1");
  EXPECT_EQ(r.body["start_step"], 2);
  EXPECT_EQ(r.body["executor_id"], "admin-test");
  rt_->send("wait-1b", std::string("second"), "go");
  EXPECT_EQ(rt_->retrieve<std::string>("wait-1b").result_for(10s), "second");
  auto original = rt_->list_steps("wait-1");
  auto forked = rt_->list_steps("wait-1b");
  ASSERT_GE(forked.size(), 2u);  // the recv's deadline is recorded only when it waited
  EXPECT_EQ(forked[0].started_at_ms, original[0].started_at_ms) << "before_recv was copied, not run again";
  EXPECT_EQ(forked.back().output, Json::array({"second"}));

  auto restarted = post("/workflows/wait-1/restart");
  ASSERT_EQ(restarted.status, 200) << restarted.raw;
  std::string id = restarted.body["workflow_id"];
  EXPECT_NE(id, "wait-1");
  EXPECT_EQ(restarted.body["start_step"], 0);
  EXPECT_TRUE(eventually([&] { return rt_->list_steps(id).size() >= 2; })) << "it runs and waits in recv";
  EXPECT_TRUE(rt_->cancel(id));
}

TEST_F(AdminServerTest, EventsAndTheInboxOfAWorkflow) {
  auto h = start_waiter("wait-1");
  rt_->send("wait-1", std::string("stray"), "elsewhere");
  auto m = get("/workflows/wait-1/messages");
  ASSERT_EQ(m.status, 200) << m.raw;
  ASSERT_EQ(m.body["messages"].size(), 1u) << m.raw;
  EXPECT_EQ(m.body["messages"][0]["topic"], "elsewhere");
  EXPECT_EQ(m.body["messages"][0]["message"], "stray");
  EXPECT_EQ(m.body["messages"][0]["consumed"], false);
  EXPECT_TRUE(m.body["messages"][0]["sender_id"].is_null());
  const int64_t last = m.body["next_after"].get<int64_t>();
  auto after = get("/workflows/wait-1/messages?after=" + std::to_string(last) + "&limit=5");
  ASSERT_EQ(after.status, 200) << after.raw;
  EXPECT_TRUE(after.body["messages"].empty());
  EXPECT_TRUE(after.body["next_after"].is_null());
  expect_error(get("/workflows/wait-1/messages?limit=0"), 400, "invalid_limit");
  expect_error(get("/workflows/wait-1/messages?after=x"), 400, "invalid_after");
  expect_error(get("/workflows/wait-1/messages?topic=a"), 400, "invalid_parameter");
  expect_error(get("/workflows/nope/messages"), 404, "workflow_not_found");
  auto e = get("/workflows/wait-1/events");
  ASSERT_EQ(e.status, 200) << e.raw;
  EXPECT_EQ(e.body, (Json{{"workflow_id", "wait-1"}, {"events", Json::array()}}));
  expect_error(get("/workflows/nope/events"), 404, "workflow_not_found");
  ASSERT_TRUE(rt_->cancel("wait-1"));
}

TEST_F(AdminServerTest, ForkRefusesBadBodiesTakenIdsAndUnknownWorkflows) {
  run_greet("g-1", "ann");
  expect_error(post("/workflows/g-1/fork", "not json"), 400, "invalid_body");
  expect_error(post("/workflows/g-1/fork", "[1]"), 400, "invalid_body");
  expect_error(post("/workflows/g-1/fork", R"({"start_step": -1})"), 400, "invalid_body");
  expect_error(post("/workflows/g-1/fork", R"({"start_step": "2"})"), 400, "invalid_body");
  expect_error(post("/workflows/g-1/fork", R"({"startstep": 2})"), 400, "invalid_body");
  expect_error(post("/workflows/g-1/fork", R"({"workflow_id": 7})"), 400, "invalid_body");
  expect_error(post("/workflows/g-1/fork", R"({"workflow_id": "g-1"})"), 400, "invalid_request");
  expect_error(post("/workflows/g-1/fork", R"({"start_step": 3})"), 400, "invalid_request");  // past step 1 + 1
  expect_error(post("/workflows/g-1/restart", R"({"start_step": 1})"), 400, "invalid_body");
  run_greet("g-2", "bob");
  expect_error(post("/workflows/g-1/fork", R"({"workflow_id": "g-2"})"), 409, "workflow_conflict");
  expect_error(post("/workflows/nope/fork"), 404, "workflow_not_found");
  EXPECT_EQ(rt_->list_workflows().size(), 2u) << "the refusals wrote nothing";
}

TEST_F(AdminServerTest, CancelAWorkflowWaitingInRecvThenResumeItAndFinishItWithASend) {
  auto h = start_waiter("wait-1");
  ASSERT_EQ(get("/workflows/wait-1").body["status"], "PENDING");

  auto c = post("/workflows/wait-1/cancel");
  ASSERT_EQ(c.status, 200) << c.raw;
  EXPECT_EQ(c.body, (Json{{"workflow_id", "wait-1"}, {"cancelled", true}, {"status", "CANCELLED"}}));
  EXPECT_EQ(get("/workflows/wait-1").body["status"], "CANCELLED");
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);

  auto again = post("/workflows/wait-1/cancel");
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body["cancelled"], false);

  auto r = post("/workflows/wait-1/resume");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["resumed"], true);
  EXPECT_EQ(r.body["status"], "PENDING");
  EXPECT_EQ(r.body["executor_id"], "admin-test");
  EXPECT_EQ(get("/workflows/wait-1").body["status"], "PENDING");

  rt_->send("wait-1", std::string("go now"), "go");
  EXPECT_EQ(h.result_for(10s), "go now");
  auto done = get("/workflows/wait-1");
  EXPECT_EQ(done.body["status"], "SUCCESS");
  EXPECT_EQ(done.body["output"], "go now");

  auto resume_done = post("/workflows/wait-1/resume");
  ASSERT_EQ(resume_done.status, 200) << resume_done.raw;
  EXPECT_EQ(resume_done.body["resumed"], false);
  EXPECT_EQ(resume_done.body["status"], "SUCCESS");
}

// Runtime::resume of a workflow whose name is not registered in the server's
// process throws UnknownWorkflowError after flipping the status to PENDING;
// the server answers 409 and leaves the workflow CANCELLED.
TEST_F(AdminServerTest, ResumeOfAWorkflowNotRegisteredHereIs409AndLeavesItCancelled) {
  {
    keel::Runtime other(config_for(dir_, "other-app"));
    auto wf = other.register_workflow("other_waiter", [](keel::Context& ctx) {
      auto m = ctx.recv<int>("t", 60s);
      return m.value_or(-1);
    });
    other.launch();
    auto h = other.start(wf, {.workflow_id = "other-1"});
    ASSERT_TRUE(other.cancel("other-1"));
    EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
  }
  auto r = post("/workflows/other-1/resume");
  expect_error(r, 409, "workflow_not_registered");
  EXPECT_NE(r.body["message"].get<std::string>().find("other_waiter"), std::string::npos) << r.raw;
  auto info = rt_->get_workflow("other-1");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, keel::WorkflowStatus::Cancelled);
  EXPECT_EQ(info->executor_id, "other-app") << "the refusal changed nothing";
}

TEST_F(AdminServerTest, StartThrowsWhenThePortIsTaken) {
  keel::AdminServer second(*rt_, "127.0.0.1", server_->port());
  EXPECT_THROW(second.start(), keel::Error);
  EXPECT_EQ(get("/healthz").status, 200);  // the first one is unaffected

  keel::AdminServer not_local(*rt_, "203.0.113.7", 0);  // TEST-NET-3, not an address of this machine
  EXPECT_THROW(not_local.start(), keel::Error);
  keel::AdminServer bad_port(*rt_, "127.0.0.1", 70000);
  EXPECT_THROW(bad_port.start(), keel::Error);
}

TEST_F(AdminServerTest, StopClosesThePortAndTheServerCanStartAgain) {
  int port = server_->port();
  ASSERT_EQ(get("/healthz").status, 200);
  server_->stop();
  EXPECT_EQ(server_->port(), 0);
  auto after = make_client(port);
  after->set_connection_timeout(1);
  EXPECT_EQ(to_result(after->Get("/healthz")).status, -1);
  server_->stop();  // idempotent

  server_->start();
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(to_result(make_client(server_->port())->Get("/healthz")).status, 200);
  EXPECT_THROW(server_->start(), keel::Error);  // already started
}

TEST_F(AdminServerTest, AnEmptyHostMeansLoopback) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("admin-test-capture", sink));
  keel::AdminServer loopback(*rt_, "", 0);
  loopback.start();
  spdlog::set_default_logger(previous);
  EXPECT_EQ(to_result(make_client(loopback.port())->Get("/healthz")).status, 200);
  std::string expected = "listening on http://127.0.0.1:" + std::to_string(loopback.port());
  bool found = false;
  for (const auto& line : sink->last_formatted()) found = found || line.find(expected) != std::string::npos;
  EXPECT_TRUE(found) << expected;
}

TEST_F(AdminServerTest, ServesConcurrentRequests) {
  run_greet("g-1", "ann");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      auto c = make_client(server_->port());
      c->set_keep_alive(true);
      for (int i = 0; i < 25; ++i) {
        auto r = to_result(c->Get("/workflows/g-1"));
        if (r.status == 200 && r.body["id"] == "g-1") ++ok;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
}

TEST_F(AdminServerTest, LogsEachRequestWithMethodPathStatusAndDuration) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("admin-test-capture", sink);
  logger->set_level(spdlog::level::info);
  // spdlog reads its default logger without a lock: it may only be swapped
  // while no other thread logs through it. Swapping it under the fixture's
  // running server was a data race (TSan: an HTTP worker read the new
  // logger unordered with its construction). So the server that logs here
  // starts after the swap (its threads see the new logger) and is stopped,
  // its threads joined, before the swap back.
  client_.reset();
  server_.reset();
  spdlog::set_default_logger(logger);
  server_ = std::make_unique<keel::AdminServer>(*rt_, "127.0.0.1", 0);
  server_->start();
  client_ = make_client(server_->port());
  get("/healthz");
  get("/workflows/nope");
  client_.reset();
  server_.reset();
  spdlog::set_default_logger(previous);

  auto lines = sink->last_formatted();
  auto has = [&](const std::string& needle) {
    for (const auto& l : lines)
      if (l.find(needle) != std::string::npos && l.find(" ms)") != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("GET /healthz -> 200"));
  EXPECT_TRUE(has("GET /workflows/nope -> 404"));
}

}  // namespace

namespace {

// --- security: the token, binding, cross-site requests -----------------------

class AdminSecurityTest : public AdminServerTest {
 protected:
  void SetUp() override {
    AdminServerTest::SetUp();
    server_.reset();
    server_ = std::make_unique<keel::AdminServer>(*rt_, keel::AdminServerOptions{.token = "s3cret-token"});
    server_->start();
    client_ = make_client(server_->port());
  }
  HttpResult get_with(const std::string& path, const httplib::Headers& headers) {
    return to_result(client_->Get(path, headers));
  }
  HttpResult post_with(const std::string& path, const httplib::Headers& headers) {
    return to_result(client_->Post(path, headers, "", "application/json"));
  }
  const httplib::Headers auth{{"Authorization", "Bearer s3cret-token"}};
};

TEST_F(AdminSecurityTest, WithATokenEveryRouteButHealthzRequiresIt) {
  run_greet("g-1", "ann");
  EXPECT_EQ(get("/healthz").status, 200);
  auto bare = get("/workflows");
  expect_error(bare, 401, "unauthorized");
  bool challenged = false;
  for (const auto& [k, v] : bare.headers) challenged = challenged || (k == "WWW-Authenticate" && v == "Bearer");
  EXPECT_TRUE(challenged) << bare.raw;
  expect_error(get_with("/workflows", {{"Authorization", "Bearer wrong"}}), 401, "unauthorized");
  expect_error(get_with("/workflows", {{"Authorization", "Bearer s3cret-token2"}}), 401, "unauthorized");
  expect_error(get_with("/workflows", {{"Authorization", "s3cret-token"}}), 401, "unauthorized");
  expect_error(get_with("/workflows/g-1", {{"Authorization", "Basic s3cret-token"}}), 401, "unauthorized");
  expect_error(post("/workflows/g-1/fork"), 401, "unauthorized");
  EXPECT_EQ(rt_->list_workflows().size(), 1u) << "the refused fork wrote nothing";
  auto ok = get_with("/workflows/g-1", auth);
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body["id"], "g-1");
  EXPECT_EQ(post_with("/workflows/g-1/cancel", auth).status, 200);
}

TEST_F(AdminSecurityTest, ACrossSiteBrowserRequestMayReadButNotChangeState) {
  auto h = start_waiter("wait-1");
  auto with = [&](httplib::Headers extra) {
    extra.insert(auth.begin(), auth.end());
    return extra;
  };
  expect_error(post_with("/workflows/wait-1/cancel", with({{"Sec-Fetch-Site", "cross-site"}})), 403, "cross_site");
  expect_error(post_with("/workflows/wait-1/cancel", with({{"Sec-Fetch-Site", "same-site"}})), 403, "cross_site");
  expect_error(post_with("/workflows/wait-1/cancel", with({{"Origin", "http://evil.example"}})), 403, "cross_site");
  expect_error(post_with("/workflows/wait-1/cancel", with({{"Origin", "null"}})), 403, "cross_site");
  EXPECT_EQ(rt_->get_workflow("wait-1")->status, keel::WorkflowStatus::Pending) << "nothing was cancelled";
  EXPECT_EQ(get_with("/workflows/wait-1", with({{"Sec-Fetch-Site", "cross-site"}})).status, 200);
  const std::string self = "http://127.0.0.1:" + std::to_string(server_->port());
  auto same = post_with("/workflows/wait-1/cancel", with({{"Origin", self}, {"Sec-Fetch-Site", "same-origin"}}));
  ASSERT_EQ(same.status, 200) << same.raw;
  EXPECT_EQ(same.body["cancelled"], true);
  EXPECT_THROW(h.result_for(10s), keel::WorkflowCancelledError);
}

// Off loopback only with a token; refused before anything is bound.
TEST_F(AdminSecurityTest, AnAddressThatIsNotLoopbackNeedsAToken) {
  for (const char* host : {"0.0.0.0", "10.1.2.3", "192.168.0.1", "example.com"}) {
    keel::AdminServer open(*rt_, keel::AdminServerOptions{.host = host, .port = 0, .token = {}});
    EXPECT_THROW(open.start(), keel::ConfigError) << host;
  }
  keel::AdminServer loopback(*rt_, keel::AdminServerOptions{.host = "127.0.0.2", .port = 0, .token = {}});
  EXPECT_NO_THROW(loopback.start());
  keel::AdminServer local(*rt_, keel::AdminServerOptions{.host = "localhost", .port = 0, .token = {}});
  EXPECT_NO_THROW(local.start());
}

}  // namespace
