// Durable streams (keel/stream.hpp): ctx.write_stream / close_stream, and
// their readers (Runtime, Client, StreamReader, ctx.read_stream). Run on
// SQLite, and on PostgreSQL as postgres.Stream* (tests/postgres).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "keel/client.hpp"
#include "runtime/engine.hpp"
#include "runtime/runtime_access.hpp"
#include "support/child_process.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::RuntimeTest;

namespace {

using StreamTest = RuntimeTest;

// Writes n values 0..n-1 to stream "s", then waits for "go" (so that the
// workflow is still PENDING: the stream is not ended), then returns.
keel::Workflow<int> register_writer(keel::Runtime& rt, int n, bool close, keel::testing::EffectCounter* effects) {
  return rt.register_workflow("writer", [n, close, effects](keel::Context& ctx) {
    for (int i = 0; i < n; ++i) {
      ctx.write_stream("s", i);
      if (effects) effects->hit("write");
    }
    if (close) ctx.close_stream("s");
    ctx.recv<int>("go", 30s);
    return n;
  });
}

std::vector<int> read_all(keel::Runtime& rt, const std::string& id, int64_t from, int max_values = 3) {
  std::vector<int> out;
  for (int64_t off = from;;) {
    auto b = rt.read_stream<int>(id, "s", off, 10s, max_values);
    EXPECT_EQ(b.next_offset, off + static_cast<int64_t>(b.values.size()));
    out.insert(out.end(), b.values.begin(), b.values.end());
    off = b.next_offset;
    if (b.ended) return out;
    if (b.values.empty()) {
      ADD_FAILURE() << "a read timed out at offset " << off;
      return out;
    }
  }
}

TEST_F(StreamTest, EveryValueInOrderOnceFromTheStartAndFromTheMiddle) {
  auto wf = register_writer(*rt, 10, /*close=*/true, nullptr);
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "w"});
  EXPECT_EQ(read_all(*rt, "w", 0), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(read_all(*rt, "w", 4), (std::vector<int>{4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(read_all(*rt, "w", 9, 1), (std::vector<int>{9}));
  // Past the end of a closed stream: ended at once, nothing read.
  auto past = rt->read_stream<int>("w", "s", 25, 5s);
  EXPECT_TRUE(past.ended);
  EXPECT_TRUE(past.values.empty());
  EXPECT_EQ(past.next_offset, 25);
  // A batch of at most max_values, the rest after it.
  auto first = rt->read_stream<int>("w", "s", 0, 1s, 4);
  EXPECT_EQ(first.values, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(first.next_offset, 4);
  EXPECT_FALSE(first.ended);
  rt->send("w", 1, "go");
  EXPECT_EQ(h.result_for(10s), 10);
}

TEST_F(StreamTest, ReaderWaitsForValuesWrittenLater) {
  auto wf = rt->register_workflow("slow_writer", [](keel::Context& ctx) {
    for (int i = 0; i < 3; ++i) {
      ctx.recv<int>("next", 30s);
      ctx.write_stream("s", "v" + std::to_string(i));
    }
    ctx.close_stream("s");
    return 0;
  });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "slow"});
  // Nothing yet: a short read times out, empty and not ended.
  auto none = rt->read_stream<std::string>("slow", "s", 0, 100ms);
  EXPECT_TRUE(none.values.empty());
  EXPECT_FALSE(none.ended);
  std::vector<std::string> seen;
  std::thread reader([&] {
    auto r = rt->stream_reader<std::string>("slow", "s");
    while (auto v = r.next(20s)) seen.push_back(*v);
    EXPECT_TRUE(r.ended());
    EXPECT_EQ(r.offset(), 3);
  });
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(100ms);
    rt->send("slow", 1, "next");
  }
  reader.join();
  EXPECT_EQ(seen, (std::vector<std::string>{"v0", "v1", "v2"}));
  h.result_for(10s);
}

TEST_F(StreamTest, CloseEndsTheStreamAndAWriteAfterItIsRefused) {
  std::atomic<bool> refused{false};
  auto wf = rt->register_workflow("closer", [&](keel::Context& ctx) {
    ctx.write_stream("s", 1);
    ctx.close_stream("s");
    ctx.close_stream("s");  // again: nothing
    try {
      ctx.write_stream("s", 2);
    } catch (const keel::UsageError&) {
      refused = true;
    }
    ctx.write_stream("other", 7);  // another key is another stream
    ctx.recv<int>("go", 30s);
    return 0;
  });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "c"});
  auto after = rt->read_stream<int>("c", "s", 1, 10s);  // waits for the close
  EXPECT_TRUE(after.ended);  // while the workflow still runs
  EXPECT_TRUE(after.values.empty());
  EXPECT_EQ(after.next_offset, 1);
  auto b = rt->read_stream<int>("c", "s", 0, 10s);
  EXPECT_EQ(b.values, std::vector<int>{1});
  EXPECT_TRUE(b.ended);
  auto other = rt->read_stream<int>("c", "other", 0, 10s);
  EXPECT_EQ(other.values, std::vector<int>{7});
  EXPECT_FALSE(other.ended);
  EXPECT_TRUE(refused);
  rt->send("c", 1, "go");
  h.result_for(10s);
}

TEST_F(StreamTest, TheWorkflowsEndEndsItsStreams) {
  auto ok = rt->register_workflow("ends_ok", [](keel::Context& ctx) {
    ctx.write_stream("s", 1);
    ctx.recv<int>("go", 30s);
    return 0;
  });
  auto fails = rt->register_workflow("ends_badly", [](keel::Context& ctx) -> int {
    ctx.write_stream("s", 1);
    ctx.recv<int>("go", 30s);
    throw std::runtime_error("boom");
  });
  rt->launch();
  auto h1 = rt->start(ok, {.workflow_id = "ok"});
  auto h2 = rt->start(fails, {.workflow_id = "bad"});
  auto h3 = rt->start(ok, {.workflow_id = "cancelled"});
  for (const char* id : {"ok", "bad", "cancelled"}) {
    auto b = rt->read_stream<int>(id, "s", 0, 10s);
    EXPECT_EQ(b.values, std::vector<int>{1}) << id;
    EXPECT_FALSE(b.ended) << id;
  }
  // A reader waiting at offset 1 is ended by the workflow's end, not by its timeout.
  std::atomic<bool> ended{false};
  std::thread waiting([&] { ended = rt->read_stream<int>("ok", "s", 1, 20s).ended; });
  std::this_thread::sleep_for(100ms);
  auto t0 = std::chrono::steady_clock::now();
  rt->send("ok", 1, "go");
  rt->send("bad", 1, "go");
  EXPECT_TRUE(rt->cancel("cancelled"));
  waiting.join();
  EXPECT_TRUE(ended);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(h1.result_for(10s), 0);
  EXPECT_THROW(h2.result_for(10s), std::exception);
  EXPECT_THROW(h3.result_for(10s), keel::WorkflowCancelledError);
  for (const char* id : {"ok", "bad", "cancelled"}) {
    auto b = rt->read_stream<int>(id, "s", 0, 10s);
    EXPECT_EQ(b.values, std::vector<int>{1}) << id;
    EXPECT_TRUE(b.ended) << id;
    auto rest = rt->read_stream<int>(id, "s", 1, 10s);
    EXPECT_TRUE(rest.ended) << id;
    EXPECT_TRUE(rest.values.empty()) << id;
  }
  // A stream never written, of a finished workflow: ended and empty.
  EXPECT_TRUE(rt->read_stream<int>("ok", "never", 0, 10s).ended);
}

// The writes are checkpointed: the run after a restart replays them (the
// workflow's code runs again from the top) without appending them again.
keel::Workflow<int> register_restartable(keel::Runtime& rt, keel::testing::EffectCounter& effects) {
  return rt.register_workflow("restartable", [&effects](keel::Context& ctx) {
    for (int i = 0; i < 4; ++i) {
      ctx.write_stream("s", i);
      effects.hit("write");
    }
    ctx.recv<int>("go", 30s);
    ctx.write_stream("s", 100);
    ctx.close_stream("s");
    return 4;
  });
}

TEST_F(StreamTest, ReplayAfterARestartDoesNotWriteAgain) {
  auto wf = register_restartable(*rt, effects);
  rt->launch();
  (void)rt->start(wf, {.workflow_id = "r"});
  ASSERT_EQ(rt->read_stream<int>("r", "s", 3, 10s).values, std::vector<int>{3});
  restart();
  register_restartable(*rt, effects);
  rt->launch();
  ASSERT_TRUE(keel::testing::eventually([&] { return effects.count("write") >= 8; }, 10s));  // the code ran again ...
  auto h = rt->retrieve<int>("r");
  rt->send("r", 1, "go");
  EXPECT_EQ(read_all(*rt, "r", 0), (std::vector<int>{0, 1, 2, 3, 100}));  // ... the stream has each once
  EXPECT_EQ(h.result_for(10s), 4);
  EXPECT_GE(effects.count("write"), 8);  // every run after the first replayed the four writes
}

// ctx.read_stream: a workflow reads another's stream; its reads are
// recorded, so a replay gets the same batches, though the stream has grown
// since (a fresh read would return more values at once).
keel::Workflow<int> register_two_phase_writer(keel::Runtime& rt) {
  return rt.register_workflow("two_phase", [](keel::Context& ctx) {
    ctx.write_stream("s", 0);
    ctx.write_stream("s", 1);
    ctx.recv<int>("more", 30s);
    for (int i = 2; i < 5; ++i) ctx.write_stream("s", i);
    ctx.close_stream("s");
    return 0;
  });
}
keel::Workflow<std::vector<std::vector<int>>> register_batch_reader(keel::Runtime& rt,
                                                                     keel::testing::EffectCounter& effects) {
  return rt.register_workflow("batch_reader", [&effects](keel::Context& ctx) {
    std::vector<std::vector<int>> batches;
    int64_t off = 0;
    for (;;) {
      auto b = ctx.read_stream<int>("src", "s", off, 20s);
      if (!b.values.empty()) batches.push_back(b.values);
      off = b.next_offset;
      effects.hit("read");
      if (b.ended) break;
      ctx.recv<int>("pause", 30s);
    }
    return batches;
  });
}

TEST_F(StreamTest, ReadInsideAWorkflowIsRecordedAndReplayed) {
  auto src = register_two_phase_writer(*rt);
  auto reader = register_batch_reader(*rt, effects);
  rt->launch();
  (void)rt->start(src, {.workflow_id = "src"});
  ASSERT_EQ(rt->read_stream<int>("src", "s", 1, 10s).values, std::vector<int>{1});
  (void)rt->start(reader, {.workflow_id = "rd"});
  ASSERT_TRUE(keel::testing::eventually([&] { return effects.count("read") >= 1; }, 10s));
  restart();
  register_two_phase_writer(*rt);
  register_batch_reader(*rt, effects);
  rt->launch();
  rt->send("src", 1, "more");
  EXPECT_TRUE(rt->read_stream<int>("src", "s", 5, 10s).ended);  // all written and closed
  rt->send("rd", 1, "pause");
  auto h = rt->retrieve<std::vector<std::vector<int>>>("rd");
  EXPECT_EQ(h.result_for(20s), (std::vector<std::vector<int>>{{0, 1}, {2, 3, 4}}));
  EXPECT_GE(effects.count("read"), 3);  // the first read ran, and was replayed
}

// A workflow waiting in ctx.read_stream parks (no thread) and is resumed by
// the write's wake-up, not by its timeout.
TEST_F(StreamTest, AParkedReaderIsWokenByTheWrite) {
  auto cfg = keel::testing::test_config(dir);
  cfg.park_after = std::chrono::milliseconds(0);  // park at once
  cfg.poll_interval = 30s;  // no poll comes to the rescue within the test
  rt = std::make_unique<keel::Runtime>(cfg);
  auto writer = rt->register_workflow("late", [](keel::Context& ctx) {
    ctx.recv<int>("go", 60s);
    ctx.write_stream("s", std::string("hello"));
    return 0;
  });
  auto reader = rt->register_workflow("parked_reader", [](keel::Context& ctx) {
    auto b = ctx.read_stream<std::string>("late-w", "s", 0, 60s);
    return b.values;
  });
  rt->launch();
  auto w = rt->start(writer, {.workflow_id = "late-w"});
  auto r = rt->start(reader, {.workflow_id = "late-r"});
  auto& parking = keel::detail::RuntimeAccess::engine(*rt).parking();
  ASSERT_TRUE(keel::testing::eventually([&] { return parking.contains("late-r"); }, 10s));
  auto t0 = std::chrono::steady_clock::now();
  rt->send("late-w", 1, "go");
  EXPECT_EQ(r.result_for(20s), std::vector<std::string>{"hello"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  w.result_for(10s);
}

TEST_F(StreamTest, ClientReadsAndIteratesToTheEnd) {
  auto wf = register_writer(*rt, 5, /*close=*/false, nullptr);
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "cw"});
  keel::Client client(keel::ClientConfig{.database_url = keel::testing::test_db_url(dir), .poll_interval = 20ms});
  ASSERT_EQ(client.read_stream<int>("cw", "s", 4, 10s).values, std::vector<int>{4});  // all five are written
  auto b = client.read_stream<int>("cw", "s", 2, 10s);
  EXPECT_EQ(b.values, (std::vector<int>{2, 3, 4}));
  EXPECT_FALSE(b.ended);
  std::vector<int> seen;
  std::thread reader([&] {
    auto r = client.stream_reader<int>("cw", "s", 1);
    while (auto v = r.next(20s)) seen.push_back(*v);
    EXPECT_TRUE(r.ended());
  });
  std::this_thread::sleep_for(200ms);
  rt->send("cw", 1, "go");  // the workflow ends: the reader's stream ends
  reader.join();
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4}));
  h.result_for(10s);
}

TEST_F(StreamTest, BadInputIsAUsageError) {
  auto wf = rt->register_workflow("bad_key", [](keel::Context& ctx) {
    ctx.write_stream("", 1);
    return 0;
  });
  rt->launch();
  EXPECT_THROW(rt->read_stream<int>("x", "", 0, 0ms), keel::UsageError);
  EXPECT_THROW(rt->read_stream<int>("x", "s", -1, 0ms), keel::UsageError);
  EXPECT_THROW(rt->read_stream<int>("x", "s", 0, 0ms, 0), keel::UsageError);
  keel::Client client(keel::testing::test_db_url(dir));
  EXPECT_THROW(client.read_stream<int>("x", "s", -5, 0ms), keel::UsageError);
  EXPECT_THROW(rt->start(wf, {}).result_for(10s), keel::UsageError);
  // An unknown workflow's stream is empty, not ended: the read waits.
  auto b = rt->read_stream<int>("nobody", "s", 0, 50ms);
  EXPECT_TRUE(b.values.empty());
  EXPECT_FALSE(b.ended);
}

TEST_F(StreamTest, DeletingAWorkflowDeletesItsStreams) {
  auto wf = rt->register_workflow("short", [](keel::Context& ctx) {
    ctx.write_stream("s", 1);
    ctx.write_stream("s", 2);
    return 0;
  });
  rt->launch();
  rt->start(wf, {.workflow_id = "gone"}).result_for(10s);
  EXPECT_EQ(rt->read_stream<int>("gone", "s", 0, 1s).values, (std::vector<int>{1, 2}));
  rt->delete_workflow("gone");
  int64_t rows = -1;
  rt->run_sql_read([&](keel::Sql& sql) {
    auto r = sql.query(keel::testing::testing_on_postgres() ? "SELECT count(*) FROM keel.streams"
                                                            : "SELECT count(*) FROM keel_streams");
    rows = r.at(0).get_int(0);
  });
  EXPECT_EQ(rows, 0);
}

// A worker process writing a stream is SIGKILLed mid-stream and another
// recovers its workflow: a reader (a Client, in this process) that reads on
// from its next offset across the crash sees 0..n-1, each exactly once, in
// order, then the end.
using StreamCrash = RuntimeTest;

// Skips the worker's log lines up to `line`; false at its end of output.
bool await_line(keel::testing::ChildProcess& p, const std::string& line) {
  const auto deadline = keel::testing::Clock::now() + 60s;
  while (auto l = p.read_line(deadline))
    if (*l == line) return true;
  return false;
}

TEST_F(StreamCrash, KilledWriterRestartsWithoutDuplicatesOrGaps) {
  rt.reset();  // this process only reads
  const std::string url = keel::testing::test_db_url(dir);
  const int n = 40;
  auto worker = std::make_unique<keel::testing::ChildProcess>(
      KEEL_STREAM_WORKER, std::vector<std::string>{url, std::to_string(n)}, dir.file("worker.err"));
  ASSERT_TRUE(await_line(*worker, "ready"));
  keel::Client client(keel::ClientConfig{.database_url = url, .poll_interval = 20ms});
  auto reader = client.stream_reader<int>("ticker", "s");
  std::vector<int> seen;
  while (seen.size() < 8) {
    auto v = reader.next(30s);
    ASSERT_TRUE(v) << "no value within 30 s after " << seen.size();
    seen.push_back(*v);
  }
  worker->kill_now();
  worker->wait();
  const size_t at_kill = seen.size();
  // Read on while no process writes: what is there, then nothing.
  while (auto v = reader.next(300ms)) seen.push_back(*v);
  EXPECT_FALSE(reader.ended());
  EXPECT_LT(seen.size(), static_cast<size_t>(n)) << "the worker was killed after it finished";
  worker = std::make_unique<keel::testing::ChildProcess>(
      KEEL_STREAM_WORKER, std::vector<std::string>{url, std::to_string(n)}, dir.file("worker.err"));
  ASSERT_TRUE(await_line(*worker, "ready"));
  while (auto v = reader.next(30s)) seen.push_back(*v);
  EXPECT_TRUE(reader.ended());
  EXPECT_TRUE(await_line(*worker, "done"));
  EXPECT_EQ(worker->wait(), 0);
  std::vector<int> expected;
  for (int i = 0; i < n; ++i) expected.push_back(i);
  EXPECT_EQ(seen, expected) << "killed after " << at_kill << " values";
  // The stored stream, read again from the start: each value once.
  std::vector<int> stored;
  for (int64_t off = 0;;) {
    auto b = client.read_stream<int>("ticker", "s", off, 5s);
    stored.insert(stored.end(), b.values.begin(), b.values.end());
    off = b.next_offset;
    if (b.ended || b.values.empty()) break;
  }
  EXPECT_EQ(stored, expected);
}

}  // namespace
