// The wake-up key: what a waiter waits on (Notifier::Waiter, a parked
// workflow's entry) and what a write that may make it runnable notifies.
// One agreement between the runtime, the Client and the PostgreSQL wake-up
// triggers (migration 3 in src/sysdb/postgres/migrations.cpp), which build
// the same text in PL/pgSQL and send it with NOTIFY; the test
// Wakeups.TriggersProduceExactlyWhatWakeKeyEncodes (tests/postgres) checks that
// they agree.
//
// Text forms (frozen: triggers in existing databases build the first three):
//   msg:<workflow id>\x1f<topic>   a message arrived for (workflow, topic)
//   evt:<workflow id>\x1f<key>     the workflow set event <key>
//   done:<workflow id>             the workflow reached a terminal status
//   sleep:<workflow id>            in-process only: a durable sleep's waiter
//   retry:<workflow id>            in-process only: parked until the database is back
//   queues                         in-process only: a queue may have a free slot
//   stm:<workflow id>\x1f<key>     the workflow wrote to (or closed) stream <key> (migration 11)
// decode(encode(k)) == k whenever the workflow id holds no '\x1f'.
// Thread-safety: a plain value type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel::detail {

struct WakeKey {
  enum class Kind { Message, Event, Done, Sleep, Retry, Queues, Stream };

  Kind kind = Kind::Done;
  std::string workflow_id;  // empty for Queues
  std::string name;         // Message: the topic; Event: the event's key; otherwise empty

  static WakeKey message(std::string destination_id, std::string topic) {
    return {Kind::Message, std::move(destination_id), std::move(topic)};
  }
  static WakeKey event(std::string workflow_id, std::string key) {
    return {Kind::Event, std::move(workflow_id), std::move(key)};
  }
  static WakeKey done(std::string workflow_id) { return {Kind::Done, std::move(workflow_id), {}}; }
  static WakeKey sleep(std::string workflow_id) { return {Kind::Sleep, std::move(workflow_id), {}}; }
  static WakeKey retry(std::string workflow_id) { return {Kind::Retry, std::move(workflow_id), {}}; }
  static WakeKey queues() { return {Kind::Queues, {}, {}}; }
  static WakeKey stream(std::string workflow_id, std::string key) {
    return {Kind::Stream, std::move(workflow_id), std::move(key)};
  }

  [[nodiscard]] std::string encode() const;
  // nullopt for a text that is none of the forms above.
  [[nodiscard]] static std::optional<WakeKey> decode(std::string_view text);

  bool operator==(const WakeKey&) const = default;
};

// What an in-process notify of a message carries (Notifier payload): the
// message inserted, so that a recv woken by its send takes it without
// reading it back. Encoded "<message id>\x1f<JSON text>".
struct MessagePayload {
  int64_t message_id = 0;
  std::string message;  // JSON text

  [[nodiscard]] std::string encode() const;
  [[nodiscard]] static std::optional<MessagePayload> decode(std::string_view text);
};

}  // namespace keel::detail
