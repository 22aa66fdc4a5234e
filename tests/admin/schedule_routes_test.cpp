// The admin server's schedule routes (GET /schedules, POST
// /schedules/:name/pause|resume|trigger|delete) over real HTTP; on SQLite, and on
// PostgreSQL when the postgres part is built (postgres.ScheduleRoutes.*).
#include <gtest/gtest.h>
#include <httplib.h>

#include "keel/admin_server.hpp"
#include "support/runtime_fixture.hpp"
#include "support/schedule_support.hpp"

namespace keel::testing {
namespace {

using namespace std::chrono_literals;

class ScheduleRoutes : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    create_tick_table(*rt);
    auto wf = register_tick_workflow(*rt);
    rt->schedule(wf, {.name = "hourly", .cron = "@hourly", .time_zone = "America/New_York",
                      .missed = MissedTicks::RunLatest});
    (void)rt->launch();
    server = std::make_unique<AdminServer>(*rt, "127.0.0.1", 0);
    server->start();
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
  }
  void TearDown() override {
    client.reset();
    server.reset();
  }
  Json post(const std::string& path, int status) {
    auto r = client->Post(path);
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, status) << r->body;
    return Json::parse(r->body);
  }
  std::unique_ptr<AdminServer> server;
  std::unique_ptr<httplib::Client> client;
};

TEST_F(ScheduleRoutes, ListPauseResumeTrigger) {
  auto r = client->Get("/schedules");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  Json list = Json::parse(r->body).at("schedules");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("name"), "hourly");
  EXPECT_EQ(list[0].at("cron"), "@hourly");
  EXPECT_EQ(list[0].at("time_zone"), "America/New_York");
  EXPECT_EQ(list[0].at("missed"), "run_latest");
  EXPECT_EQ(list[0].at("paused"), false);
  EXPECT_EQ(list[0].at("next_tick_epoch_ms").get<int64_t>() % 3'600'000, 0);

  EXPECT_EQ(post("/schedules/hourly/pause", 200).at("paused"), true);
  EXPECT_TRUE(rt->list_schedules().at(0).paused);
  EXPECT_EQ(post("/schedules/hourly/resume", 200).at("paused"), false);
  EXPECT_FALSE(rt->list_schedules().at(0).paused);

  const std::string id = post("/schedules/hourly/trigger", 200).at("workflow_id");
  EXPECT_EQ(id.rfind("sched:hourly:manual:", 0), 0u) << id;
  EXPECT_GT(rt->retrieve<int64_t>(id).result_for(30s), 0);
}

TEST_F(ScheduleRoutes, DeleteForgetsTheSchedule) {
  EXPECT_EQ(post("/schedules/hourly/delete", 200).at("deleted"), true);
  EXPECT_TRUE(rt->list_schedules().empty());
  EXPECT_EQ(post("/schedules/hourly/delete", 404).at("error"), "schedule_not_found");
}

TEST_F(ScheduleRoutes, UnknownScheduleIs404) {
  for (const char* action : {"pause", "resume", "trigger", "delete"})
    EXPECT_EQ(post(std::string("/schedules/nope/") + action, 404).at("error"), "schedule_not_found");
}

}  // namespace
}  // namespace keel::testing
