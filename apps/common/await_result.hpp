// An HTTP handler waiting on a workflow's result, for at most a bound, that
// gives up early when the work cannot go on: the workflows of this process
// are parked on a full system database disk (keel::Runtime::
// storage_full_since). It then throws keel::StorageFullError, which the
// HttpService answers 503 "storage_full" with Retry-After: the workflow stays
// PENDING and resumes by itself once space is freed, and the client repeats
// the request (with its idempotency key) later, instead of holding a
// connection for the whole bound.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>

#include "keel/errors.hpp"
#include "keel/handle.hpp"
#include "keel/runtime.hpp"

namespace keel::apps {

// How often the wait looks at the runtime's storage-full state.
inline constexpr std::chrono::milliseconds kStorageFullLook{1000};

// Throws keel::StorageFullError when rt's workflows are parked on a full disk.
inline void throw_if_storage_full(const keel::Runtime& rt, const std::string& what) {
  if (rt.storage_full_since())
    throw keel::StorageFullError("the system database's disk is full; " + what +
                                 " waits for space (it resumes by itself)");
}

// h's result within `timeout` (keel::TimeoutError after it, as result_for),
// or keel::StorageFullError as soon as rt's workflows are parked on a full
// disk; every other outcome is result_for's.
template <class R>
R await_result(const keel::Runtime& rt, const keel::Handle<R>& h, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    try {
      return h.result_for(std::clamp(left, std::chrono::milliseconds(0), kStorageFullLook));
    } catch (const keel::TimeoutError&) {
      if (left <= kStorageFullLook) throw;
      throw_if_storage_full(rt, "workflow " + h.id());
    }
  }
}

}  // namespace keel::apps
