// The group committer: batching, per-unit failure isolation, commit failure.
#include "sysdb/group_commit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using keel::sysdb::GroupCommitter;
using keel::sysdb::TransactionVerbs;

// An in-memory "database": units append to a pending list, commit publishes.
struct FakeDb {
  std::mutex mu;
  std::vector<int> committed, pending;
  size_t savepoint_mark = 0;
  std::atomic<int> commits{0};
  bool fail_next_commit = false;

  TransactionVerbs verbs() {
    return TransactionVerbs{
        .begin = [this] { pending.clear(); },
        .commit =
            [this] {
              if (fail_next_commit) {
                fail_next_commit = false;
                throw std::runtime_error("disk full");
              }
              std::lock_guard l(mu);
              committed.insert(committed.end(), pending.begin(), pending.end());
              ++commits;
            },
        .rollback = [this] { pending.clear(); },
        .savepoint = [this] { savepoint_mark = pending.size(); },
        .release_savepoint = [] {},
        .rollback_to_savepoint = [this] { pending.resize(savepoint_mark); },
    };
  }
};

TEST(GroupCommit, ConcurrentUnitsShareCommitsAndAllLand) {
  FakeDb db;
  GroupCommitter gc(db.verbs(), nullptr);
  constexpr int kThreads = 8, kEach = 200;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        gc.run([&] {
          db.pending.push_back(t * kEach + i);
          std::this_thread::yield();
        });
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(db.committed.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_LE(db.commits.load(), kThreads * kEach);
}

TEST(GroupCommit, AFailingUnitIsRolledBackAloneAndSeesItsError) {
  FakeDb db;
  GroupCommitter gc(db.verbs(), nullptr);
  gc.run([&] { db.pending.push_back(1); });
  EXPECT_THROW(gc.run([&] {
    db.pending.push_back(2);
    throw std::logic_error("unit failed");
  }),
               std::logic_error);
  gc.run([&] { db.pending.push_back(3); });
  EXPECT_EQ(db.committed, (std::vector<int>{1, 3}));
}

TEST(GroupCommit, ACommitFailureReachesTheCallerAndWritesNothing) {
  FakeDb db;
  GroupCommitter gc(db.verbs(), nullptr);
  db.fail_next_commit = true;
  EXPECT_THROW(gc.run([&] { db.pending.push_back(7); }), std::runtime_error);
  EXPECT_TRUE(db.committed.empty());
  gc.run([&] { db.pending.push_back(8); });
  EXPECT_EQ(db.committed, std::vector<int>{8});
}

TEST(GroupCommit, FaultPointsSurroundEachCommit) {
  FakeDb db;
  std::vector<std::string> points;
  GroupCommitter gc(db.verbs(), [&](std::string_view p) { points.emplace_back(p); });
  gc.run([&] { db.pending.push_back(1); });
  EXPECT_EQ(points, (std::vector<std::string>{"checkpoint.before_commit", "checkpoint.after_commit"}));
}

TEST(GroupCommit, ALeaseWriteAloneFiresNoFaultPointsButSharesACheckpointsCommit) {
  FakeDb db;
  std::atomic<int> points{0};
  GroupCommitter gc(db.verbs(), [&](std::string_view) { ++points; });
  gc.run([&] { db.pending.push_back(1); }, /*fault_points=*/false);
  EXPECT_EQ(points.load(), 0);
  // A quiet unit and a checkpoint in one batch: the commit is the checkpoint's.
  std::atomic<bool> release{false};
  std::thread holder([&] { gc.run([&] { while (!release.load()) std::this_thread::yield(); }, false); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the holder leads
  std::thread quiet([&] { gc.run([&] { db.pending.push_back(2); }, false); });
  std::thread loud([&] { gc.run([&] { db.pending.push_back(3); }); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // both queued behind the holder
  release = true;
  holder.join();
  quiet.join();
  loud.join();
  EXPECT_GE(points.load(), 2);  // before and after the checkpoint's commit
  EXPECT_EQ(db.committed.size(), 3u);
}

}  // namespace
