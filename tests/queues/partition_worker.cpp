// A worker process of the partitioned-queue crash test
// (tests/queues/partition_crash_test.cpp): a Runtime with its own executor
// ID that declares the partitioned queue "per-key" (concurrency 1 per key)
// and its workflow "pjob", runs what it dequeues, and exits 0 once `total`
// workflows of the queue have succeeded (every process's), or 2 after a
// minute.
//
//   keel_partition_worker DATABASE_URL EXECUTOR_ID TOTAL
//
// pjob's step writes a 'begin' mark (plain write: kept if the process dies),
// prints "started <workflow id>" on stdout, works 150 ms, then writes an
// 'end' mark. Each mark carries this process's pid.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "keel/keel.hpp"

using namespace std::chrono_literals;

namespace {

int64_t epoch_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void mark(keel::Runtime& rt, const std::string& id, const std::string& key, const char* kind) {
  rt.run_sql_write([&](keel::Sql& sql) {
    sql.execute("INSERT INTO partition_marks (workflow_id, partition_key, pid, kind, t) VALUES ($1, $2, $3, $4, $5)",
                {id, key, static_cast<int64_t>(::getpid()), std::string(kind), epoch_ms()});
  });
}

int64_t succeeded(keel::Runtime& rt) {
  int64_t n = 0;
  rt.run_sql_read([&](keel::Sql& sql) {
    std::string table = sql.dialect() == "sqlite" ? "keel_workflow_status" : "keel.workflow_status";
    n = sql.query("SELECT count(*) FROM " + table + " WHERE queue_name = 'per-key' AND status = 'SUCCESS'", {})
            .at(0)
            .get_int(0);
  });
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: keel_partition_worker DATABASE_URL EXECUTOR_ID TOTAL\n");
    return 64;
  }
  const int64_t total = std::stoll(argv[3]);
  keel::RuntimeConfig config;
  config.database_url = argv[1];
  config.executor_id = argv[2];
  config.poll_interval = 20ms;
  config.sqlite_synchronous = keel::SqliteSync::Normal;
  keel::Runtime rt(config);
  rt.register_queue({.name = "per-key", .concurrency = 1, .partitioned = true});
  rt.register_workflow("pjob", [&rt](keel::Context& ctx, std::string key) {
    ctx.step("work", [&] {
      mark(rt, ctx.workflow_id(), key, "begin");
      std::printf("started %s\n", ctx.workflow_id().c_str());
      std::fflush(stdout);
      std::this_thread::sleep_for(150ms);
      mark(rt, ctx.workflow_id(), key, "end");
      return 0;
    });
    return 0;
  });
  rt.launch();
  auto give_up = std::chrono::steady_clock::now() + 60s;
  while (succeeded(rt) < total) {
    if (std::chrono::steady_clock::now() > give_up) {
      std::fprintf(stderr, "gave up waiting for %lld workflows\n", static_cast<long long>(total));
      return 2;
    }
    std::this_thread::sleep_for(20ms);
  }
  rt.shutdown();
  return 0;
}
