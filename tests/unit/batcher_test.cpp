// The batching core of the committers (src/sysdb/batcher.hpp): every item
// runs exactly once, one batch per lane at a time, and items that only lane
// 0 takes never run elsewhere.
#include "sysdb/batcher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using keel::sysdb::Batcher;

struct Item {
  int value = 0;
  bool lane0_only = false;
  int runs = 0;   // written by the executing leader only
  int lane = -1;  // the lane that ran it
};

// Runs kThreads x kEach items through a batcher of `lanes` lanes; execute
// records, per lane, how many batches overlapped.
struct Harness {
  static constexpr int kThreads = 12, kEach = 40;
  std::atomic<int> in_flight{0}, max_in_flight{0};
  std::mutex mu;
  std::vector<bool> lane_busy = std::vector<bool>(4, false);
  bool lane_overlap = false;  // two batches at once on one lane: a bug

  void execute(std::vector<Item*>& batch, size_t lane) {
    {
      std::lock_guard l(mu);
      if (lane_busy[lane]) lane_overlap = true;
      lane_busy[lane] = true;
    }
    int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a commit's latency
    for (Item* it : batch) {
      ++it->runs;
      it->lane = static_cast<int>(lane);
    }
    --in_flight;
    std::lock_guard l(mu);
    lane_busy[lane] = false;
  }

  std::vector<Item> run(Batcher<Item>& b) {
    std::vector<Item> items(kThreads * kEach);
    for (size_t i = 0; i < items.size(); ++i) {
      items[i].value = static_cast<int>(i);
      items[i].lane0_only = i % 3 == 0;
    }
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i)
          b.submit(items[t * kEach + i], [this](std::vector<Item*>& batch, size_t lane) { execute(batch, lane); });
      });
    for (auto& t : ts) t.join();
    return items;
  }
};

TEST(Batcher, OneLaneRunsEveryItemOnceAndOneBatchAtATime) {
  Harness h;
  Batcher<Item> b(256);
  auto items = h.run(b);
  for (const Item& it : items) EXPECT_EQ(it.runs, 1) << it.value;
  EXPECT_EQ(h.max_in_flight.load(), 1);
  EXPECT_FALSE(h.lane_overlap);
}

TEST(Batcher, TwoLanesOverlapAndLaneZeroOnlyItemsStayOnLaneZero) {
  Harness h;
  Batcher<Item> b(256, 2, [](const Item& it) { return !it.lane0_only; });
  auto items = h.run(b);
  for (const Item& it : items) {
    EXPECT_EQ(it.runs, 1) << it.value;
    if (it.lane0_only) {
      EXPECT_EQ(it.lane, 0) << it.value;
    }
  }
  EXPECT_FALSE(h.lane_overlap);
  EXPECT_EQ(h.max_in_flight.load(), 2);  // both lanes were used at once
  EXPECT_TRUE(std::any_of(items.begin(), items.end(), [](const Item& it) { return it.lane == 1; }));
}

TEST(Batcher, BatchesRespectMaxBatch) {
  Harness h;
  std::atomic<size_t> largest{0};
  Batcher<Item> b(3);
  std::vector<Item> items(64);
  std::vector<std::thread> ts;
  for (auto& it : items)
    ts.emplace_back([&] {
      b.submit(it, [&](std::vector<Item*>& batch, size_t lane) {
        size_t seen = largest.load();
        while (batch.size() > seen && !largest.compare_exchange_weak(seen, batch.size())) {}
        h.execute(batch, lane);
      });
    });
  for (auto& t : ts) t.join();
  for (const Item& it : items) EXPECT_EQ(it.runs, 1);
  EXPECT_LE(largest.load(), 3u);
}

}  // namespace

namespace {

// A unit that submits to the batcher running it would wait for its own
// batch: submit refuses at once with UsageError (the backstop behind the
// runtime's transaction-body check). Another batcher stays usable.
TEST(Batcher, ASubmitFromInsideItsOwnBatchIsAUsageErrorNotAHang) {
  Batcher<Item> b(8), other(8);
  Item outer, inner, elsewhere;
  bool refused = false;
  b.submit(outer, [&](std::vector<Item*>& batch, size_t) {
    for (Item* it : batch) ++it->runs;
    try {
      b.submit(inner, [](std::vector<Item*>&, size_t) {});
    } catch (const keel::UsageError&) {
      refused = true;
    }
    other.submit(elsewhere, [](std::vector<Item*>& batch2, size_t) {
      for (Item* it : batch2) ++it->runs;
    });
  });
  EXPECT_TRUE(refused);
  EXPECT_EQ(outer.runs, 1);
  EXPECT_EQ(inner.runs, 0);
  EXPECT_EQ(elsewhere.runs, 1);
  // Outside any batch, submitting works again.
  b.submit(inner, [](std::vector<Item*>& batch, size_t) {
    for (Item* it : batch) ++it->runs;
  });
  EXPECT_EQ(inner.runs, 1);
}

}  // namespace
