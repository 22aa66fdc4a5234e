// The parking lot: workflows that wait (recv, sleep, get_event, a child's
// result, wait_all, wait_first) without a thread. A waiting execution parks by registering here and
// unwinding its stack (ExecutionParked); it is resumed by replay — run again
// from the top, every recorded operation returning its recorded outcome — when
//  * one of its notifier keys is notified (in-process writes, and whatever else calls
//    Notifier::notify, e.g. a LISTEN/NOTIFY listener),
//  * its wake time passes (min of the wait's deadline and the workflow's
//    timeout): one timer thread serves every entry,
//  * a poll finds the condition true. Polls are batched: every poll interval
//    one query reads the messages that arrived since the last one (a cursor
//    over message_id) and notifies their keys; every sweep interval the
//    statuses of all parked workflows are re-read in batches (a cancel from
//    another process drops the entry), parked recvs are checked for waiting
//    messages in batches (which also covers a message the cursor missed),
//    waits on workflows' ends are woken when one of those is terminal (their
//    statuses read in batches), and parked get_event / read_stream waits are simply
//    resumed (they are rare; the replay re-reads and parks again).
// Entries live in memory only: at shutdown they are dropped and the workflows,
// still PENDING in the database, are recovered at the next launch.
//
// An entry is registered (begin) while the execution still runs, so that no
// notify between its last database read and its unwinding is lost: a notify
// of an entry that is still unwinding is remembered and settle() reports it.
// Thread-safe; the wake callback is called without the lot's lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "keel/status.hpp"
#include "runtime/notifier.hpp"
#include "sysdb/system_database.hpp"

namespace keel::detail {

class ParkingLot {
 public:
  // Called with a woken workflow's id, name and created_at_ms (see Entry).
  using Wake = std::function<void(const WorkflowInfo&)>;
  ParkingLot(sysdb::SystemDatabase& db, Notifier& notifier, Wake wake, std::chrono::milliseconds poll_interval,
             std::chrono::milliseconds sweep_interval);
  ~ParkingLot();  // stop()
  ParkingLot(const ParkingLot&) = delete;
  ParkingLot& operator=(const ParkingLot&) = delete;

  // Starts the timer/poll thread.
  void start();
  // Stops the thread and forgets every entry; begin() refuses afterwards.
  // A second call (Engine::supersede, then shutdown) joins nothing.
  void stop();

  // Registers a parking execution (still unwinding), woken by a notify of any
  // of keys; false when stopped or when the workflow is parked already. Keeps
  // info's id, name and created_at_ms only (see Entry).
  bool begin(const WorkflowInfo& info, std::vector<std::string> keys, int64_t wake_at_ms);
  // Withdraws a begin() (a notify came in before the execution unwound).
  void abort(const std::string& id);
  // The execution has unwound. True when it must be resumed at once (woken
  // while unwinding; the entry is gone); false when it stays parked, or when
  // its entry was dropped meanwhile (cancel).
  bool settle(const std::string& id);
  // Forgets a parked workflow (cancelled, resumed elsewhere).
  void drop(const std::string& id);
  bool contains(const std::string& id) const;
  size_t size() const;

  // Notifier listener: wakes the workflows parked on key.
  void on_notify(const std::string& key);

 private:
  // Only what finds the workflow again: the wake-up hands out a WorkflowInfo
  // holding just id, name and created_at_ms, and the engine reads the rest
  // from the row before the replay (Engine::load_recorded). So an entry's
  // size does not depend on the workflow's inputs, and a million of them
  // fit in well under a gigabyte (docs/performance.md, "Parked workflows").
  struct Entry {
    std::string name;
    int64_t created_at_ms = 0;
    std::vector<std::string> keys;
    int64_t wake_at_ms = 0;
    bool settled = false;         // unwound; until then a wake is only remembered
    bool wake_requested = false;
  };
  using Timer = std::pair<int64_t, std::string>;  // (wake at, workflow id)

  void run();
  // Removes the entry (under mu_).
  void erase_locked(std::unordered_map<std::string, Entry>::iterator it);
  // Wakes entry id (under mu_): settled ones are moved to out.
  void wake_locked(const std::string& id, std::vector<WorkflowInfo>& out);
  void resume_all(const std::vector<WorkflowInfo>& infos);
  void fire_timers();
  void poll_messages();
  void sweep();
  void notify_ended(std::vector<std::string> ids);

  sysdb::SystemDatabase& db_;
  Notifier& notifier_;
  Wake wake_;
  const std::chrono::milliseconds poll_interval_;
  const std::chrono::milliseconds sweep_interval_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;                                                 // guarded by mu_
  std::unordered_map<std::string, Entry> entries_;                       // guarded by mu_
  std::unordered_map<std::string, std::unordered_set<std::string>> by_key_;  // guarded by mu_
  std::set<Timer> timers_;                                               // guarded by mu_
  int64_t message_cursor_ = 0;  // the poll thread's only
  std::thread thread_;
};

}  // namespace keel::detail
