// The `keel` command's human output, without a process: units, table
// layout, and the views of each result.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "human.hpp"
#include "table.hpp"
#include "views.hpp"

namespace {

using namespace keel::cli;

constexpr int64_t kSec = 1000;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kNow = 1'796'529'600'000;  // 2026-12-06T04:00:00Z

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(text.substr(start, nl - start));
  EXPECT_EQ(start, text.size()) << "every line ends in a newline: " << text;
  return out;
}

TEST(CliHuman, DurationsInTheUnitThatReadsBest) {
  EXPECT_EQ(human_duration(0), "0 ms");
  EXPECT_EQ(human_duration(12), "12 ms");
  EXPECT_EQ(human_duration(999), "999 ms");
  EXPECT_EQ(human_duration(1'400), "1.4 s");
  EXPECT_EQ(human_duration(9'999), "9.9 s");
  EXPECT_EQ(human_duration(42 * kSec + 700), "42 s");
  EXPECT_EQ(human_duration(4 * kMin + 12 * kSec), "4m 12s");
  EXPECT_EQ(human_duration(2 * kHour + 5 * kMin + 59 * kSec), "2h 5m");
  EXPECT_EQ(human_duration(3 * kDay + 4 * kHour), "3d 4h");
  EXPECT_EQ(human_duration(-12), "12 ms");
}

TEST(CliHuman, AgesAreCoarseAndOldOnesAreDates) {
  EXPECT_EQ(human_age(kNow, kNow), "just now");
  EXPECT_EQ(human_age(kNow + 500, kNow), "just now") << "another clock a little ahead";
  EXPECT_EQ(human_age(kNow - 12 * kSec, kNow), "12s ago");
  EXPECT_EQ(human_age(kNow - 3 * kMin - 59 * kSec, kNow), "3m ago");
  EXPECT_EQ(human_age(kNow - 2 * kHour, kNow), "2h ago");
  EXPECT_EQ(human_age(kNow - 5 * kDay, kNow), "5d ago");
  EXPECT_EQ(human_age(kNow - 7 * kDay, kNow), "7d ago");
  EXPECT_EQ(human_age(kNow - 8 * kDay, kNow), "2026-11-28T04:00:00Z");
  EXPECT_EQ(human_age(kNow + 3 * kMin, kNow), "in 3m");
}

TEST(CliHuman, IsoTimeIsUtcToTheSecond) {
  EXPECT_EQ(iso_time(kNow), "2026-12-06T04:00:00Z");
  EXPECT_EQ(iso_time(kNow + 999), "2026-12-06T04:00:00Z");
  EXPECT_EQ(iso_time(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(iso_time(-1), "1969-12-31T23:59:59Z");
}

TEST(CliTable, AlignsColumnsUnderTheirHeaders) {
  Table t({{"ID"}, {"STATUS", false, false}, {"N", true, false}});
  t.add_row({"a", "SUCCESS", "7"});
  t.add_row({"longer-id", "ERROR", "12"});
  EXPECT_EQ(t.render(80),
            "ID         STATUS    N\n"
            "a          SUCCESS   7\n"
            "longer-id  ERROR    12\n");
}

TEST(CliTable, CutsTheWidestCuttableColumnsToFitTheWidth) {
  Table t({{"ID"}, {"NAME"}, {"STATUS", false, false}});
  t.add_row({std::string(40, 'i'), std::string(30, 'n'), "MAX_RECOVERY_ATTEMPTS_EXCEEDED"});
  std::string out = t.render(60);
  for (const auto& line : lines(out)) EXPECT_LE(display_width(line), 60u) << out;
  auto row = lines(out).at(1);
  EXPECT_NE(row.find("MAX_RECOVERY_ATTEMPTS_EXCEEDED"), std::string::npos) << "an uncuttable cell stays whole: " << out;
  EXPECT_NE(row.find("…"), std::string::npos) << out;
  // 60 = 30 (status) + 2 gaps of 2: 26 columns for ID and NAME, 13 each.
  EXPECT_EQ(row.substr(0, row.find(' ')), std::string(12, 'i') + "…") << out;
}

TEST(CliTable, ARowThatCannotFitKeepsItsUncuttableCells) {
  Table t({{"ID"}, {"STATUS", false, false}});
  t.add_row({"abcdefghijkl", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"});
  auto row = lines(t.render(10)).at(1);
  EXPECT_EQ(row, "abcde…  MAX_RECOVERY_ATTEMPTS_EXCEEDED") << "cut to kMinCutWidth, then the terminal wraps";
}

TEST(CliTable, ControlCharactersPrintAsSpaces) {
  Table t({{"ERROR"}});
  t.add_row({"line one\nline two\x1b[31m"});
  EXPECT_EQ(lines(t.render(80)).at(1), "line one line two [31m");
}

TEST(CliTable, WidthsCountCodePoints) {
  EXPECT_EQ(display_width("héllo…"), 6u);
  EXPECT_EQ(cut("héllo wörld", 6), "héllo…");
  EXPECT_EQ(cut("short", 6), "short");
}

TEST(CliTable, PairsAlignTheirKeys) {
  EXPECT_EQ(render_pairs({{"id", "g-1"}, {"status", "SUCCESS"}}, 80),
            "id:     g-1\n"
            "status: SUCCESS\n");
  EXPECT_EQ(render_pairs({{"id", std::string(30, 'x')}}, 20), "id: " + std::string(15, 'x') + "…\n");
}

keel::WorkflowInfo workflow(std::string id, keel::WorkflowStatus status, int64_t created, int64_t updated) {
  keel::WorkflowInfo w;
  w.id = std::move(id);
  w.name = "checkout";
  w.status = status;
  w.application_version = "v2";
  w.executor_id = "exec-1";
  w.inputs = keel::Json::array({"ann"});
  w.created_at_ms = created;
  w.updated_at_ms = updated;
  return w;
}

TEST(CliViews, ListShowsAgesDurationsAndTheCount) {
  keel::WorkflowPage page;
  page.workflows.push_back(workflow("wf-1", keel::WorkflowStatus::Success, kNow - 3 * kMin, kNow - 3 * kMin + 1'400));
  auto running = workflow("wf-2", keel::WorkflowStatus::Enqueued, kNow - 2 * kHour, kNow - 2 * kHour);
  running.queue_name = "emails";
  page.workflows.push_back(running);
  page.total = 7;
  auto out = lines(list_view(page, kNow, 120));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], "ID    NAME      STATUS    CREATED  DURATION  VERSION  QUEUE");
  EXPECT_EQ(out[1], "wf-1  checkout  SUCCESS   3m ago      1.4 s  v2       -");
  EXPECT_EQ(out[2], "wf-2  checkout  ENQUEUED  2h ago          -  v2       emails");
  EXPECT_EQ(out[3], "2 of 7 matching workflows");
  EXPECT_EQ(list_view({}, kNow, 120), "no workflows match\n");
  page.workflows.clear();  // a cursor past the last page
  EXPECT_EQ(list_view(page, kNow, 120), "no more workflows (7 matching workflows)\n");
}

TEST(CliViews, WorkflowShowsEveryFieldOnItsLine) {
  auto w = workflow("wf-1", keel::WorkflowStatus::Error, kNow - 3 * kMin, kNow - 3 * kMin + 12);
  w.error = keel::RecordedErrorInfo{"std::runtime_error", "card declined"};
  auto out = workflow_view(w, kNow, 120);
  EXPECT_NE(out.find("status:     ERROR\n"), std::string::npos) << out;
  EXPECT_NE(out.find("created:    2026-12-06T03:57:00Z (3m ago)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("duration:   12 ms\n"), std::string::npos) << out;
  EXPECT_NE(out.find("inputs:     [\"ann\"]\n"), std::string::npos) << out;
  EXPECT_NE(out.find("error:      std::runtime_error: card declined\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("output:"), std::string::npos) << "no output line without an output: " << out;
}

TEST(CliViews, StepsAreATimeline) {
  std::vector<keel::StepInfo> steps(3);
  steps[0] = {1, "reserve", keel::OperationKind::Step, keel::Json(1), std::nullopt, "", kNow, kNow + 12, 3};
  steps[1] = {2, "keel.start_child", keel::OperationKind::Keel, keel::Json("c"), std::nullopt, "wf-1-2", kNow + 12,
              kNow + 20};
  steps[2] = {3, "charge", keel::OperationKind::Transaction, std::nullopt,
              keel::RecordedErrorInfo{"PaymentError", "card declined"}, "", kNow + 1'000, kNow + 2'000, 1};
  auto out = lines(steps_view("wf-1", steps, 120));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], "wf-1: 3 steps over 2.0 s");
  EXPECT_EQ(out[1], "#  NAME              KIND          START  DURATION  TRIES  TIMELINE                OUTCOME");
  EXPECT_EQ(out[2], "1  reserve           step          +0 ms     12 ms      3  |#...................|  ok");
  EXPECT_EQ(out[3], "2  keel.start_child  keel         +12 ms      8 ms      -  |#...................|  child wf-1-2")
      << "0 attempts: recorded before Keel counted them";
  EXPECT_EQ(out[4],
            "3  charge            transaction  +1.0 s     1.0 s      1  |..........##########|  error PaymentError: "
            "card declined");
  EXPECT_EQ(steps_view("wf-1", {}, 120), "wf-1: no steps recorded\n");
}

TEST(CliViews, BulkSaysWhatItDid) {
  keel::BulkResult r;
  r.matched = 12;
  r.changed = 12;
  EXPECT_EQ(bulk_view(r, false, "cancel", "cancelled", 120), "cancelled 12 of 12 matching workflows\n");
  EXPECT_EQ(bulk_view(r, true, "cancel", "cancelled", 120),
            "dry run: 12 matching workflows; none cancelled (run again with --yes to cancel them)\n");
  r.matched = r.changed = 1;
  EXPECT_EQ(bulk_view(r, false, "resume", "resumed", 120), "resumed 1 of 1 matching workflow\n");
  r.matched = 12;
  r.changed = 10;
  r.failed = 2;
  r.failures = {{"wf-3", "database is locked"}};
  auto out = lines(bulk_view(r, false, "delete", "deleted", 120));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], "deleted 10 of 12 matching workflows; 2 failed");
  EXPECT_EQ(out[1], "WORKFLOW  ERROR");
  EXPECT_EQ(out[2], "wf-3      database is locked");
  EXPECT_EQ(out[3], "(and 1 more)");
}

TEST(CliViews, ExecutorsEventsAndMessages) {
  keel::ExecutorInfo live{"exec-1", "v2", "host:42", kNow - 2 * kSec, kNow - 3 * kHour};
  keel::ExecutorInfo stopped{"exec-2", "v1", "host:7", 0, kNow - 5 * kDay};
  auto ex = lines(executors_view({live, stopped}, kNow, 120));
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_EQ(ex[0], "EXECUTOR  VERSION  HOLDER   HEARTBEAT  STARTED");
  EXPECT_EQ(ex[1], "exec-1    v2       host:42  2s ago     3h ago");
  EXPECT_EQ(ex[2], "exec-2    v1       host:7   stopped    5d ago");

  auto ev = lines(events_view({{"progress", keel::Json{{"done", 3}}, kNow - kMin}}, kNow, 120));
  EXPECT_EQ(ev.at(1), "progress  {\"done\":3}  1m ago");

  keel::MessageInfo m{4, "go", keel::Json("now"), "", true, kNow - 12 * kSec};
  auto ms = lines(messages_view({m}, kNow, 120));
  EXPECT_EQ(ms.at(0), "ID  TOPIC  MESSAGE  SENDER  CONSUMED  SENT");
  EXPECT_EQ(ms.at(1), " 4  go     now      -       yes       12s ago");
  m.created_at_ms = 0;  // sent from outside a workflow: no time recorded
  EXPECT_EQ(lines(messages_view({m}, kNow, 120)).at(1), " 4  go     now      -       yes       -");
  EXPECT_EQ(messages_view({}, kNow, 120), "no messages\n");
}

}  // namespace
