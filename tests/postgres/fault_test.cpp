// The server goes away mid-run (issue: "PostgreSQL stopped for 0-2 s every
// 5-40 s through a run of workflows, send/recv and set/get_event: every result
// exact, nothing lost or doubled").
//
// A chaos thread stops the test's own cluster (pg_ctl stop -m immediate or
// fast) for a random 0-2 s at random intervals and starts it again, while a
// driver runs rounds of producer/consumer workflow pairs: steps whose effects
// are counted outside the database, a transaction, set/get_event, send/recv
// between workflows and from outside. A workflow whose unit fails past its
// retries stays PENDING (ExecutionInterrupted); the driver starts the same ID
// again, which runs it on from its checkpoints. At the end every result must
// be exact, every message consumed once, every transaction applied once.
//
// Seeded and short for CI (25 s of rounds, an outage every 2-6 s). Knobs:
//   KEEL_FAULT_SEED, KEEL_FAULT_SECONDS, KEEL_FAULT_MIN_GAP_MS,
//   KEEL_FAULT_MAX_GAP_MS, KEEL_FAULT_MAX_DOWN_MS
// The long run: KEEL_FAULT_SECONDS=900 KEEL_FAULT_MIN_GAP_MS=5000
// KEEL_FAULT_MAX_GAP_MS=40000. The cluster it stops is the one on
// KEEL_PG_FAULT_PORT (compiled in by tests/postgres/CMakeLists.txt, with the
// script that runs it); KEEL_TEST_DATABASE_URL must point at that port.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "postgres/pg_test_support.hpp"
#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::pg_query;

namespace {

using Clock = std::chrono::steady_clock;

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : fallback;
}

// Stops and restarts the cluster at random instants until stopped; the
// server is running again when stop() returns.
class Chaos {
 public:
  Chaos(uint64_t seed, std::chrono::milliseconds min_gap, std::chrono::milliseconds max_gap,
        std::chrono::milliseconds max_down)
      : rng_(seed), min_gap_(min_gap), max_gap_(max_gap), max_down_(max_down) {
    thread_ = std::thread([this] { run(); });
  }
  ~Chaos() { stop(); }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  int outages() const { return outages_.load(); }

  static bool cluster(const std::string& verb) {
    std::string cmd = "KEEL_PG_PORT=" + std::to_string(KEEL_PG_FAULT_PORT) + " '" KEEL_PG_CLUSTER_SCRIPT "' " + verb +
                      " >/dev/null";
    return std::system(cmd.c_str()) == 0;
  }

 private:
  // Sleeps d unless stopped; false when stopped.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [&] { return stopping_; });
  }
  std::chrono::milliseconds pick(std::chrono::milliseconds lo, std::chrono::milliseconds hi) {
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(lo.count(), hi.count())(rng_));
  }
  void run() {
    while (pause(pick(min_gap_, max_gap_))) {
      bool immediate = std::uniform_int_distribution<int>(0, 1)(rng_) == 1;
      auto down = pick(0ms, max_down_);
      std::printf("chaos: PostgreSQL stopped (%s) for %lld ms\n", immediate ? "immediate" : "fast",
                  static_cast<long long>(down.count()));
      EXPECT_TRUE(cluster(immediate ? "halt immediate" : "halt fast"));
      ++outages_;
      std::this_thread::sleep_for(down);  // the outage lasts even if the run ends meanwhile
      EXPECT_TRUE(cluster("start"));
    }
  }

  std::mt19937_64 rng_;
  std::chrono::milliseconds min_gap_, max_gap_, max_down_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::atomic<int> outages_{0};
  std::thread thread_;
};

class ServerOutages : public keel::testing::RuntimeTest {
 protected:
  void SetUp() override {
    // Never stop a cluster that the URL does not point at.
    std::string port = ":" + std::to_string(KEEL_PG_FAULT_PORT) + "/";
    if (keel::testing::test_database_url().find(port) == std::string::npos)
      GTEST_SKIP() << "KEEL_TEST_DATABASE_URL is not the fault cluster (port " << KEEL_PG_FAULT_PORT << ")";
    url = keel::testing::test_db_url(dir);
    auto c = keel::testing::test_config(dir, "fault");
    c.poll_interval = 200ms;
    rt = std::make_unique<keel::Runtime>(c);
  }
  void TearDown() override {
    Chaos::cluster("start");  // whatever happened, leave the server running
  }

  // Runs fn until it does not throw DatabaseError (the server is away).
  template <class F>
  auto retry(F fn) {
    for (;;) {
      try {
        return fn();
      } catch (const keel::DatabaseError&) {
        std::this_thread::sleep_for(100ms);
      }
    }
  }

  std::string url;
};

std::string producer_id(int round, int i) { return "p-" + std::to_string(round) + "-" + std::to_string(i); }
std::string consumer_id(int round, int i) { return "c-" + std::to_string(round) + "-" + std::to_string(i); }

TEST_F(ServerOutages, EveryResultIsExactAndNothingIsLostOrDoubled) {
  const auto seed = static_cast<uint64_t>(env_int("KEEL_FAULT_SEED", 20261124));
  const auto run_for = std::chrono::seconds(env_int("KEEL_FAULT_SECONDS", 25));
  std::printf("seed %llu (KEEL_FAULT_SEED)\n", static_cast<unsigned long long>(seed));

  // producer(i): a = 3i; returns a + ack = a + (2a + 1) = 9i + 1.
  auto producer = rt->register_workflow("producer", [this](keel::Context& ctx, int i, std::string consumer) {
    int a = ctx.step("produce", [&] {
      effects.hit("produce " + ctx.workflow_id());
      return 3 * i;
    });
    ctx.transaction("ledger", [&](keel::Sql& sql) {
      return sql.execute("INSERT INTO fault_ledger (workflow_id, amount) VALUES ($1, $2)",
                         {ctx.workflow_id(), int64_t{a}});
    });
    ctx.set_event("ready", a);
    ctx.send(consumer, a + 1, "data");
    return a + ctx.recv<int>("ack", 120s).value_or(-1000000);
  });
  // consumer(i): data = a + 1, event = a, ext = 7i; returns 2a + 1 + 7i = 13i + 1.
  auto consumer = rt->register_workflow("consumer", [this](keel::Context& ctx, int i, std::string producer_wf) {
    (void)i;
    int data = ctx.recv<int>("data", 120s).value_or(-1000000);
    int event = ctx.get_event<int>(producer_wf, "ready", 120s).value_or(-1000000);
    int ext = ctx.recv<int>("ext", 120s).value_or(-1000000);
    int c = ctx.step("consume", [&] {
      effects.hit("consume " + ctx.workflow_id());
      return data + event;
    });
    ctx.send(producer_wf, c, "ack");
    return c + ext;
  });
  rt->launch();
  rt->run_sql_write([](keel::Sql& sql) {
    sql.execute("CREATE TABLE fault_ledger (workflow_id TEXT NOT NULL, amount BIGINT NOT NULL)");
  });

  constexpr int kPairs = 6;
  int rounds = 0;
  std::vector<std::string> failures;
  {
    Chaos chaos(seed, std::chrono::milliseconds(env_int("KEEL_FAULT_MIN_GAP_MS", 2000)),
                std::chrono::milliseconds(env_int("KEEL_FAULT_MAX_GAP_MS", 6000)),
                std::chrono::milliseconds(env_int("KEEL_FAULT_MAX_DOWN_MS", 2000)));
    const auto end = Clock::now() + run_for;
    for (int round = 0; Clock::now() < end && failures.empty(); ++round, ++rounds) {
      auto start_pair = [&](int i) {
        retry([&] { return rt->start(consumer, {.workflow_id = consumer_id(round, i)}, i, producer_id(round, i)); });
        retry([&] { return rt->start(producer, {.workflow_id = producer_id(round, i)}, i, consumer_id(round, i)); });
      };
      for (int i = 0; i < kPairs; ++i) {
        start_pair(i);
        // From outside a workflow: a key makes a send whose answer was lost safe to repeat.
        retry([&] {
          rt->send(consumer_id(round, i), 7 * i, "ext", consumer_id(round, i) + ":ext");
          return 0;
        });
      }
      // Await every result. A workflow that gave up on an unavailable server
      // stays PENDING with no thread: starting its ID again runs it on.
      const auto give_up = Clock::now() + 180s;
      for (int i = 0; i < kPairs; ++i) {
        for (auto [id, expected] : {std::pair{producer_id(round, i), 9 * i + 1},
                                    std::pair{consumer_id(round, i), 13 * i + 1}}) {
          for (;;) {
            try {
              int got = rt->retrieve<int>(id).result_for(2s);
              if (got != expected)
                failures.push_back(id + ": " + std::to_string(got) + " != " + std::to_string(expected));
              break;
            } catch (const keel::TimeoutError&) {
              for (int j = 0; j < kPairs; ++j) start_pair(j);  // a no-op for those still running
            } catch (const keel::DatabaseError&) {
              std::this_thread::sleep_for(100ms);
            } catch (const std::exception& e) {
              failures.push_back(id + ": " + e.what());
              break;
            }
            if (Clock::now() > give_up) {
              failures.push_back(id + ": not finished after 180 s");
              break;
            }
          }
        }
      }
    }
    chaos.stop();
    std::printf("%d rounds of %d pairs, %d outages\n", rounds, kPairs, chaos.outages());
    EXPECT_GT(chaos.outages(), 0);
  }
  for (const auto& f : failures) ADD_FAILURE() << f;
  ASSERT_TRUE(failures.empty());

  // Read from outside: nothing PENDING, each transaction and each message once.
  const int workflows = rounds * kPairs * 2;
  EXPECT_EQ(pg_query(url, "SELECT count(*) FROM keel.workflow_status WHERE status = 'SUCCESS'"),
            std::to_string(workflows));
  EXPECT_EQ(pg_query(url, "SELECT count(*) FROM keel.workflow_status WHERE status <> 'SUCCESS'"), "0");
  EXPECT_EQ(pg_query(url, "SELECT count(*) FROM fault_ledger"), std::to_string(workflows / 2));
  EXPECT_EQ(pg_query(url, "SELECT count(DISTINCT workflow_id) FROM fault_ledger"), std::to_string(workflows / 2));
  EXPECT_EQ(pg_query(url, "SELECT count(*) FROM fault_ledger WHERE amount <> 3 * split_part(workflow_id, '-', 3)::int"),
            "0");
  EXPECT_EQ(pg_query(url, "SELECT count(*) FROM keel.notifications"), std::to_string(3 * workflows / 2));
  EXPECT_EQ(pg_query(url, "SELECT count(*) FROM keel.notifications WHERE consumed <> 1"), "0");
  EXPECT_EQ(pg_query(url, "SELECT count(*) FROM (SELECT destination_id, topic FROM keel.notifications "
                          "GROUP BY destination_id, topic HAVING count(*) <> 1) dup"),
            "0");
  EXPECT_EQ(pg_query(url, "SELECT count(*) FROM keel.workflow_events"), std::to_string(workflows / 2));
  // Steps: at least once each (a step's effect may repeat if its checkpoint was lost).
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < kPairs; ++i) {
      EXPECT_GE(effects.count("produce " + producer_id(round, i)), 1);
      EXPECT_GE(effects.count("consume " + consumer_id(round, i)), 1);
    }
  }
}

}  // namespace
