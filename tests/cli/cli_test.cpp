// The `keel` command, run as a subprocess against a database that a Runtime
// in this test process creates and keeps using: inspection, cancel, resume,
// fork, migrate, usage errors. (Finding, bulk operations and tables:
// cli_find_test.cpp.)
#include "cli_fixture.hpp"
#include "support/schedule_support.hpp"

using namespace keel_cli_testing;

namespace {

TEST_F(CliTest, ListPrintsTheWorkflowsAsJson) {
  auto r = keel_cli(with_db({"workflow", "list"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(ids_of(stdout_json(r)), (std::set<std::string>{"g-1", "g-2", "f-1"}));
}

TEST_F(CliTest, ListShowsTheQueueOfAnEnqueuedWorkflow) {
  // A queue no process registers: the workflow stays ENQUEUED.
  (void)keel::Client(keel::ClientConfig{.database_url = db_url()}).enqueue("later", "greet", {.workflow_id = "q-1"}, "cy");
  auto r = keel_cli(with_db({"workflow", "list", "--status", "enqueued"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  Json list = stdout_json(r).at("workflows");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("id"), "q-1");
  EXPECT_EQ(list[0].at("queue_name"), "later");
  auto g = keel_cli(with_db({"workflow", "get", "g-1"}));
  EXPECT_TRUE(stdout_json(g).at("queue_name").is_null());
}

TEST_F(CliTest, ListFiltersByStatusNameAndLimit) {
  auto errors = keel_cli(with_db({"workflow", "list", "--status", "error"}));
  ASSERT_EQ(errors.exit_code, 0) << describe(errors);
  EXPECT_EQ(ids_of(stdout_json(errors)), (std::set<std::string>{"f-1"}));

  auto greets = keel_cli(with_db({"workflow", "list", "--name", "greet"}));
  ASSERT_EQ(greets.exit_code, 0) << describe(greets);
  EXPECT_EQ(ids_of(stdout_json(greets)), (std::set<std::string>{"g-1", "g-2"}));

  auto one = keel_cli(with_db({"workflow", "list", "--limit", "1"}));
  ASSERT_EQ(one.exit_code, 0) << describe(one);
  EXPECT_EQ(stdout_json(one)["workflows"].size(), 1u);
}

// Versions (docs/upgrades.md): an operator finds each version's runs, and
// those released for an executor of their version (executor "").
TEST_F(CliTest, ListFiltersByApplicationVersionAndExecutor) {
  start_waiter("w");
  keel::ClientConfig pinned{.database_url = db_url(), .application_version = "v1"};
  (void)keel::Client(pinned).enqueue("later", "greet", {.workflow_id = "q-v1"}, "cy");
  auto v1 = keel_cli(with_db({"workflow", "list", "--version", "v1"}));
  ASSERT_EQ(v1.exit_code, 0) << describe(v1);
  EXPECT_EQ(ids_of(stdout_json(v1)), (std::set<std::string>{"q-v1"}));
  auto mine = keel_cli(with_db({"workflow", "list", "--status", "pending", "--executor", "cli-test"}));
  ASSERT_EQ(mine.exit_code, 0) << describe(mine);
  EXPECT_EQ(ids_of(stdout_json(mine)), (std::set<std::string>{"w"}));
  auto released = keel_cli(with_db({"workflow", "list", "--executor", ""}));
  ASSERT_EQ(released.exit_code, 0) << describe(released);
  EXPECT_EQ(ids_of(stdout_json(released)), (std::set<std::string>{})) << "nothing is waiting for its version";
  EXPECT_EQ(rt_->get_workflow("w")->executor_id, "cli-test") << "the CLI claims nothing";
}

TEST_F(CliTest, ExecutorsListShowsTheLeasesAndTheCliHoldsNone) {
  auto r = keel_cli(with_db({"executors", "list"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  Json list = stdout_json(r);
  ASSERT_EQ(list.size(), 1u) << list;  // the test's runtime; the CLI takes no lease
  EXPECT_EQ(list[0]["executor_id"], "cli-test");
  EXPECT_GT(list[0]["heartbeat_at_ms"].get<int64_t>(), 0);
  EXPECT_NE(list[0]["holder"].get<std::string>().find(':'), std::string::npos);
}

TEST_F(CliTest, GetPrintsTheWorkflow) {
  auto r = keel_cli(with_db({"workflow", "get", "g-1"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  Json j = stdout_json(r);
  EXPECT_EQ(j["id"], "g-1");
  EXPECT_EQ(j["name"], "greet");
  EXPECT_EQ(j["status"], "SUCCESS");
  EXPECT_EQ(j["inputs"], Json::array({"ann"}));
  EXPECT_EQ(j["output"], "hello ann");
  EXPECT_EQ(j["executor_id"], "cli-test");

  auto f = keel_cli(with_db({"workflow", "get", "f-1"}));
  ASSERT_EQ(f.exit_code, 0) << describe(f);
  Json fj = stdout_json(f);
  EXPECT_EQ(fj["status"], "ERROR");
  EXPECT_NE(fj["error"]["message"].get<std::string>().find("boom in step"), std::string::npos) << describe(f);
}

TEST_F(CliTest, UnknownWorkflowIdExitsWith2AndSaysSo) {
  for (const char* cmd : {"get", "steps", "cancel", "resume"}) {
    auto r = keel_cli(with_db({"workflow", cmd, "nope"}));
    EXPECT_EQ(r.exit_code, kNotFound) << cmd << ": " << describe(r);
    EXPECT_TRUE(r.out.empty()) << cmd << ": " << describe(r);
    EXPECT_NE(r.err.find("no workflow with ID 'nope'"), std::string::npos) << cmd << ": " << describe(r);
  }
}

TEST_F(CliTest, StepsPrintsTheRecordedSteps) {
  auto r = keel_cli(with_db({"workflow", "steps", "g-1"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  Json j = stdout_json(r);
  EXPECT_EQ(j["workflow_id"], "g-1");
  ASSERT_EQ(j["steps"].size(), 1u) << describe(r);
  EXPECT_EQ(j["steps"][0]["name"], "make_greeting");
  EXPECT_EQ(j["steps"][0]["kind"], "step");
  EXPECT_EQ(j["steps"][0]["output"], "hello ann");
}

TEST_F(CliTest, CancelMarksAWaitingWorkflowCancelled) {
  start_waiter("wait-1");
  auto r = keel_cli(with_db({"workflow", "cancel", "wait-1"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(stdout_json(r), (Json{{"workflow_id", "wait-1"}, {"cancelled", true}, {"status", "CANCELLED"}}));
  EXPECT_EQ(rt_->get_workflow("wait-1")->status, keel::WorkflowStatus::Cancelled);

  auto done = keel_cli(with_db({"workflow", "cancel", "g-1"}));
  ASSERT_EQ(done.exit_code, 0) << describe(done);
  EXPECT_EQ(stdout_json(done), (Json{{"workflow_id", "g-1"}, {"cancelled", false}, {"status", "SUCCESS"}}));
}

// The command runs no workflow code: it releases the workflow (PENDING under
// no executor) and the application's executor of its version claims it at
// its next heartbeat and runs it from its checkpoints.
TEST_F(CliTest, ResumeReleasesTheWorkflowForAnExecutorOfItsVersion) {
  start_waiter("wait-1");
  ASSERT_TRUE(rt_->cancel("wait-1"));
  auto r = keel_cli(with_db({"workflow", "resume", "wait-1"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(stdout_json(r),
            (Json{{"workflow_id", "wait-1"}, {"resumed", true}, {"status", "PENDING"}, {"executor_id", ""}}));
  ASSERT_TRUE(eventually([&] { return rt_->get_workflow("wait-1")->executor_id == "cli-test"; }, 10s));
  rt_->send("wait-1", std::string("now"), "go");
  EXPECT_EQ(rt_->retrieve<std::string>("wait-1").result_for(10s), "now");
  EXPECT_EQ(rt_->list_steps("wait-1").size(), 3u) << "before_recv ran once: the deadline and the recv follow";

  auto finished = keel_cli(with_db({"workflow", "resume", "g-1"}));
  ASSERT_EQ(finished.exit_code, 0) << describe(finished);
  EXPECT_EQ(stdout_json(finished),
            (Json{{"workflow_id", "g-1"}, {"resumed", false}, {"status", "SUCCESS"}, {"executor_id", "cli-test"}}));
}

TEST_F(CliTest, EventsAndMessagesOfAWorkflow) {
  start_waiter("wait-1");
  rt_->send("wait-1", std::string("a"), "elsewhere");
  rt_->send("wait-1", std::string("b"), "elsewhere");
  auto r = keel_cli(with_db({"workflow", "messages", "wait-1", "--limit", "1"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  Json page = stdout_json(r);
  ASSERT_EQ(page["messages"].size(), 1u) << describe(r);
  EXPECT_EQ(page["messages"][0]["message"], "a");
  auto next = keel_cli(with_db({"workflow", "messages", "wait-1", "--after",
                                std::to_string(page["next_after"].get<int64_t>())}));
  ASSERT_EQ(next.exit_code, 0) << describe(next);
  EXPECT_EQ(stdout_json(next)["messages"][0]["message"], "b");
  auto events = keel_cli(with_db({"workflow", "events", "wait-1"}));
  ASSERT_EQ(events.exit_code, 0) << describe(events);
  EXPECT_TRUE(stdout_json(events)["events"].empty());
  EXPECT_EQ(keel_cli(with_db({"workflow", "events", "nope"})).exit_code, kNotFound);
  EXPECT_EQ(keel_cli(with_db({"workflow", "messages", "wait-1", "--limit", "0"})).exit_code, kUsage);
  ASSERT_TRUE(rt_->cancel("wait-1"));
}

// A fork keeps the records before --start-step; the application's executor
// claims it and replays them (the step does not run again).
TEST_F(CliTest, ForkAndRestartMakeNewWorkflowsThatTheApplicationRuns) {
  auto r = keel_cli(with_db({"workflow", "fork", "g-1", "--start-step", "2", "--new-id", "g-1-fork"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  Json j = stdout_json(r);
  EXPECT_EQ(j["workflow_id"], "g-1-fork");
  EXPECT_EQ(j["forked_from"], "g-1");
  EXPECT_EQ(j["start_step"], 2);
  EXPECT_EQ(j["status"], "PENDING");
  EXPECT_EQ(j["executor_id"], "");
  EXPECT_EQ(j["application_version"], "0");
  EXPECT_EQ(rt_->retrieve<std::string>("g-1-fork").result_for(10s), "hello ann");
  auto steps = rt_->list_steps("g-1-fork");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].started_at_ms, rt_->list_steps("g-1")[0].started_at_ms) << "copied, not run again";

  auto again = keel_cli(with_db({"workflow", "restart", "g-2"}));
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  std::string id = stdout_json(again)["workflow_id"];
  EXPECT_NE(id, "g-2");
  EXPECT_EQ(rt_->retrieve<std::string>(id).result_for(10s), "hello bob");
  EXPECT_GT(rt_->list_steps(id)[0].started_at_ms, rt_->list_steps("g-2")[0].started_at_ms) << "run again";

  auto taken = keel_cli(with_db({"workflow", "fork", "g-2", "--new-id", "g-1"}));
  EXPECT_EQ(taken.exit_code, kConflict) << describe(taken);
  EXPECT_NE(taken.err.find("exists"), std::string::npos) << describe(taken);
  auto unknown = keel_cli(with_db({"workflow", "fork", "nope"}));
  EXPECT_EQ(unknown.exit_code, kNotFound) << describe(unknown);
  auto negative = keel_cli(with_db({"workflow", "fork", "g-2", "--start-step", "-1"}));
  EXPECT_EQ(negative.exit_code, kUsage) << describe(negative);
  EXPECT_EQ(rt_->list_workflows().size(), 5u) << "g-1, g-2, f-1 and the two forks; the refusals wrote nothing";
}

TEST_F(CliTest, MigrateCreatesADatabaseAndIsIdempotent) {
  std::string url = dir_.db_url("fresh.db");
  auto first = keel_cli({"migrate", "--db", url});
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_EQ(stdout_json(first)["migrated"], true);
  EXPECT_TRUE(std::filesystem::exists(dir_.file("fresh.db")));

  auto second = keel_cli({"migrate", "--db", url});
  ASSERT_EQ(second.exit_code, 0) << describe(second);

  auto list = keel_cli({"workflow", "list", "--db", url});
  ASSERT_EQ(list.exit_code, 0) << describe(list);
  EXPECT_EQ(stdout_json(list), (Json{{"workflows", Json::array()}, {"next_cursor", nullptr}, {"total", nullptr}}));
}

TEST_F(CliTest, OnlyMigrateCreatesADatabase) {
  std::string path = dir_.file("missing.db");
  auto r = keel_cli({"workflow", "list", "--db", "sqlite:" + path});
  EXPECT_EQ(r.exit_code, kDatabase) << describe(r);
  EXPECT_TRUE(r.out.empty()) << describe(r);
  EXPECT_NE(r.err.find("no database at '" + path + "'"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("keel migrate"), std::string::npos) << describe(r);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(CliTest, AFileThatIsNotADatabaseFailsWithAMessage) {
  std::string path = dir_.file("notes.txt");
  const std::string text = "these are notes, not a database\n";
  std::ofstream(path) << text;
  for (const char* cmd : {"list", "get"}) {
    std::vector<std::string> args{"workflow", cmd};
    if (std::string(cmd) == "get") args.push_back("g-1");
    args.insert(args.end(), {"--db", "sqlite:" + path});
    auto r = keel_cli(args);
    EXPECT_EQ(r.exit_code, kDatabase) << describe(r);
    EXPECT_TRUE(r.out.empty()) << describe(r);
    EXPECT_NE(r.err.find(path), std::string::npos) << describe(r);
    EXPECT_NE(r.err.find("not a database"), std::string::npos) << describe(r);
  }
  auto m = keel_cli({"migrate", "--db", "sqlite:" + path});
  EXPECT_EQ(m.exit_code, kDatabase) << describe(m);
  EXPECT_EQ(read_file(path), text);
}

TEST_F(CliTest, UsageErrorsExitWith64) {
  auto check = [](const std::vector<std::string>& args, const std::string& needle) {
    auto r = keel_cli(args);
    EXPECT_EQ(r.exit_code, kUsage) << describe(r);
    EXPECT_NE(r.err.find(needle), std::string::npos) << describe(r);
  };
  check({}, "subcommand");
  check({"frobnicate"}, "frobnicate");
  check({"workflow"}, "subcommand");
  check({"workflow", "get", "--db", "sqlite:x.db"}, "id");
  check({"workflow", "list"}, "--db");
  check({"workflow", "list", "--limit", "0", "--db", "sqlite:x.db"}, "--limit");
  check({"workflow", "list", "--limit", "many", "--db", "sqlite:x.db"}, "--limit");
  check({"workflow", "list", "--status", "RUNNING", "--db", "sqlite:x.db"}, "RUNNING");
  check({"workflow", "list", "--db", "mysql://localhost/keel"}, "unknown scheme");
}

TEST_F(CliTest, DatabaseUrlMayComeFromTheEnvironment) {
  auto r = keel_cli({"workflow", "get", "g-2"}, {{"KEEL_DATABASE_URL", db_url()}});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(stdout_json(r)["id"], "g-2");
}

TEST_F(CliTest, HelpListsTheCommands) {
  auto r = keel_cli({"--help"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("migrate"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("workflow"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("schedule"), std::string::npos) << describe(r);
  auto w = keel_cli({"workflow", "--help"});
  ASSERT_EQ(w.exit_code, 0) << describe(w);
  for (const char* sub : {"list", "get", "steps", "cancel", "resume"})
    EXPECT_NE(w.out.find(sub), std::string::npos) << sub << ": " << describe(w);
}


// ---- Finding workflows: each filter flag, order, pages, count ----

// Every workflow's status, to show that a refused or dry-run command
}  // namespace

TEST_F(CliTest, ScheduleListPauseResumeAndDelete) {
  const std::string url = keel::testing::named_test_db_url(dir_, "sched");
  {
    keel::RuntimeConfig c;
    c.database_url = url;
    c.executor_id = "sched-test";
    keel::Runtime rt(c);
    keel::testing::create_tick_table(rt);
    rt.schedule(keel::testing::register_tick_workflow(rt), {.name = "daily", .cron = "@daily"});
    rt.launch();
  }
  auto list = [&] {
    auto r = keel_cli({"schedule", "list", "--db", url});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return stdout_json(r).at("schedules");
  };
  ASSERT_EQ(list().size(), 1u);
  EXPECT_EQ(list()[0]["name"], "daily");
  EXPECT_EQ(list()[0]["paused"], false);
  auto r = keel_cli({"schedule", "pause", "daily", "--db", url});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(list()[0]["paused"], true);
  r = keel_cli({"schedule", "resume", "daily", "--db", url});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(list()[0]["paused"], false);
  r = keel_cli({"schedule", "pause", "nope", "--db", url});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << describe(r);
  r = keel_cli({"schedule", "delete", "daily", "--db", url});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(list().empty());
  r = keel_cli({"schedule", "delete", "daily", "--db", url});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
}
