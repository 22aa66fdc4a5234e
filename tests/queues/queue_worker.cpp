// A worker process of the cross-process queue tests: a Runtime with its own
// executor ID that registers the test queues and their workflow, runs what
// it dequeues, and exits 0 once `total` queued workflows have succeeded in
// the database (all workers' together), or 2 after a minute.
//
//   keel_queue_worker DATABASE_URL EXECUTOR_ID TOTAL
//
// Each workflow's step records (workflow, queue, executor, start, end) in the
// application table queue_attempts with a plain write, so that a workflow run
// twice would leave two rows.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "keel/keel.hpp"
#include "queues/queue_limits.hpp"

using namespace std::chrono_literals;

namespace {

int64_t epoch_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t succeeded(keel::Runtime& rt) {
  int64_t n = 0;
  rt.run_sql_read([&](keel::Sql& sql) {
    std::string table = sql.dialect() == "sqlite" ? "keel_workflow_status" : "keel.workflow_status";
    n = sql.query("SELECT count(*) FROM " + table + " WHERE queue_name IS NOT NULL AND status = 'SUCCESS'", {})
            .at(0)
            .get_int(0);
  });
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: keel_queue_worker DATABASE_URL EXECUTOR_ID TOTAL\n");
    return 64;
  }
  const std::string executor = argv[2];
  const int64_t total = std::stoll(argv[3]);
  keel::RuntimeConfig config;
  config.database_url = argv[1];
  config.executor_id = executor;
  config.poll_interval = 20ms;
  config.sqlite_synchronous = keel::SqliteSync::Normal;
  keel::Runtime rt(config);
  for (const auto& q : keel::queue_tests::queues()) rt.register_queue(q);
  rt.register_workflow("job", [&rt, executor](keel::Context& ctx, std::string queue) {
    ctx.step("work", [&] {
      int64_t t0 = epoch_ms();
      std::this_thread::sleep_for(keel::queue_tests::kWorkTime);
      int64_t t1 = epoch_ms();
      rt.run_sql_write([&](keel::Sql& sql) {
        sql.execute("INSERT INTO queue_attempts (workflow_id, queue, executor, t0, t1) VALUES ($1, $2, $3, $4, $5)",
                    {ctx.workflow_id(), queue, executor, t0, t1});
      });
      return 0;
    });
    return 0;
  });
  rt.launch();
  auto give_up = std::chrono::steady_clock::now() + 60s;
  while (succeeded(rt) < total) {
    if (std::chrono::steady_clock::now() > give_up) {
      std::fprintf(stderr, "%s: gave up waiting for %lld workflows\n", executor.c_str(), static_cast<long long>(total));
      return 2;
    }
    std::this_thread::sleep_for(20ms);
  }
  rt.shutdown();
  return 0;
}
