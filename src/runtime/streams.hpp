// What the stream operations share (keel/stream.hpp): the argument checks,
// a stored read turned into a batch, and the wait of a reader outside any
// workflow (Runtime and Client). The recorded form of ctx.read_stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "keel/errors.hpp"
#include "keel/serialization.hpp"
#include "keel/stream.hpp"
#include "runtime/notifier.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

inline void check_stream_key(std::string_view key) {
  if (key.empty()) throw UsageError("a stream key must not be empty");
}

inline void check_stream_read(std::string_view key, int64_t offset, int max_values) {
  check_stream_key(key);
  if (offset < 0) throw UsageError("a stream offset must not be negative (got " + std::to_string(offset) + ")");
  if (max_values < 1) throw UsageError("a stream read's max_values must be at least 1");
}

inline StreamBatch<Json> to_stream_batch(const sysdb::StreamRead& r, int64_t offset, const std::string& id,
                                         const std::string& key) {
  StreamBatch<Json> b;
  b.values.reserve(r.values.size());
  for (const std::string& v : r.values)
    b.values.push_back(parse_stored_json(v, "stream '" + key + "' of workflow '" + id + "'"));
  b.next_offset = offset + static_cast<int64_t>(b.values.size());
  b.ended = r.ended;
  return b;
}

// A batch as ctx.read_stream records it: {"values": [...], "next": n, "ended": b}.
inline Json stream_batch_json(const StreamBatch<Json>& b) {
  return Json{{"values", b.values}, {"next", b.next_offset}, {"ended", b.ended}};
}
inline StreamBatch<Json> stream_batch_from_json(const Json& j) {
  StreamBatch<Json> b;
  for (const Json& v : j.at("values")) b.values.push_back(v);
  b.next_offset = j.at("next").get<int64_t>();
  b.ended = j.at("ended").get<bool>();
  return b;
}

// A read outside any workflow: reads, and while there is nothing to return,
// waits on the stream's wake-up key (wait(waiter, until): the owner's
// bounded sleep, which polls) until `timeout` passes.
template <class Db, class Wait>
StreamBatch<Json> read_stream_waiting(Db&& read, Notifier& notifier, const std::string& id, const std::string& key,
                                      int64_t offset, std::chrono::milliseconds timeout, Wait&& wait) {
  auto until = std::chrono::steady_clock::now() + timeout;
  Notifier::Waiter w(notifier, WakeKey::stream(id, key));
  for (;;) {
    sysdb::StreamRead r = read();
    if (!r.values.empty() || r.ended || std::chrono::steady_clock::now() >= until)
      return to_stream_batch(r, offset, id, key);
    wait(w, until);
  }
}

}  // namespace keel::detail
