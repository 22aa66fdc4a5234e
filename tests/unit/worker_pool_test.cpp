// WorkerPool (src/runtime/worker_pool.hpp): at most max_threads tasks run
// unsuspended and at most max_suspended are suspended, so the pool holds at
// most max_threads + max_suspended threads; a suspended task's place under
// max_threads goes to the queue's next task.
#include "runtime/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

#include "support/eventually.hpp"

using namespace std::chrono_literals;
using keel::detail::WorkerPool;
using keel::testing::eventually;

namespace {

TEST(WorkerPool, ASuspendedTaskGivesItsPlaceToTheNextAndTheLimitsHold) {
  WorkerPool pool(/*max_threads=*/1, /*max_suspended=*/1);
  std::promise<void> release_a, release_b;
  auto a_released = release_a.get_future().share();
  auto b_released = release_b.get_future().share();
  std::atomic<int> a_suspended{-1}, b_suspended{-1};
  std::atomic<bool> b_ran{false}, c_ran{false};
  pool.submit([&] {
    a_suspended = pool.suspend_current() ? 1 : 0;
    a_released.wait();
  });
  ASSERT_TRUE(eventually([&] { return a_suspended.load() == 1; }));
  pool.submit([&] {
    b_ran = true;
    b_suspended = pool.suspend_current() ? 1 : 0;  // the one suspended place is taken
    b_released.wait();
  });
  ASSERT_TRUE(eventually([&] { return b_ran.load(); })) << "the suspended task kept its place under max_threads";
  ASSERT_TRUE(eventually([&] { return b_suspended.load() == 0; }));
  pool.submit([&] { c_ran = true; });
  std::this_thread::sleep_for(100ms);  // give a wrongly started third task time to run
  EXPECT_FALSE(c_ran.load()) << "two tasks ran unsuspended with max_threads 1";
  EXPECT_EQ(pool.load().backlog, 1u);
  EXPECT_EQ(pool.load().suspended, 1u);
  EXPECT_LE(pool.threads(), 2u);
  release_b.set_value();
  ASSERT_TRUE(eventually([&] { return c_ran.load(); }));
  release_a.set_value();
  ASSERT_TRUE(eventually([&] { return pool.load().suspended == 0; }));
  EXPECT_LE(pool.threads(), 2u);
  pool.stop();
}

TEST(WorkerPool, SuspendingOffAPoolThreadOrWithNoPlacesIsRefused) {
  WorkerPool none(/*max_threads=*/2, /*max_suspended=*/0);
  EXPECT_FALSE(none.suspend_current()) << "the test's own thread is no pool thread";
  std::promise<bool> got;
  none.submit([&] { got.set_value(none.suspend_current()); });
  EXPECT_FALSE(got.get_future().get());
  EXPECT_EQ(none.load().suspended, 0u);
}

}  // namespace
