// Operating workflows from code: find them page by page, cancel a batch by
// filter (a dry run first), delete what finished, let retention keep the
// database small, and ask whether the disk is full.
//
//   operations DB_PATH
#include <iostream>
#include <string>

#include "keel/keel.hpp"

using namespace std::chrono_literals;

namespace {

// Keel logs through spdlog's default logger, which writes to stdout too, from
// workflow threads (a cancelled workflow says so as it stops). Writing each
// report line, newline included, in one call keeps such a log line from
// landing in the middle of it.
void say(const std::string& line) { std::cout << (line + '\n') << std::flush; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: operations DB_PATH\n";
    return 64;
  }
  keel::RuntimeConfig config;
  config.database_url = std::string("sqlite:") + argv[1];
  config.retention.finished_older_than = 1h;  // what a real shop would keep longer
  config.retention.global_timeout = 24h;      // nothing legitimate runs for a day
  keel::Runtime rt(config);
  rt.register_workflow("order", [](keel::Context& ctx, int n) { return ctx.step("price", [n] { return n * 10; }); });
  rt.register_workflow("stuck", [](keel::Context& ctx) { return ctx.recv<int>("never", 1h).value_or(0); });
  (void)rt.launch();

  for (int i = 0; i < 7; ++i) (void)rt.start(keel::Workflow<int, int>("order"), {.workflow_id = "order-" + std::to_string(i)}, i).result();
  for (int i = 0; i < 3; ++i) (void)rt.start(keel::Workflow<int>("stuck"), {.workflow_id = "stuck-" + std::to_string(i)});

  // Every order, oldest first, three at a time: the cursor carries on.
  keel::ListWorkflowsQuery orders{.name = "order", .order = keel::ListOrder::OldestFirst, .limit = 3, .count_total = true};
  for (int page = 1;; ++page) {
    keel::WorkflowPage p = rt.list_workflows_page(orders);
    std::string line = "page " + std::to_string(page) + " of " + std::to_string(*p.total) + " orders:";
    for (const auto& w : p.workflows) line += ' ' + w.id;
    say(line);
    if (p.next_cursor.empty()) break;
    orders.cursor = p.next_cursor;
  }

  // Cancel the stuck ones: count first, then act.
  keel::ListWorkflowsQuery stuck{.statuses = {keel::WorkflowStatus::Pending}, .id_prefix = "stuck-"};
  int64_t would = rt.cancel_workflows(stuck, {.dry_run = true, .on_progress = {}}).matched;
  say("would cancel: " + std::to_string(would));
  int64_t cancelled = rt.cancel_workflows(stuck).changed;
  say("cancelled: " + std::to_string(cancelled));

  // Delete what finished (the cancelled ones too): its steps go with it.
  keel::BulkResult deleted = rt.delete_workflows({.id_prefix = "stuck-"});
  say("deleted: " + std::to_string(deleted.changed));
  int64_t left = rt.list_workflows_page({.limit = 1, .count_total = true}).total.value_or(-1);
  say("left: " + std::to_string(left));

  // A health check's question: are this process's workflows parked on a
  // full disk? (Also the gauge keel_storage_full; the HTTP services answer
  // 503 storage_full meanwhile.)
  say(std::string("storage full: ") + (rt.storage_full_since() ? "yes" : "no"));
  return 0;
}
