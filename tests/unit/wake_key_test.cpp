// The wake-up key (src/common/wake_key.hpp): its text forms are frozen
// (PostgreSQL triggers in existing databases build them; the trigger side is
// tests/postgres/wakeup_test.cpp), and decode inverts encode.
#include "common/wake_key.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using keel::detail::MessagePayload;
using keel::detail::WakeKey;

TEST(WakeKey, EncodesTheFrozenTextForms) {
  EXPECT_EQ(WakeKey::message("w1", "pay").encode(), std::string("msg:w1\x1f") + "pay");
  EXPECT_EQ(WakeKey::event("w1", "ready").encode(), std::string("evt:w1\x1f") + "ready");
  EXPECT_EQ(WakeKey::done("w1").encode(), "done:w1");
  EXPECT_EQ(WakeKey::sleep("w1").encode(), "sleep:w1");
  EXPECT_EQ(WakeKey::retry("w1").encode(), "retry:w1");
  EXPECT_EQ(WakeKey::queues().encode(), "queues");
  EXPECT_EQ(WakeKey::stream("w1", "progress").encode(), std::string("stm:w1\x1f") + "progress");
}

TEST(WakeKey, DecodeInvertsEncodeForEveryKind) {
  std::vector<WakeKey> keys{WakeKey::message("order 'ü' 1", "pay:ment"), WakeKey::message("w", ""),
                            WakeKey::event("w:2", "k:v"), WakeKey::event("", ""),
                            WakeKey::done("done:nested"), WakeKey::sleep("s"),
                            WakeKey::retry("r"), WakeKey::queues(), WakeKey::stream("w", "s:1"),
                            WakeKey::stream("", "")};
  for (const WakeKey& k : keys) {
    auto back = WakeKey::decode(k.encode());
    ASSERT_TRUE(back.has_value()) << k.encode();
    EXPECT_EQ(*back, k) << k.encode();
  }
}

TEST(WakeKey, TextsOfNoFormDecodeToNothing) {
  for (std::string text : {"", "msg:no-separator", "evt:", "other:w1", "queue", "MSG:w\x1ft"})
    EXPECT_FALSE(WakeKey::decode(text).has_value()) << text;
}

TEST(MessagePayload, RoundTripsAndRefusesMalformedText) {
  MessagePayload p{42, R"({"a":"b\u001f"})"};
  auto back = MessagePayload::decode(p.encode());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->message_id, 42);
  EXPECT_EQ(back->message, p.message);
  EXPECT_FALSE(MessagePayload::decode("no separator").has_value());
  EXPECT_FALSE(MessagePayload::decode("x1\x1f{}").has_value());
  EXPECT_FALSE(MessagePayload::decode("\x1f{}").has_value());
}

}  // namespace
