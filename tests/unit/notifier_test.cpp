// The in-process wake-ups (src/runtime/notifier.hpp): a notify wakes the
// waiters of its key only, and a payload reaches only waiters that registered
// before it was notified (a value set before a call began may be stale).
#include "runtime/notifier.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using keel::detail::Notifier;
using keel::detail::WakeKey;

std::chrono::steady_clock::time_point in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

TEST(Notifier, ANotifyWakesTheWaitersOfItsKeyOnly) {
  Notifier n;
  Notifier::Waiter a(n, "a"), b(n, "b");
  n.notify("a");
  EXPECT_TRUE(a.notified());
  EXPECT_FALSE(b.notified());
  EXPECT_TRUE(a.wait_until(in(5s)));
  EXPECT_FALSE(b.wait_until(in(20ms)));
}

TEST(Notifier, APayloadReachesOnlyWaitersRegisteredBeforeIt) {
  Notifier n;
  Notifier::Waiter early(n, "evt");
  EXPECT_EQ(early.payload(), std::nullopt);
  n.notify("evt", std::string("\"v1\""));
  Notifier::Waiter late(n, "evt");  // the slot still holds v1: not for this one
  EXPECT_EQ(early.payload(), "\"v1\"");
  EXPECT_EQ(late.payload(), std::nullopt);
  n.notify("evt");  // no payload (e.g. another process's write): v1 stays, set within early's call
  EXPECT_EQ(early.payload(), "\"v1\"");
  EXPECT_EQ(late.payload(), std::nullopt);
  n.notify("evt", std::string("\"v2\""));
  EXPECT_EQ(early.payload(), "\"v2\"");
  EXPECT_EQ(late.payload(), "\"v2\"");
}

TEST(Notifier, APayloadNotifiedWhileNobodyWaitsIsNotKept) {
  Notifier n;
  n.notify("evt", std::string("1"));
  Notifier::Waiter w(n, "evt");
  EXPECT_EQ(w.payload(), std::nullopt);
  EXPECT_FALSE(w.notified());
}

// A recv may take a message from its wake-up only when that notify was the
// only one since it registered: with two, the older message must come first,
// and the latest payload is the newer one.
TEST(Notifier, ASolePayloadIsTheOnlyNotifySinceRegistering) {
  Notifier n;
  Notifier::Waiter one(n, "msg");
  Notifier::Waiter two(n, "msg");
  EXPECT_EQ(one.sole_payload(), std::nullopt);
  n.notify("msg", std::string("m1"));
  EXPECT_EQ(one.sole_payload(), "m1");
  Notifier::Waiter late(n, "msg");
  n.notify("msg", std::string("m2"));
  EXPECT_EQ(one.sole_payload(), std::nullopt);  // two notifies: read instead
  EXPECT_EQ(late.sole_payload(), "m2");
  Notifier::Waiter bare(n, "msg");
  n.notify("msg");  // another process's write, or a poll: no payload
  EXPECT_EQ(bare.sole_payload(), std::nullopt);
  Notifier::Waiter woken(n, "msg");
  n.wake_all();
  n.notify("msg", std::string("m3"));
  EXPECT_EQ(woken.sole_payload(), std::nullopt);  // a wake_all came too
  (void)two;
}

TEST(Notifier, AWaiterInAnotherThreadWakesWithThePayload) {
  Notifier n;
  std::optional<std::string> got;
  Notifier::Waiter w(n, "evt");
  std::thread t([&] {
    while (!w.payload()) w.wait_until(in(5s));
    got = w.payload();
  });
  std::this_thread::sleep_for(10ms);
  n.notify("evt", std::string("42"));
  t.join();
  EXPECT_EQ(got, "42");
}

// AnyWaiter: many keys, one sleep (wait_first over many workflows' ends).
TEST(Notifier, AnAnyWaiterWakesOnANotifyOfAnyOfItsKeysOnly) {
  Notifier n;
  Notifier::AnyWaiter w(n, {WakeKey::done("a"), WakeKey::done("b")});
  n.notify(WakeKey::done("c"));
  EXPECT_FALSE(w.notified());
  EXPECT_FALSE(w.wait_until(in(20ms)));
  n.notify(WakeKey::done("b"));
  EXPECT_TRUE(w.notified());
  EXPECT_TRUE(w.wait_until(in(5s)));
  EXPECT_FALSE(w.notified()) << "a wait consumes the notify";
  EXPECT_EQ(w.keys().size(), 2u);
}

TEST(Notifier, AnAnyWaiterSharesItsKeysWithPlainWaitersAndLeavesNothingBehind) {
  Notifier n;
  Notifier::Waiter plain(n, WakeKey::done("a"));
  {
    Notifier::AnyWaiter any(n, {WakeKey::done("a"), WakeKey::done("a")});  // a key twice is harmless
    n.notify(WakeKey::done("a"));
    EXPECT_TRUE(any.notified());
    EXPECT_TRUE(plain.notified());
    EXPECT_TRUE(plain.wait_until(in(5s)));
  }
  n.notify(WakeKey::done("a"));  // the AnyWaiter is gone: its group must not be signalled (ASan)
  EXPECT_TRUE(plain.notified());
}

TEST(Notifier, WakeAllAndANotifyFromAnotherThreadWakeAnAnyWaiter) {
  Notifier n;
  Notifier::AnyWaiter w(n, {WakeKey::done("a"), WakeKey::done("b")});
  n.wake_all();
  EXPECT_TRUE(w.wait_until(in(5s)));
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);
    n.notify(WakeKey::done("a"));
  });
  EXPECT_TRUE(w.wait_until(in(10s)));
  t.join();
}

}  // namespace
