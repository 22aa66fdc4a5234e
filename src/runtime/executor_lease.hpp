// This process's lease on its executor id, and the takeover of dead
// executors' PENDING workflows (scale-out without a control plane).
//
// Lease: a row in the executors table naming the holder process
// ("host:pid"), renewed by a background thread every heartbeat_interval. An
// executor whose row was not renewed for lease_timeout is dead.
//
// Acquire (launch): taken at once when the row is absent, expired, or held by
// a process of this host that no longer exists (a restart after a crash).
// Otherwise the holder's heartbeat is watched for up to lease_timeout: if it
// moves, a live process holds the id and ConfigError is thrown; if the row
// expires, it is taken.
//
// Death: each live executor watches its peers' heartbeat values at every
// heartbeat, and a peer is dead when its value has not moved for lease_timeout
// of the watcher's monotonic clock (or was released: 0). Not by comparing the
// value with a wall clock: a wall-clock step (NTP, a VM resumed) larger than
// the lease would make every live executor look dead at once. The watch
// starts when the watcher first sees a value, and starts again after the
// watcher itself could not look for lease_timeout - 2 * heartbeat_interval (a
// database outage or a stall: nobody could renew meanwhile), so a peer is declared dead only
// after it was watched standing still, with the watcher live, for a whole
// lease: a dead executor's workflows move between lease_timeout and
// lease_timeout + 2 * heartbeat_interval after its last renewal (or after
// the watcher's launch, for a row already dead then).
//
// Takeover: each dead peer is claimed in one transaction (see
// SystemDatabase::take_over, conditional on the watched value): exactly one
// claimant wins a dead executor, moves its PENDING workflows to itself and
// replays them (Engine::recover, counting a recovery attempt as launch does).
// Versions: a takeover moves only the dead executor's workflows of the
// claimant's application version; the others are released (executor_id
// '') and each heartbeat claims the released workflows of its own version,
// so a workflow only ever runs on code of the version that recorded it.
//
// Fencing: checkpoints and the final status are written only while the
// workflow still belongs to this executor (the backends check executor_id in
// the same statement/lock as status). A process that stalled past its lease
// and lost its workflows therefore writes nothing more for them; its steps in
// flight may still run once more (steps are at-least-once). When the
// heartbeat finds the row gone, the executor registers again and carries on
// with what it still owns; when another live process holds the id now, this
// one is superseded (Engine::supersede): it stops every execution here,
// forgets its parked ones, starts and dequeues nothing more, and heartbeats
// no more.
//
// Thread-safety: owned by the Engine; start() once; the destructor stops the
// thread (RAII) and releases the lease so that a live peer takes over what
// this executor leaves PENDING without waiting for lease_timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace keel::detail {

class Engine;

class ExecutorLease {
 public:
  // Takes the lease; throws ConfigError when a live process holds the id.
  explicit ExecutorLease(Engine& engine);
  ~ExecutorLease();
  ExecutorLease(const ExecutorLease&) = delete;
  ExecutorLease& operator=(const ExecutorLease&) = delete;

  // Starts the heartbeat thread.
  void start();

  // "host:pid" of this process.
  static std::string this_holder();

 private:
  void acquire();
  void run();
  void tick();
  void on_lease_lost();
  void take_over_dead();
  void claim_released();
  bool wait_for_tick();  // false when stopping
  // The peers whose heartbeat stood still for a lease (id → watched value).
  std::map<std::string, int64_t> dead_peers();

  // A peer's heartbeat value and since when (this process's monotonic
  // clock) it has not moved.
  struct Watch {
    int64_t heartbeat_at_ms;
    std::chrono::steady_clock::time_point since;
  };

  Engine& engine_;
  const std::string executor_id_;
  const std::string holder_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;        // guarded by mu_
  bool superseded_ = false;  // heartbeat thread only
  std::map<std::string, Watch> watched_;                              // heartbeat thread only
  std::optional<std::chrono::steady_clock::time_point> last_looked_;  // heartbeat thread only
  std::thread thread_;
};

}  // namespace keel::detail
