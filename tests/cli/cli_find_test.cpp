// The `keel` command finding workflows (each filter flag, order, cursor
// pages, count), bulk cancel/resume/delete with their dry runs, delete, and
// the tables it prints on a terminal.
#include "cli_fixture.hpp"

using namespace keel_cli_testing;

namespace {

std::map<std::string, std::string> statuses(keel::Runtime& rt) {
  keel::ListWorkflowsQuery q;
  q.limit = keel::kMaxListLimit;
  std::map<std::string, std::string> out;
  for (const auto& w : rt.list_workflows(q)) out[w.id] = keel::to_string(w.status);
  return out;
}

// The IDs of a list, in its order.
std::vector<std::string> ids_in_order(const Json& list) {
  std::vector<std::string> ids;
  for (const auto& w : list.at("workflows")) ids.push_back(w.at("id").get<std::string>());
  return ids;
}

// Epoch milliseconds of the system clock, the clock Keel records times by.
int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The milliseconds RFC 3339 form `--created-after` takes: "...T04:00:00.123Z".
std::string rfc3339(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

class CliFindTest : public CliTest {
 protected:
  // Besides g-1, g-2 and f-1 (SUCCESS, SUCCESS, ERROR): later, a waiter
  // (PENDING), a parent and its child (SUCCESS), and a v1 workflow in a
  // queue no one serves (ENQUEUED).
  void SetUp() override {
    CliTest::SetUp();
    std::this_thread::sleep_for(5ms);  // the later ones are created at a later millisecond
    start_waiter("w-1");
    EXPECT_EQ(rt_->start(keel::Workflow<std::string, std::string>("parent"), {.workflow_id = "p-1"}, "kid")
                  .result_for(10s),
              "hello kid");
    keel::ClientConfig v1{.database_url = db_url(), .application_version = "v1"};
    (void)keel::Client(v1).enqueue("later", "greet", {.workflow_id = "q-1"}, "cy");
    later_ = rt_->get_workflow("w-1")->created_at_ms;
    for (const auto& w : rt_->list_workflows())
      if (w.parent_id == "p-1") child_ = w.id;
    ASSERT_FALSE(child_.empty());
  }

  void TearDown() override {
    (void)rt_->cancel("w-1");
    CliTest::TearDown();
  }

  // The IDs `keel workflow list FILTER` prints.
  std::set<std::string> found(std::vector<std::string> filter) {
    std::vector<std::string> args{"workflow", "list"};
    args.insert(args.end(), filter.begin(), filter.end());
    auto r = keel_cli(with_db(args));
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.exit_code == 0 ? ids_of(stdout_json(r)) : std::set<std::string>{};
  }

  std::set<std::string> all() { return {"g-1", "g-2", "f-1", "w-1", "p-1", child_, "q-1"}; }

  int64_t later_ = 0;  // when w-1, the first of the later ones, was created
  std::string child_;
};

TEST_F(CliFindTest, EachFilterFlagNarrowsTheList) {
  using Ids = std::set<std::string>;
  EXPECT_EQ(found({}), all());
  EXPECT_EQ(found({"--status", "pending"}), Ids{"w-1"});
  EXPECT_EQ(found({"--status", "ERROR,enqueued"}), (Ids{"f-1", "q-1"}));
  EXPECT_EQ(found({"--name", "failing"}), Ids{"f-1"});
  EXPECT_EQ(found({"--id-prefix", "g-"}), (Ids{"g-1", "g-2"}));
  EXPECT_EQ(found({"--queue", "later"}), Ids{"q-1"});
  EXPECT_EQ(found({"--version", "v1"}), Ids{"q-1"});
  EXPECT_EQ(found({"--executor", "cli-test", "--status", "pending"}), Ids{"w-1"});
  EXPECT_EQ(found({"--parent", "p-1"}), Ids{child_});
  EXPECT_EQ(found({"--name", "greet", "--parent", "p-1"}), Ids{child_}) << "filters AND";

  // Times: epoch ms, RFC 3339, a duration ago.
  const Ids early{"g-1", "g-2", "f-1"};
  EXPECT_EQ(found({"--created-before", std::to_string(later_)}), early);
  EXPECT_EQ(found({"--created-after", std::to_string(later_), "--name", "greet"}), (Ids{child_, "q-1"}));
  EXPECT_EQ(found({"--created-before", rfc3339(later_)}), early);
  EXPECT_EQ(found({"--created-after", "1h"}), all());
  EXPECT_EQ(found({"--created-before", "1h"}), Ids{});

  std::this_thread::sleep_for(5ms);
  int64_t before_cancel = wall_ms();
  ASSERT_TRUE(rt_->cancel("w-1"));
  EXPECT_EQ(found({"--updated-after", std::to_string(before_cancel)}), Ids{"w-1"});
  Ids rest = all();
  rest.erase("w-1");
  EXPECT_EQ(found({"--updated-before", std::to_string(before_cancel)}), rest);
}

TEST_F(CliFindTest, OrderIsByCreationEitherWay) {
  auto newest = keel_cli(with_db({"workflow", "list"}));
  auto oldest = keel_cli(with_db({"workflow", "list", "--order", "oldest"}));
  ASSERT_EQ(newest.exit_code, 0) << describe(newest);
  ASSERT_EQ(oldest.exit_code, 0) << describe(oldest);
  auto n = ids_in_order(stdout_json(newest)), o = ids_in_order(stdout_json(oldest));
  EXPECT_EQ(n.front(), "q-1") << "the last created";
  EXPECT_EQ(n, ids_in_order(stdout_json(keel_cli(with_db({"workflow", "list", "--order", "newest"})))));
  std::reverse(o.begin(), o.end());
  EXPECT_EQ(n, o);
}

// Pages of 2 walk every workflow once, in both orders; each page but the
// last says where the next begins, on stdout and as a hint on stderr.
TEST_F(CliFindTest, LimitAndCursorPageThroughEverything) {
  for (const char* order : {"newest", "oldest"}) {
    std::vector<std::string> walked;
    std::string cursor;
    for (int page = 0; page < 10; ++page) {
      std::vector<std::string> args{"workflow", "list", "--limit", "2", "--order", order};
      if (!cursor.empty()) args.insert(args.end(), {"--cursor", cursor});
      auto r = keel_cli(with_db(args));
      ASSERT_EQ(r.exit_code, 0) << describe(r);
      Json j = stdout_json(r);
      auto ids = ids_in_order(j);
      EXPECT_LE(ids.size(), 2u);
      walked.insert(walked.end(), ids.begin(), ids.end());
      if (j.at("next_cursor").is_null()) {
        EXPECT_TRUE(r.err.empty()) << describe(r);
        break;
      }
      cursor = j.at("next_cursor").get<std::string>();
      EXPECT_EQ(r.err, "keel: more: --cursor " + cursor + "\n");
    }
    auto whole = keel_cli(with_db({"workflow", "list", "--order", order}));
    EXPECT_EQ(walked, ids_in_order(stdout_json(whole))) << order << ": no duplicates, none missed";
    EXPECT_EQ(walked.size(), all().size()) << order;
  }
}

TEST_F(CliFindTest, CountGivesTheTotalOfEveryMatch) {
  auto r = keel_cli(with_db({"workflow", "list", "--name", "greet", "--limit", "1", "--count"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  Json j = stdout_json(r);
  EXPECT_EQ(j.at("workflows").size(), 1u);
  EXPECT_EQ(j.at("total"), 4) << "g-1, g-2, the child, q-1";
  auto uncounted = keel_cli(with_db({"workflow", "list"}));
  EXPECT_TRUE(stdout_json(uncounted).at("total").is_null());
}

// Bad input: exit 64, nothing on stdout, one line on stderr that names the
// flag, and no workflow changed.
TEST_F(CliFindTest, BadInputIsRefusedWithOneLineAndChangesNothing) {
  const auto before = statuses(*rt_);
  auto refused = [&](std::vector<std::string> args, const std::string& needle) {
    auto r = keel_cli(with_db(args));
    EXPECT_EQ(r.exit_code, kUsage) << describe(r);
    EXPECT_TRUE(r.out.empty()) << describe(r);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << describe(r);
    EXPECT_EQ(r.err.rfind("keel: ", 0), 0u) << describe(r);
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "': " << describe(r);
  };
  refused({"workflow", "list", "--status", "RUNNING"}, "--status 'RUNNING' is not one of ENQUEUED, PENDING");
  refused({"workflow", "list", "--created-after", "yesterday"}, "--created-after 'yesterday' is not a time");
  refused({"workflow", "list", "--updated-before", "2026-13-01T00:00:00Z"}, "--updated-before");
  refused({"workflow", "list", "--cursor", "bogus"}, "cursor 'bogus'");
  refused({"workflow", "list", "--limit", "0"}, "--limit '0' is not an integer from 1 to");
  refused({"workflow", "list", "--order", "sideways"}, "--order 'sideways' is not newest or oldest");
  refused({"workflow", "list", "--name", ""}, "--name must not be empty");
  refused({"workflow", "list", "--queue", ""}, "--queue must not be empty");
  for (const char* verb : {"cancel", "resume", "delete"}) {
    refused({"workflow", verb, "g-1", "--status", "SUCCESS"}, "give a workflow ID or a filter, not both");
    refused({"workflow", verb}, "give a workflow ID, or a filter");
    refused({"workflow", verb, "--status", "RUNNING", "--yes"}, "--status 'RUNNING'");
    refused({"workflow", verb, "--created-before", "soon", "--yes"}, "--created-before 'soon' is not a time");
  }
  refused({"workflow", "delete", "--finished-before", "often", "--yes"}, "--finished-before 'often' is not a time");
  refused({"workflow", "delete", "--finished-before", "1h", "--updated-before", "2h", "--yes"},
          "give --updated-before or --finished-before, not both");
  refused({"workflow", "delete", "--status", "PENDING", "--yes"}, "delete acts on finished workflows only");
  EXPECT_EQ(statuses(*rt_), before);
}

// ---- Bulk operations ----

TEST_F(CliFindTest, BulkCancelCountsFirstThenCancelsExactlyTheMatches) {
  start_waiter("w-2");
  start_waiter("x-1");
  const auto before = statuses(*rt_);
  auto dry = keel_cli(with_db({"workflow", "cancel", "--name", "waiter", "--id-prefix", "w-"}));
  ASSERT_EQ(dry.exit_code, 0) << describe(dry);
  EXPECT_EQ(stdout_json(dry),
            (Json{{"dry_run", true}, {"matched", 2}, {"changed", 0}, {"failed", 0}, {"failures", Json::array()}}));
  EXPECT_NE(dry.err.find("2 workflow(s) match; run again with --yes to cancel them"), std::string::npos)
      << describe(dry);
  EXPECT_EQ(statuses(*rt_), before) << "a dry run changes nothing";

  auto r = keel_cli(with_db({"workflow", "cancel", "--name", "waiter", "--id-prefix", "w-", "--yes"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(stdout_json(r),
            (Json{{"dry_run", false}, {"matched", 2}, {"changed", 2}, {"failed", 0}, {"failures", Json::array()}}));
  EXPECT_TRUE(r.err.empty()) << "no progress line when stderr is no terminal: " << describe(r);
  auto after = statuses(*rt_);
  EXPECT_EQ(after["w-1"], "CANCELLED");
  EXPECT_EQ(after["w-2"], "CANCELLED");
  EXPECT_EQ(after["x-1"], "PENDING") << "not a match";
  after["w-1"] = after["w-2"] = "PENDING";
  EXPECT_EQ(after, before) << "nothing else changed";

  // A match a cancel does not apply to (finished) is matched, not changed.
  auto finished = keel_cli(with_db({"workflow", "cancel", "--id-prefix", "g-", "--yes"}));
  EXPECT_EQ(stdout_json(finished).at("matched"), 2);
  EXPECT_EQ(stdout_json(finished).at("changed"), 0);
  (void)rt_->cancel("x-1");
}

TEST_F(CliFindTest, BulkResumeReleasesTheCancelledMatches) {
  start_waiter("w-2");
  ASSERT_TRUE(rt_->cancel("w-1"));
  ASSERT_TRUE(rt_->cancel("w-2"));
  auto dry = keel_cli(with_db({"workflow", "resume", "--status", "cancelled"}));
  ASSERT_EQ(dry.exit_code, 0) << describe(dry);
  EXPECT_EQ(stdout_json(dry).at("matched"), 2);
  EXPECT_EQ(rt_->get_workflow("w-1")->status, keel::WorkflowStatus::Cancelled);

  auto r = keel_cli(with_db({"workflow", "resume", "--status", "cancelled", "--yes"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(stdout_json(r).at("changed"), 2) << describe(r);
  for (const char* id : {"w-1", "w-2"}) {
    EXPECT_EQ(rt_->get_workflow(id)->status, keel::WorkflowStatus::Pending) << id;
    // Released; the test's executor (of their version) claims them again.
    EXPECT_TRUE(eventually([&] { return rt_->get_workflow(id)->executor_id == "cli-test"; }, 10s)) << id;
  }
  rt_->send("w-2", std::string("resumed"), "go");
  EXPECT_EQ(rt_->retrieve<std::string>("w-2").result_for(10s), "resumed");
}

TEST_F(CliFindTest, BulkDeleteRemovesTheWorkflowsFinishedBeforeATime) {
  // Finished before later_: g-1, g-2, f-1. After it: p-1 and its child.
  auto dry = keel_cli(with_db({"workflow", "delete", "--finished-before", std::to_string(later_)}));
  ASSERT_EQ(dry.exit_code, 0) << describe(dry);
  EXPECT_EQ(stdout_json(dry).at("matched"), 3) << describe(dry);
  EXPECT_EQ(statuses(*rt_).size(), all().size());

  auto r = keel_cli(with_db({"workflow", "delete", "--finished-before", std::to_string(later_), "--yes"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(stdout_json(r).at("changed"), 3) << describe(r);
  std::set<std::string> left;
  for (const auto& [id, status] : statuses(*rt_)) left.insert(id);
  EXPECT_EQ(left, (std::set<std::string>{"w-1", "p-1", child_, "q-1"}));

  // A duration ago: everything finished more than an hour ago (nothing).
  auto old = keel_cli(with_db({"workflow", "delete", "--finished-before", "1h", "--yes"}));
  EXPECT_EQ(stdout_json(old).at("matched"), 0) << describe(old);
  // Unfinished matches are not deleted: w-1 (PENDING) and q-1 (ENQUEUED) stay.
  auto rest = keel_cli(with_db({"workflow", "delete", "--created-after", "1h", "--yes"}));
  EXPECT_EQ(stdout_json(rest).at("changed"), 2) << describe(rest);
  EXPECT_EQ(statuses(*rt_), (std::map<std::string, std::string>{{"w-1", "PENDING"}, {"q-1", "ENQUEUED"}}));
}

TEST_F(CliFindTest, DeleteOneWorkflow) {
  auto r = keel_cli(with_db({"workflow", "delete", "g-1"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(stdout_json(r), (Json{{"workflow_id", "g-1"}, {"deleted", true}}));
  EXPECT_FALSE(rt_->get_workflow("g-1"));
  EXPECT_TRUE(rt_->list_steps("g-1").empty());

  auto unknown = keel_cli(with_db({"workflow", "delete", "g-1"}));
  EXPECT_EQ(unknown.exit_code, kNotFound) << describe(unknown);
  EXPECT_NE(unknown.err.find("no workflow with ID 'g-1'"), std::string::npos) << describe(unknown);

  auto running = keel_cli(with_db({"workflow", "delete", "w-1"}));
  EXPECT_EQ(running.exit_code, kConflict) << describe(running);
  EXPECT_TRUE(running.out.empty()) << describe(running);
  EXPECT_NE(running.err.find("'w-1' is PENDING: only a finished workflow can be deleted"), std::string::npos)
      << describe(running);
  ASSERT_TRUE(rt_->get_workflow("w-1"));
  EXPECT_EQ(rt_->get_workflow("w-1")->status, keel::WorkflowStatus::Pending);
}


// ---- For people: tables on a terminal ----

// The lines of a text, without their newlines.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The line that holds needle; fails the test when none does.
std::string line_with(const std::string& text, const std::string& needle) {
  for (const auto& line : lines_of(text))
    if (line.find(needle) != std::string::npos) return line;
  ADD_FAILURE() << "no line with '" << needle << "' in:\n" << text;
  return {};
}

// A table's row as its cells: columns are two or more spaces apart.
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  size_t pos = row.find_first_not_of(' ');
  while (pos != std::string::npos) {
    size_t end = row.find("  ", pos);
    out.push_back(row.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    pos = end == std::string::npos ? end : row.find_first_not_of(' ', end);
  }
  return out;
}

// --table forces what a terminal gets; COLUMNS is the width without one.
ProcessResult keel_table(std::vector<std::string> args, const std::string& columns = "200") {
  args.push_back("--table");
  return keel_cli(args, {{"COLUMNS", columns}});
}

TEST_F(CliFindTest, ListTable) {
  auto r = keel_table(with_db({"workflow", "list", "--count"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto rows = lines_of(r.out);
  ASSERT_EQ(rows.size(), all().size() + 2) << r.out;  // header, rows, count
  EXPECT_EQ(cells(rows[0]),
            (std::vector<std::string>{"ID", "NAME", "STATUS", "CREATED", "DURATION", "VERSION", "QUEUE"}));
  auto g1 = cells(line_with(r.out, "g-1 "));
  ASSERT_EQ(g1.size(), 7u) << r.out;
  EXPECT_EQ(g1[1], "greet");
  EXPECT_EQ(g1[2], "SUCCESS");
  EXPECT_TRUE(g1[3] == "just now" || g1[3].ends_with("s ago")) << g1[3];
  EXPECT_TRUE(g1[4].ends_with(" ms") || g1[4].ends_with(" s")) << "created to finished: " << g1[4];
  EXPECT_EQ(g1[5], "0");
  EXPECT_EQ(g1[6], "-");
  auto q1 = cells(line_with(r.out, "q-1 "));
  EXPECT_EQ(q1[2], "ENQUEUED");
  EXPECT_EQ(q1[4], "-") << "no duration while unfinished";
  EXPECT_EQ(q1[5], "v1");
  EXPECT_EQ(q1[6], "later");
  EXPECT_EQ(rows.back(), "7 of 7 matching workflows");
  EXPECT_TRUE(r.err.empty()) << describe(r);

  auto none = keel_table(with_db({"workflow", "list", "--name", "nothing"}));
  EXPECT_EQ(none.out, "no workflows match\n");
}

TEST_F(CliFindTest, ATableFitsTheWidthByCuttingLongCells) {
  const std::string long_id = "order-" + std::string(60, '7');
  EXPECT_EQ(rt_->start(wf_->greet, {.workflow_id = long_id}, "dee").result_for(10s), "hello dee");
  auto r = keel_table(with_db({"workflow", "list", "--id-prefix", "order-"}), "60");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto row = line_with(r.out, "order-");
  EXPECT_LE(keel::cli::display_width(row), 60u) << r.out;
  EXPECT_NE(row.find("…"), std::string::npos) << r.out;
  EXPECT_NE(row.find("SUCCESS"), std::string::npos) << "the status is never cut: " << r.out;
}

TEST_F(CliFindTest, GetAsKeyValueLines) {
  auto r = keel_table(with_db({"workflow", "get", "f-1"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(cells(line_with(r.out, "status:")), (std::vector<std::string>{"status:", "ERROR"}));
  EXPECT_EQ(cells(line_with(r.out, "name:")), (std::vector<std::string>{"name:", "failing"}));
  EXPECT_NE(line_with(r.out, "error:").find("boom in step"), std::string::npos) << r.out;
  EXPECT_NE(line_with(r.out, "created:").find("Z ("), std::string::npos) << "an ISO time and an age: " << r.out;
  EXPECT_NE(line_with(r.out, "parent:").find("-"), std::string::npos) << r.out;
  auto child = keel_table(with_db({"workflow", "get", child_}));
  EXPECT_EQ(cells(line_with(child.out, "parent:")), (std::vector<std::string>{"parent:", "p-1"}));
}

TEST_F(CliFindTest, StepsAsATimeline) {
  auto r = keel_table(with_db({"workflow", "steps", "p-1"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto rows = lines_of(r.out);
  ASSERT_GE(rows.size(), 3u) << r.out;
  EXPECT_EQ(rows[0].rfind("p-1: ", 0), 0u) << r.out;
  EXPECT_EQ(cells(rows[1]),
            (std::vector<std::string>{"#", "NAME", "KIND", "START", "DURATION", "TRIES", "TIMELINE", "OUTCOME"}));
  auto first = cells(rows[2]);
  ASSERT_EQ(first.size(), 8u) << r.out;
  EXPECT_EQ(first[0], "1");
  EXPECT_EQ(first[2], "keel");
  EXPECT_EQ(first[3], "+0 ms") << "offsets count from the first step";
  EXPECT_EQ(first[5], "1");
  EXPECT_EQ(first[7], "child " + child_);

  auto failed = keel_table(with_db({"workflow", "steps", "f-1"}));
  auto explode = cells(line_with(failed.out, "explode"));
  ASSERT_EQ(explode.size(), 8u) << failed.out;
  EXPECT_EQ(explode[2], "step");
  EXPECT_TRUE(explode[4].ends_with(" ms") || explode[4].ends_with(" s")) << explode[4];
  EXPECT_EQ(explode[5], "1");
  EXPECT_EQ(explode[6].front(), '|');
  EXPECT_NE(explode[6].find('#'), std::string::npos) << "the step's place on the timeline";
  EXPECT_EQ(explode[7].rfind("error ", 0), 0u) << explode[7];
  EXPECT_NE(explode[7].find("boom in step"), std::string::npos) << explode[7];
  auto ok = cells(line_with(keel_table(with_db({"workflow", "steps", "g-1"})).out, "make_greeting"));
  EXPECT_EQ(ok.back(), "ok");
}

TEST_F(CliFindTest, EventsMessagesAndExecutorsTables) {
  rt_->send("w-1", std::string("hi"), "elsewhere");
  auto m = keel_table(with_db({"workflow", "messages", "w-1"}));
  ASSERT_EQ(m.exit_code, 0) << describe(m);
  EXPECT_EQ(cells(lines_of(m.out).at(0)),
            (std::vector<std::string>{"ID", "TOPIC", "MESSAGE", "SENDER", "CONSUMED", "SENT"}));
  auto hi = cells(line_with(m.out, "elsewhere"));
  ASSERT_EQ(hi.size(), 6u) << m.out;
  EXPECT_EQ(hi[2], "hi");
  EXPECT_EQ(hi[3], "-");
  EXPECT_EQ(hi[4], "no");

  auto e = keel_table(with_db({"workflow", "events", "w-1"}));
  EXPECT_EQ(e.out, "no events\n");

  auto x = keel_table(with_db({"executors", "list"}));
  ASSERT_EQ(x.exit_code, 0) << describe(x);
  EXPECT_EQ(cells(lines_of(x.out).at(0)),
            (std::vector<std::string>{"EXECUTOR", "VERSION", "HOLDER", "HEARTBEAT", "STARTED"}));
  auto me = cells(line_with(x.out, "cli-test"));
  ASSERT_EQ(me.size(), 5u) << x.out;
  EXPECT_EQ(me[1], "0");
  EXPECT_TRUE(me[3] == "just now" || me[3].ends_with("s ago")) << me[3];
}

TEST_F(CliFindTest, BulkAndSingleResultsInWords) {
  start_waiter("w-2");
  auto dry = keel_table(with_db({"workflow", "cancel", "--name", "waiter"}));
  EXPECT_EQ(dry.out, "dry run: 2 matching workflows; none cancelled (run again with --yes to cancel them)\n")
      << describe(dry);
  EXPECT_TRUE(dry.err.empty()) << "the table said it: " << describe(dry);
  auto r = keel_table(with_db({"workflow", "cancel", "--name", "waiter", "--yes"}));
  EXPECT_EQ(r.out, "cancelled 2 of 2 matching workflows\n") << describe(r);
  auto again = keel_table(with_db({"workflow", "cancel", "w-1"}));
  EXPECT_EQ(again.out, "w-1 not cancelled: it is CANCELLED\n") << describe(again);
  auto resumed = keel_table(with_db({"workflow", "resume", "w-1"}));
  EXPECT_EQ(resumed.out, "resumed w-1: PENDING, waiting for an executor of version 0\n") << describe(resumed);
  auto deleted = keel_table(with_db({"workflow", "delete", "--id-prefix", "g-", "--yes"}));
  EXPECT_EQ(deleted.out, "deleted 2 of 2 matching workflows\n") << describe(deleted);
  auto one = keel_table(with_db({"workflow", "delete", "f-1"}));
  EXPECT_EQ(one.out, "deleted f-1\n") << describe(one);
}

TEST_F(CliFindTest, JsonWinsOverATable) {
  auto r = keel_cli(with_db({"workflow", "get", "g-1", "--table", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(stdout_json(r).at("id"), "g-1");
}

// A real terminal: tables by default, as wide as the terminal says
// (TIOCGWINSZ); --json still prints JSON.
TEST_F(CliFindTest, ATerminalGetsTablesAndJsonOnlyWhenAsked) {
  // An ID that fits only when cut: the row fits 70 columns only when the
  // width came from the terminal (the default is 120).
  const std::string long_id = "order-" + std::string(60, '7');
  EXPECT_EQ(rt_->start(wf_->greet, {.workflow_id = long_id}, "dee").result_for(10s), "hello dee");
  auto t = keel::testing::run_in_pty(KEEL_CLI_PATH, with_db({"workflow", "list"}), 70);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  auto rows = lines_of(t.output);
  ASSERT_EQ(rows.size(), all().size() + 2) << t.output;  // header, the 7, the long one
  EXPECT_EQ(cells(rows[0]),
            (std::vector<std::string>{"ID", "NAME", "STATUS", "CREATED", "DURATION", "VERSION", "QUEUE"}));
  for (const auto& row : rows) EXPECT_LE(keel::cli::display_width(row), 70u) << t.output;
  EXPECT_NE(line_with(t.output, "order-").find("…"), std::string::npos) << t.output;
  EXPECT_EQ(cells(line_with(t.output, "f-1")).at(2), "ERROR") << t.output;

  auto j = keel::testing::run_in_pty(KEEL_CLI_PATH, with_db({"workflow", "list", "--json"}), 70);
  ASSERT_EQ(j.exit_code, 0) << j.output;
  Json parsed = Json::parse(j.output, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << j.output;
  auto expected = all();
  expected.insert(long_id);
  EXPECT_EQ(ids_of(parsed), expected);
}

}  // namespace
