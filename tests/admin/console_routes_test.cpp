// The web console's routes of keel::AdminServer over real HTTP: the embedded
// files (content types, the security headers, byte for byte the files of
// src/admin/console/), the token rules (the files load without it, data
// routes still need it), the cross-site rule for the page's own requests,
// and GET /executors and GET /queues. On SQLite, and again on PostgreSQL
// (postgres.AdminConsole.*) with KEEL_TEST_DATABASE_URL set.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "keel/admin_server.hpp"
#include "keel/keel.hpp"
#include "support/runtime_fixture.hpp"
#include "support/sample_workflows.hpp"

using namespace std::chrono_literals;
using keel::Json;

namespace {

constexpr const char* kToken = "s3cret-console-token";
constexpr const char* kQueue = "one_at_a_time";

std::string read_source(const std::string& name) {
  std::ifstream in(std::string(KEEL_CONSOLE_SOURCE_DIR) + "/" + name, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class AdminConsole : public keel::testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    wf = std::make_unique<keel::testing::SampleWorkflows>(*rt);
    rt->register_queue({.name = kQueue, .concurrency = 1, .worker_concurrency = {}, .rate_limit = keel::RateLimit{5, 2s}});
    rt->launch();
  }
  void TearDown() override {
    client.reset();
    server.reset();
  }

  httplib::Client& serve(keel::AdminServerOptions options = {}) {
    server = std::make_unique<keel::AdminServer>(*rt, std::move(options));
    server->start();
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_read_timeout(30);
    return *client;
  }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(server->port()); }

  std::unique_ptr<keel::testing::SampleWorkflows> wf;
  std::unique_ptr<keel::AdminServer> server;
  std::unique_ptr<httplib::Client> client;
};

void expect_security_headers(const httplib::Result& r) {
  ASSERT_TRUE(r);
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST_F(AdminConsole, ThePageIsServedAtTheRootAsHtmlWithTheSecurityHeaders) {
  auto& c = serve();
  auto r = c.Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  expect_security_headers(r);
  EXPECT_NE(r->body.find("<title>Keel console</title>"), std::string::npos);
  // Every script is a file of this origin: the CSP forbids inline scripts,
  // and an inline one would be a console error in the browser.
  std::regex script("<script([^>]*)>");
  int scripts = 0;
  for (auto it = std::sregex_iterator(r->body.begin(), r->body.end(), script); it != std::sregex_iterator(); ++it) {
    ++scripts;
    EXPECT_NE((*it)[1].str().find("src=\"/console/"), std::string::npos) << it->str();
  }
  EXPECT_GE(scripts, 1);
  EXPECT_EQ(r->body.find("http://"), std::string::npos) << "nothing is loaded from outside";
  EXPECT_EQ(r->body.find("https://"), std::string::npos) << "nothing is loaded from outside";
}

TEST_F(AdminConsole, EachFileIsTheSourceFileWithItsContentType) {
  auto& c = serve();
  const std::pair<const char*, const char*> files[] = {
      {"index.html", "text/html; charset=utf-8"},       {"app.css", "text/css; charset=utf-8"},
      {"core.js", "text/javascript; charset=utf-8"},    {"workflows.js", "text/javascript; charset=utf-8"},
      {"workflow.js", "text/javascript; charset=utf-8"}, {"system.js", "text/javascript; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"},     {"favicon.svg", "image/svg+xml"}};
  for (const auto& [name, type] : files) {
    std::string path = std::string(name) == "index.html" ? "/" : std::string("/console/") + name;
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), type) << path;
    expect_security_headers(r);
    std::string source = read_source(name);
    ASSERT_FALSE(source.empty()) << name;
    EXPECT_EQ(r->body, source) << path << " is not the file compiled in";
  }
  auto missing = c.Get("/console/nothing.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->get_header_value("Content-Type"), "application/json");
  auto post = c.Post("/", "", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST_F(AdminConsole, JsonAnswersCarryTheSecurityHeadersToo) {
  auto& c = serve();
  auto r = c.Get("/workflows");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  expect_security_headers(r);
}

TEST_F(AdminConsole, WithATokenTheFilesLoadWithoutItAndEveryDataRouteNeedsIt) {
  auto& c = serve({.host = "127.0.0.1", .port = 0, .token = kToken});
  for (const char* path : {"/", "/console/app.js", "/console/app.css", "/console/core.js", "/console/favicon.svg"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
  }
  auto h = rt->start(wf->greet, {.workflow_id = "tok-1"}, std::string("ann"));
  EXPECT_EQ(h.result_for(10s), "hello ann");
  for (const char* path : {"/workflows", "/workflows/tok-1", "/workflows/tok-1/steps", "/executors", "/queues",
                           "/metrics", "/console/nothing.js", "/%63onsole/app.js", "/console", "/console/"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer") << path;
  }
  // Open for reads only: a POST to a file's path needs the token like any.
  auto post = c.Post("/", "", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 401);
  auto cancel = c.Post("/workflows/tok-1/cancel", "", "application/json");
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->status, 401);
  httplib::Headers auth{{"Authorization", std::string("Bearer ") + kToken}};
  for (const char* path : {"/workflows", "/workflows/tok-1/steps", "/executors", "/queues"}) {
    auto r = c.Get(path, auth);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
  }
  auto wrong = c.Get("/workflows", httplib::Headers{{"Authorization", "Bearer wrong"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
}

// What Chromium sends with the console's own fetch(): Sec-Fetch-Site
// same-origin and an Origin naming the Host.
TEST_F(AdminConsole, ThePagesOwnSameOriginRequestsMayChangeStateOthersMayNot) {
  auto& c = serve();
  auto h = rt->start(wf->waiter, {.workflow_id = "same-origin-1"});
  ASSERT_TRUE(keel::testing::eventually([&] { return !rt->list_steps("same-origin-1").empty(); }));
  httplib::Headers from_other_site{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "http://evil.example"}};
  auto refused = c.Post("/workflows/same-origin-1/cancel", from_other_site, "", "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403) << refused->body;
  httplib::Headers same{{"Sec-Fetch-Site", "same-origin"}, {"Origin", origin()}};
  auto r = c.Post("/workflows/same-origin-1/cancel", same, "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(rt->get_workflow("same-origin-1")->status, keel::WorkflowStatus::Cancelled);
}

TEST_F(AdminConsole, ExecutorsListsThisExecutorLiveWithTheWorkflowsItHolds) {
  auto& c = serve();
  auto h = rt->start(wf->waiter, {.workflow_id = "held-1"});
  ASSERT_TRUE(keel::testing::eventually([&] { return !rt->list_steps("held-1").empty(); }));
  auto r = c.Get("/executors");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  Json body = Json::parse(r->body);
  EXPECT_EQ(body["lease_timeout_ms"], rt->config().lease_timeout.count());
  ASSERT_EQ(body["executors"].size(), 1u) << r->body;
  const Json& e = body["executors"][0];
  EXPECT_EQ(e["executor_id"], rt->config().executor_id);
  EXPECT_EQ(e["state"], "live");
  EXPECT_EQ(e["application_version"], rt->config().application_version);
  EXPECT_EQ(e["workflows_held"], 1);
  EXPECT_TRUE(e["heartbeat_age_ms"].is_number_integer());
  EXPECT_GE(e["lease_age_ms"].get<int64_t>(), 0);
  EXPECT_FALSE(e["holder"].get<std::string>().empty());
}

TEST_F(AdminConsole, QueuesShowDepthRunningAndLimits) {
  auto& c = serve();
  std::vector<keel::Handle<std::string>> handles;
  for (int i = 0; i < 3; ++i)
    handles.push_back(rt->enqueue(wf->waiter, kQueue, {.workflow_id = "q-" + std::to_string(i)}));
  // Concurrency 1: one dequeued and waiting in recv, two still ENQUEUED.
  Json q;
  ASSERT_TRUE(keel::testing::eventually([&] {
    auto r = c.Get("/queues");
    if (!r || r->status != 200) return false;
    q = Json::parse(r->body)["queues"];
    return q.size() == 1 && q[0]["running"] == 1 && q[0]["enqueued"] == 2;
  })) << q.dump();
  EXPECT_EQ(q[0]["name"], kQueue);
  EXPECT_EQ(q[0]["concurrency"], 1);
  EXPECT_TRUE(q[0]["worker_concurrency"].is_null());
  EXPECT_EQ(q[0]["rate_limit"], (Json{{"limit", 5}, {"period_ms", 2000}}));
  EXPECT_EQ(q[0]["priority_enabled"], false);
  EXPECT_EQ(q[0]["partitioned"], false);
}

}  // namespace
