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
// Takeover: at every heartbeat each live executor looks for expired rows and
// claims each in one transaction (see SystemDatabase::take_over): exactly one
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
// with what it still owns; when another live process holds the id now, it
// stops every execution here (and heartbeats no more).
//
// Thread-safety: owned by the Engine; start() once; the destructor stops the
// thread (RAII) and releases the lease so that a live peer takes over what
// this executor leaves PENDING without waiting for lease_timeout.
#pragma once

#include <condition_variable>
#include <mutex>
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

  Engine& engine_;
  const std::string executor_id_;
  const std::string holder_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;        // guarded by mu_
  bool superseded_ = false;  // heartbeat thread only
  std::thread thread_;
};

}  // namespace keel::detail
