/// @file
/// keel/stream.hpp — durable streams: an ordered series of values that a
/// workflow writes under a key, read from inside or outside any workflow.
///
/// Contract (docs/streams.md; docs/guarantees.md, "Streams"):
///  * ctx.write_stream(key, value) appends value at the stream's next
///    offset: 0, 1, 2, ... per (workflow, key), dense. The value and the
///    write's operation record commit together, so a write happens exactly
///    once: a replay (after a crash, a restart, a takeover) returns the
///    recorded write and does not append again.
///  * ctx.close_stream(key) ends the stream. A write to a closed stream
///    throws UsageError (the same on replay: it depends only on the
///    workflow's own operations); closing it again does nothing.
///  * A stream also ends when its workflow reaches a terminal status
///    (SUCCESS, ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED): nothing
///    can be written to it after that.
///  * A read from offset o returns the values at o, o+1, ... in offset
///    order (at most max_values), next_offset = o + their count, and ended
///    when no value will ever follow them. It waits up to `timeout` while
///    there is no value at o and the stream has not ended, and returns at
///    once otherwise. Reading from next_offset again and again sees every
///    value exactly once, in order, whoever reads and from any offset.
///  * Readers see committed values only; a written value is durable before
///    write_stream returns.
///  * ctx.read_stream is recorded like get_event: a replay returns the same
///    batch without reading, so the workflow stays deterministic; its
///    deadline is recorded, so a read interrupted by a crash waits only what
///    is left.
///
/// Not guaranteed:
///  * Promptness across processes: a reader in another process (a Client,
///    another executor) sees a write or a workflow's end at its next poll
///    (poll_interval); on PostgreSQL a write usually wakes it at once
///    (LISTEN/NOTIFY). In the writer's process, readers are woken at once.
///  * A stream of a workflow that does not exist (yet) reads as empty and
///    not ended: a read waits for it, like get_event; it does not throw.
///  * A fork (fork_workflow) does not copy its original's streams.
///  * Streams have no retention of their own: their rows are deleted with
///    their workflow (Runtime/Client delete, retention).
///
/// Bad input throws UsageError: an empty key, a negative offset,
/// max_values < 1.
///
/// Thread-safety: StreamBatch is a plain value. A StreamReader is one
/// reader's cursor: use it from one thread at a time (it calls its Runtime
/// or Client, which must outlive it). Any number of readers may read one
/// stream at the same time.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "keel/serialization.hpp"

namespace keel {

/// How many values a read returns at most unless told otherwise.
inline constexpr int kDefaultStreamBatch = 100;

/// What one read of a stream returned (keel/stream.hpp).
template <class T>
struct StreamBatch {
  /// The values at offsets [offset read from, next_offset), in order.
  std::vector<T> values;
  /// Where the next read starts: the offset read from + values.size().
  int64_t next_offset = 0;
  /// No value will ever follow next_offset: the stream was closed, or its
  /// workflow ended. Reading on returns no values and ended at once.
  bool ended = false;
};

namespace detail {
/// A batch of JSON values as a batch of T (from_json_value each;
/// SerializationError on a wrong shape).
template <class T>
StreamBatch<T> decode_stream_batch(StreamBatch<Json>&& raw) {
  if constexpr (std::is_same_v<T, Json>) {
    return std::move(raw);
  } else {
    StreamBatch<T> out;
    out.values.reserve(raw.values.size());
    for (const Json& v : raw.values) out.values.push_back(from_json_value<T>(v));
    out.next_offset = raw.next_offset;
    out.ended = raw.ended;
    return out;
  }
}
}  // namespace detail

/// A cursor over one stream, from outside any workflow: next() returns the
/// values one by one, in order, each once (made by Runtime::stream_reader or
/// Client::stream_reader). It reads ahead in batches; what it holds is lost
/// with it, so a reader that must resume elsewhere keeps offset().
template <class T>
class StreamReader {
 public:
  /// Reads one batch from an offset, waiting up to a timeout (the owner's read_stream).
  using Read = std::function<StreamBatch<Json>(int64_t offset, std::chrono::milliseconds timeout)>;

  /// A cursor that reads with `read`, from `offset` on; made by
  /// Runtime::stream_reader and Client::stream_reader.
  StreamReader(Read read, int64_t offset) : read_(std::move(read)), offset_(offset) {}

  /// The next value, waiting up to `timeout` for it; nullopt when none came
  /// in time or the stream ended (ended() tells which). SerializationError
  /// when the value does not convert to T (the reader stays at it).
  std::optional<T> next(std::chrono::milliseconds timeout) {
    if (buffer_.empty() && !ended_) {
      StreamBatch<Json> b = read_(offset_, timeout);
      for (Json& v : b.values) buffer_.push_back(std::move(v));
      ended_ = b.ended;
    }
    if (buffer_.empty()) return std::nullopt;
    T value = from_json_value<T>(buffer_.front());
    buffer_.pop_front();
    ++offset_;
    return value;
  }
  /// True once every value was returned and the stream has ended.
  bool ended() const { return ended_ && buffer_.empty(); }
  /// The offset of the value next() returns next.
  int64_t offset() const { return offset_; }

 private:
  Read read_;
  int64_t offset_;
  std::deque<Json> buffer_;
  bool ended_ = false;
};

}  // namespace keel
