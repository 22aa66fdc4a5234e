// Debouncing in one Runtime: the calls, and the debouncer thread that fires
// due bursts (keel/debounce.hpp, docs/debounce.md).
//
// Exactly once per burst: a fire is one transaction that deletes the
// burst's row (if it still targets the same ID and is due) and inserts its
// workflow; racing firers serialise on the row, and the losers find nothing.
//
// Threads: start() (after the engine's launch) runs one thread; stop()
// (before the engine's shutdown, and in the destructor) ends and joins it.
// The thread fires the due bursts of this Runtime's registered workflow
// names, then sleeps until the earliest fire time it read, at most a second
// (to see other processes' bursts); a local call wakes it to read again.
// Thread-safety: thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "keel/debounce.hpp"
#include "keel/serialization.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

class Engine;

class Debouncer {
 public:
  explicit Debouncer(Engine& engine) : engine_(engine) {}
  ~Debouncer() { stop(); }
  Debouncer(const Debouncer&) = delete;
  Debouncer& operator=(const Debouncer&) = delete;

  // Runtime::debounce: records the call; returns the burst's target ID.
  std::string call(const std::string& workflow_name, const DebounceOptions& options, Json inputs);
  void start();
  void stop();

 private:
  void loop();
  // Fires what is due; returns the epoch ms to look again.
  int64_t pass();
  void fire(const sysdb::DebounceRow& row);
  void fault(std::string_view point);  // RuntimeConfig::fault_hook

  Engine& engine_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool woken_ = false;     // guarded by mu_: look again now
  std::mutex thread_mu_;
  std::thread thread_;  // guarded by thread_mu_
};

}  // namespace keel::detail
