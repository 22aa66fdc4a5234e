// schedule: a workflow on a cron schedule, every second, each tick recorded
// in a table by a transaction (exactly once per tick). Stop the program and
// run it again: with MissedTicks::RunEach the ticks missed meanwhile run too
// (at most max_catch_up of them), so the table has every second, once.
//
//   ./schedule schedule.db SECONDS
#include <keel/keel.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  std::string db = argc > 1 ? argv[1] : "schedule.db";
  int seconds = argc > 2 ? std::atoi(argv[2]) : 3;
  keel::Runtime rt({.database_url = "sqlite:" + db, .executor_id = "schedule"});
  rt.run_sql_write([](keel::Sql& sql) { sql.execute("CREATE TABLE IF NOT EXISTS ticks (tick_ms INTEGER PRIMARY KEY)"); });

  auto record = rt.register_workflow("record_tick", [](keel::Context& ctx, keel::ScheduledTick tick) {
    return ctx.transaction("insert", [&](keel::Sql& sql) {
      return sql.execute("INSERT INTO ticks (tick_ms) VALUES ($1)", {tick.tick_epoch_ms});
    });
  });
  rt.schedule(record, {.name = "every-second",
                       .cron = "* * * * * *",  // six fields: the first is seconds
                       .missed = keel::MissedTicks::RunEach,
                       .max_catch_up = 60});
  rt.launch();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  rt.shutdown();

  int64_t rows = 0, first = 0, last = 0;
  rt.run_sql_read([&](keel::Sql& sql) {
    auto r = sql.query_one("SELECT count(*), min(tick_ms), max(tick_ms) FROM ticks");
    rows = r->get_int(0);
    first = r->get_int(1);
    last = r->get_int(2);
  });
  std::cout << rows << " ticks recorded, " << (last - first) / 1000 + 1 << " seconds from the first to the last"
            << std::endl;
}
