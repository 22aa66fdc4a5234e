// LISTEN/NOTIFY wake-ups (docs/postgres.md, "Wake-ups"): two Runtimes with
// their own executor ids on one database stand for two processes. Their poll
// interval is long (30 s), so a wait that ends within seconds was woken by a
// notification, not by polling. Runs only on PostgreSQL (ctest -L postgres).
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/wake_key.hpp"
#include "postgres/pg_test_support.hpp"
#include "support/runtime_fixture.hpp"
#include "sysdb/postgres/listener.hpp"

using namespace std::chrono_literals;
using keel::testing::eventually;
using keel::testing::listener_pid;
using keel::detail::WakeKey;
using keel::testing::pg_query;

namespace {

using Clock = std::chrono::steady_clock;
// Far below the 30 s poll interval: only a notification explains it.
constexpr auto kPromptly = 10s;

// A workflow that receives on "t1", then on "t2"; `stage` tells which recv
// a wait belongs to.
int receive_twice(keel::Context& ctx, std::atomic<int>& stage) {
  stage = 1;
  int x = ctx.recv<int>("t1", 60s).value_or(-1000);
  ctx.set_event("first", x);
  stage = 2;
  return x + ctx.recv<int>("t2", 60s).value_or(-1000);
}

class Wakeups : public keel::testing::RuntimeTest {
 protected:
  void SetUp() override {
    if (!keel::testing::testing_on_postgres()) GTEST_SKIP() << "KEEL_TEST_DATABASE_URL is not a postgresql:// URL";
    url = keel::testing::test_db_url(dir);
  }
  // A runtime that counts its workflows' waits ("wait.begin").
  std::unique_ptr<keel::Runtime> make(const std::string& executor, std::chrono::milliseconds poll,
                                      std::atomic<int>& waits) {
    auto c = keel::testing::test_config(dir, executor);
    c.poll_interval = poll;
    c.fault_hook = [&waits](std::string_view point) {
      if (point == "wait.begin") ++waits;
    };
    return std::make_unique<keel::Runtime>(c);
  }
  // Both register it: either executor may run it (each must know every
  // workflow it may take over).
  void launch_both_with_receive_twice(std::atomic<int>& stage) {
    for (auto* r : {a.get(), b.get()})
      r->register_workflow("twice", [&stage](keel::Context& ctx) { return receive_twice(ctx, stage); });
    a->launch();
    b->launch();
  }
  // Returns once the backend has exited.
  void kill_backend(const std::string& pid) { pg_query(url, "SELECT pg_terminate_backend(" + pid + ", 10000)"); }

  std::string url;
  std::atomic<int> a_waits{0}, b_waits{0};
  std::unique_ptr<keel::Runtime> a, b;  // destroyed before the database is dropped
};

TEST_F(Wakeups, ARecvIsWokenByAMessageFromAnotherProcess) {
  a = make("a", 30s, a_waits);
  b = make("b", 30s, b_waits);
  for (auto* r : {a.get(), b.get()})
    r->register_workflow("receiver", [](keel::Context& ctx) { return ctx.recv<int>("t", 60s).value_or(-1); });
  auto wf = keel::Workflow<int>("receiver");
  a->launch();
  b->launch();
  keel::testing::await_heard(url, {{a.get(), "a"}, {b.get(), "b"}});
  auto h = a->start(wf, {.workflow_id = "r1"});
  ASSERT_TRUE(eventually([&] { return a_waits.load() > 0; }));
  auto t0 = Clock::now();
  b->send("r1", 42, "t");
  EXPECT_EQ(h.result_for(60s), 42);
  EXPECT_LT(Clock::now() - t0, kPromptly);
}

TEST_F(Wakeups, GetEventAndResultWaitsAreWokenAcrossProcesses) {
  a = make("a", 30s, a_waits);
  b = make("b", 30s, b_waits);
  for (auto* r : {a.get(), b.get()}) {
    r->register_workflow("setter", [](keel::Context& ctx) {
      int m = ctx.recv<int>("go", 60s).value_or(-1);
      ctx.set_event("k", m * 2);
      return ctx.recv<int>("end", 60s).value_or(-1);
    });
    r->register_workflow("getter", [](keel::Context& ctx, std::string target) {
      return ctx.get_event<int>(target, "k", 60s).value_or(-1);
    });
  }
  a->launch();
  b->launch();
  keel::testing::await_heard(url, {{a.get(), "a"}, {b.get(), "b"}});
  (void)a->start(keel::Workflow<int>("setter"), {.workflow_id = "s1"});
  auto getter = b->start(keel::Workflow<int, std::string>("getter"), {.workflow_id = "g1"}, std::string("s1"));
  ASSERT_TRUE(eventually([&] { return a_waits.load() > 0 && b_waits.load() > 0; }));
  // B's workflow waits in get_event for an event that A's workflow sets once
  // B's message wakes it: two cross-process wake-ups in a row.
  auto t0 = Clock::now();
  b->send("s1", 5, "go");
  EXPECT_EQ(getter.result_for(60s), 10);
  EXPECT_LT(Clock::now() - t0, kPromptly);

  // B waits for the result of A's workflow. If the waiter is not asleep yet
  // when A finishes, it reads the result at once: the bound still holds.
  std::atomic<int> result{0};
  std::thread waiter([&] { result = b->retrieve<int>("s1").result_for(60s); });
  std::this_thread::sleep_for(300ms);
  t0 = Clock::now();
  b->send("s1", 7, "end");
  waiter.join();
  EXPECT_EQ(result.load(), 7);
  EXPECT_LT(Clock::now() - t0, kPromptly);
}

TEST_F(Wakeups, ALostListenConnectionFallsBackToPollingAndComesBack) {
  a = make("a", 500ms, a_waits);
  b = make("b", 500ms, b_waits);
  std::atomic<int> stage{0};
  keel::testing::StopAtScopeEnd stop({&a, &b});
  launch_both_with_receive_twice(stage);
  std::string pid;
  ASSERT_TRUE(eventually([&] { return !(pid = listener_pid(url, "a")).empty(); }));
  auto h = a->start(keel::Workflow<int>("twice"), {.workflow_id = "w1"});
  ASSERT_TRUE(eventually([&] { return a_waits.load() > 0; }));
  kill_backend(pid);
  auto t0 = Clock::now();
  b->send("w1", 1, "t1");
  // Woken by polling (or by the wake-everyone that follows the reconnect).
  EXPECT_EQ(b->get_event<int>("w1", "first", 60s), 1);
  EXPECT_LT(Clock::now() - t0, 5s);
  std::string again;
  ASSERT_TRUE(eventually([&] { return !(again = listener_pid(url, "a")).empty() && again != pid; }));
  b->send("w1", 2, "t2");
  EXPECT_EQ(h.result_for(60s), 3);
}

TEST_F(Wakeups, NotificationsWorkAgainAfterTheListenConnectionIsReestablished) {
  std::atomic<int> stage{0}, waiting_in{0};
  keel::testing::StopAtScopeEnd stop({&a, &b});
  auto c = keel::testing::test_config(dir, "a");
  c.poll_interval = 30s;
  c.fault_hook = [&](std::string_view point) {
    if (point == "wait.begin") waiting_in = stage.load();
  };
  a = std::make_unique<keel::Runtime>(c);
  b = make("b", 30s, b_waits);
  launch_both_with_receive_twice(stage);
  keel::testing::await_heard(url, {{a.get(), "a"}, {b.get(), "b"}});
  std::string pid;
  ASSERT_TRUE(eventually([&] { return !(pid = listener_pid(url, "a")).empty(); }));
  auto h = a->start(keel::Workflow<int>("twice"), {.workflow_id = "w2"});
  ASSERT_TRUE(eventually([&] { return waiting_in.load() == 1; }));
  // Sent while A's listener is (being) cut off: a notification A may never
  // see; the wake-everyone after the reconnect covers it.
  kill_backend(pid);
  auto t0 = Clock::now();
  b->send("w2", 1, "t1");
  ASSERT_TRUE(eventually([&] { return waiting_in.load() == 2; }));
  EXPECT_LT(Clock::now() - t0, kPromptly);
  // Once A listens again, a notification alone wakes it.
  std::string again;
  ASSERT_TRUE(eventually([&] { return !(again = listener_pid(url, "a")).empty() && again != pid; }));
  t0 = Clock::now();
  b->send("w2", 2, "t2");
  EXPECT_EQ(h.result_for(60s), 3);
  EXPECT_LT(Clock::now() - t0, kPromptly);
}

// The triggers and the listener on their own: which keys arrive, in commit
// order, and that a reconnect announces itself with "" (wake everyone).
class KeyLog {
 public:
  void add(const std::string& key) {
    std::lock_guard lock(mu_);
    keys_.push_back(key);
    cv_.notify_all();
  }
  // Waits for key to arrive after position from; returns its position.
  size_t await(const std::string& key, size_t from = 0) {
    std::unique_lock lock(mu_);
    size_t at = from;
    bool found = cv_.wait_for(lock, 20s, [&] {
      for (; at < keys_.size(); ++at)
        if (keys_[at] == key) return true;
      return false;
    });
    EXPECT_TRUE(found) << "no wake-up for key '" << key << "'";
    return at;
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu_);
    return keys_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> keys_;
};

TEST_F(Wakeups, TriggersNotifyTheRuntimesKeysOnCommitOnly) {
  rt = std::make_unique<keel::Runtime>(keel::testing::test_config(dir));
  auto wf = rt->register_workflow("evented", [](keel::Context& ctx) {
    ctx.set_event("ready", 1);
    return ctx.recv<int>("in", 60s).value_or(-1);
  });
  rt->launch();
  KeyLog log;
  keel::sysdb::postgres::Listener listener(url, "keel_listen probe", [&](const std::string& k) { log.add(k); });
  size_t at = log.await("");  // listening
  ASSERT_TRUE(eventually([&] { return keel::testing::wake_notify(*rt) == 1; }));  // and rt knows it
  auto h = rt->start(wf, {.workflow_id = "e1"});
  at = log.await(WakeKey::event("e1", "ready").encode(), at);
  // A rolled-back write notifies nobody; notifications arrive in commit order.
  EXPECT_THROW(rt->run_sql_write([](keel::Sql& sql) {
                 sql.execute("INSERT INTO keel.notifications (destination_id, topic, message, created_at) "
                             "VALUES ('e1', 'rolled-back', '1', 0)");
                 throw std::runtime_error("roll back");
               }),
               std::runtime_error);
  rt->send("e1", 9, "in");
  at = log.await(WakeKey::message("e1", "in").encode(), at);
  at = log.await(WakeKey::done("e1").encode(), at);
  EXPECT_EQ(h.result_for(10s), 9);
  for (const auto& k : log.snapshot()) EXPECT_EQ(k.find("rolled-back"), std::string::npos);
  // A key too long for a NOTIFY payload (8000 bytes) wakes everyone instead.
  rt->send("e1", 1, std::string(9000, 'x'));
  at = log.await("", at + 1);
  // A lost connection: re-established, announced by "", then keys again.
  std::string pid;
  ASSERT_TRUE(eventually([&] { return !(pid = listener_pid(url, "probe")).empty(); }));
  kill_backend(pid);
  at = log.await("", at + 1);
  rt->send("e1", 2, "later");
  log.await(WakeKey::message("e1", "later").encode(), at);
}

// A session that LISTENs on keel_wake without being a Keel listener: it
// hears every NOTIFY, and is no reason for a runtime to send one.
class RawListen {
 public:
  explicit RawListen(const std::string& url) : c_(PQconnectdb(url.c_str())) {
    EXPECT_EQ(PQstatus(c_), CONNECTION_OK) << PQerrorMessage(c_);
    PQclear(PQexec(c_, "LISTEN keel_wake"));
  }
  ~RawListen() { PQfinish(c_); }
  RawListen(const RawListen&) = delete;
  RawListen& operator=(const RawListen&) = delete;
  // The payloads that arrived since the last call.
  std::vector<std::string> heard() {
    std::vector<std::string> out;
    PQconsumeInput(c_);
    while (PGnotify* n = PQnotifies(c_)) {
      out.emplace_back(n->extra);
      PQfreemem(n);
    }
    return out;
  }

 private:
  PGconn* c_;
};

// NOTIFY only when heard (migration 15): a runtime alone sends none (its own
// waits are woken in-process), starts at once when another Keel listener
// says hello, and stops again once that one is gone.
TEST_F(Wakeups, ARuntimeNotifiesOnlyWhileAnotherProcessListens) {
  rt = std::make_unique<keel::Runtime>(keel::testing::test_config(dir));
  auto wf = rt->register_workflow("ping", [](keel::Context& ctx) {
    ctx.set_event("k", 1);
    return 1;
  });
  rt->launch();
  RawListen raw(url);
  ASSERT_TRUE(eventually([&] { return keel::testing::wake_notify(*rt) == 0; }));
  EXPECT_EQ(rt->start(wf, {.workflow_id = "alone"}).result_for(10s), 1);
  std::vector<std::string> heard;
  {
    KeyLog log;
    keel::sysdb::postgres::Listener probe(url, "keel_listen probe", [&](const std::string& k) { log.add(k); });
    size_t at = log.await("");
    ASSERT_TRUE(eventually([&] { return keel::testing::wake_notify(*rt) == 1; }));
    EXPECT_EQ(rt->start(wf, {.workflow_id = "heard"}).result_for(10s), 1);
    at = log.await(WakeKey::event("heard", "k").encode(), at);
    log.await(WakeKey::done("heard").encode(), at);
    // In commit order: whatever "alone" sent would have come first.
    ASSERT_TRUE(eventually([&] {
      for (auto& k : raw.heard()) heard.push_back(k);
      return std::find(heard.begin(), heard.end(), WakeKey::done("heard").encode()) != heard.end();
    }));
  }
  for (const auto& k : heard) EXPECT_EQ(k.find("alone"), std::string::npos) << k;
  EXPECT_NE(std::find(heard.begin(), heard.end(), WakeKey::event("heard", "k").encode()), heard.end());
  // The probe is gone: two answers in a row find nobody else.
  ASSERT_TRUE(eventually([&] { return keel::testing::wake_notify(*rt) == 0; }));
  EXPECT_EQ(rt->start(wf, {.workflow_id = "alone again"}).result_for(10s), 1);
  (void)rt->get_workflow("alone again");  // a round trip after the commit: its NOTIFY would be out
  for (const auto& k : raw.heard()) EXPECT_EQ(k.find("alone again"), std::string::npos) << k;
}

// The PL/pgSQL triggers (migration 3) build the wake-up keys in SQL; the
// runtime builds them with WakeKey::encode. They must agree to the byte, for
// awkward IDs and names too, on every trigger: a message, an event inserted
// and updated, each terminal status. Each key also decodes back.
TEST_F(Wakeups, TriggersProduceExactlyWhatWakeKeyEncodes) {
  rt = std::make_unique<keel::Runtime>(keel::testing::test_config(dir));
  const std::string id = "order 'ü' \"x\" / 42";
  const std::string topic = "pay:ment ✓";
  auto wf = rt->register_workflow("agree", [&](keel::Context& ctx, int fail) {
    ctx.set_event(topic, 1);
    ctx.set_event(topic, 2);  // an update fires the trigger again
    ctx.set_event("", 3);     // an empty key
    ctx.write_stream(topic, 4);  // a stream's row (migration 11) ...
    ctx.close_stream(topic);     // ... and its close
    int got = ctx.recv<int>(topic, 60s).value_or(-1);
    if (fail) throw std::runtime_error("fails");
    return got + ctx.recv<int>("", 60s).value_or(-1);
  });
  rt->launch();
  KeyLog log;
  keel::sysdb::postgres::Listener listener(url, "keel_listen probe", [&](const std::string& k) { log.add(k); });
  size_t at = log.await("");
  ASSERT_TRUE(eventually([&] { return keel::testing::wake_notify(*rt) == 1; }));
  auto expect_key = [&](const WakeKey& key) {
    at = log.await(key.encode(), at);
    auto decoded = WakeKey::decode(log.snapshot().at(at));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, key);
    ++at;
  };
  auto ok = rt->start(wf, {.workflow_id = id}, 0);
  expect_key(WakeKey::event(id, topic));
  expect_key(WakeKey::event(id, topic));
  expect_key(WakeKey::event(id, ""));
  expect_key(WakeKey::stream(id, topic));
  expect_key(WakeKey::stream(id, topic));
  rt->send(id, 1, topic);
  expect_key(WakeKey::message(id, topic));
  rt->send(id, 2, "");
  expect_key(WakeKey::message(id, ""));
  expect_key(WakeKey::done(id));
  EXPECT_EQ(ok.result_for(10s), 3);

  auto failing = rt->start(wf, {.workflow_id = id + " e"}, 1);
  rt->send(failing.id(), 1, topic);
  at = log.await(WakeKey::done(failing.id()).encode(), at);
  EXPECT_THROW(failing.result_for(10s), keel::RecordedError);

  auto cancelled = rt->start(wf, {.workflow_id = id + " c"}, 0);
  EXPECT_TRUE(rt->cancel(cancelled.id()));
  log.await(WakeKey::done(cancelled.id()).encode(), at);
}

}  // namespace
