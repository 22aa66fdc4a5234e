// fan-out: a workflow enqueues ten tasks through a queue that runs at most
// two at a time, then gathers their results. The limit holds across every
// process that dequeues the queue (it is enforced in the database). Each
// ctx.enqueue is recorded with the enqueue itself: after a crash the batch
// replays, finds its ten tasks, and enqueues none twice.
//
//   ./fan-out fan-out.db
#include <keel/keel.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  std::string db = argc > 1 ? argv[1] : "fan-out.db";
  keel::Runtime rt({.database_url = "sqlite:" + db, .executor_id = "fan-out"});
  rt.register_queue({.name = "resize", .concurrency = 2});

  std::atomic<int> running{0}, most{0};
  auto resize = rt.register_workflow("resize", [&](keel::Context& ctx, int image) {
    return ctx.step("resize", [&] {
      int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {}
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the work
      --running;
      return image * 10;
    });
  });
  auto batch = rt.register_workflow("batch", [resize](keel::Context& ctx, int images) {
    std::vector<keel::Handle<int>> tasks;
    for (int image = 1; image <= images; ++image)
      tasks.push_back(ctx.enqueue(resize, "resize", {.workflow_id = "resize-" + std::to_string(image)}, image));
    ctx.wait_all(tasks);  // parks until every task has ended, without a thread
    int total = 0;
    for (auto& t : tasks) total += t.result();  // each child's result is durable: at once now
    return total;
  });
  rt.launch();

  int total = rt.start(batch, {.workflow_id = "batch-1"}, 10).result();
  std::cout << rt.list_workflows({.parent_id = "batch-1"}).size() << " tasks done, total " << total << ", at most "
            << most.load() << " at once" << std::endl;
}
