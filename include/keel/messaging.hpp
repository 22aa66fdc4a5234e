/// @file
/// keel/messaging.hpp — the typed send / get_event / read_stream that Runtime
/// and Client share, over each one's JSON-level send_erased /
/// get_event_erased / read_stream_erased.
///
/// Contract:
///  * send converts the message with to_json_value and passes it, with the
///    topic and idempotency key, to the owner's send_erased unchanged.
///  * get_event returns nullopt when the owner's get_event_erased finds no
///    event within the timeout, else the value decoded with from_json_value
///    (SerializationError on a wrong shape).
///  * read_stream decodes each value of the owner's read_stream_erased batch
///    with from_json_value; stream_reader makes a StreamReader on it
///    (keel/stream.hpp has the stream contract).
///  * What delivery, waiting and errors mean is the owner's: see
///    keel/runtime.hpp and keel/client.hpp. Not meant to be used on its own.
///
/// Thread-safety: as the owner's erased methods; the mixin holds no state.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "keel/serialization.hpp"
#include "keel/stream.hpp"

namespace keel::detail {

/// The typed send / get_event / read_stream of Runtime and Client (keel/messaging.hpp).
/// CRTP rather than free functions so the typed API keeps its member-call
/// syntax while the erased calls stay private to each owner, which befriends
/// this base.
template <class Owner>
class TypedMessaging {
 public:
  /// Sends a message from outside any workflow. With an idempotency key, the
  /// message is delivered once however often it is sent. Throws
  /// WorkflowNotFoundError when the destination does not exist.
  template <class T>
  void send(const std::string& destination_id, const T& message, const std::string& topic = "",
            const std::string& idempotency_key = "") {
    owner().send_erased(destination_id, topic, to_json_value(message), idempotency_key);
  }

  /// Waits up to `timeout` for the event to be set; nullopt when it is not.
  template <class T>
  std::optional<T> get_event(const std::string& workflow_id, const std::string& key,
                             std::chrono::milliseconds timeout) {
    auto v = owner().get_event_erased(workflow_id, key, timeout);
    if (!v) return std::nullopt;
    return from_json_value<T>(*v);
  }

  /// Reads the stream `key` of workflow `workflow_id` from `offset`: at most
  /// max_values values, waiting up to `timeout` while there is none and the
  /// stream has not ended (keel/stream.hpp). UsageError on an empty key, a
  /// negative offset, max_values < 1.
  template <class T>
  StreamBatch<T> read_stream(const std::string& workflow_id, const std::string& key, int64_t offset,
                             std::chrono::milliseconds timeout, int max_values = kDefaultStreamBatch) {
    return decode_stream_batch<T>(owner().read_stream_erased(workflow_id, key, offset, timeout, max_values));
  }

  /// A cursor over the stream `key` of workflow `workflow_id`, from
  /// `offset`; it reads through this owner, which must outlive it.
  template <class T>
  StreamReader<T> stream_reader(const std::string& workflow_id, const std::string& key, int64_t offset = 0) {
    Owner* o = &owner();
    return StreamReader<T>(
        [o, workflow_id, key](int64_t from, std::chrono::milliseconds timeout) {
          return o->read_stream_erased(workflow_id, key, from, timeout, kDefaultStreamBatch);
        },
        offset);
  }

 protected:
  /// Protected so an owner is never destroyed through this base.
  ~TypedMessaging() = default;

 private:
  Owner& owner() { return static_cast<Owner&>(*this); }
};

}  // namespace keel::detail
