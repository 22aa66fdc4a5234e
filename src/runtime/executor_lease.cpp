#include "runtime/executor_lease.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

#include "runtime/engine.hpp"

namespace keel::detail {

namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

// True when holder is a process of this host that no longer exists, or this
// very process (a previous Runtime here, or an earlier life of a process
// that got the same pid, as pid 1 in a restarted container).
bool holder_gone_from_this_host(const std::string& holder) {
  auto colon = holder.rfind(':');
  if (colon == std::string::npos || holder.substr(0, colon) != host_name()) return false;
  long pid = 0;
  try {
    pid = std::stol(holder.substr(colon + 1));
  } catch (const std::exception&) {
    return false;
  }
  if (pid <= 0) return false;
  if (pid == static_cast<long>(::getpid())) return true;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

std::string ExecutorLease::this_holder() { return host_name() + ":" + std::to_string(::getpid()); }

ExecutorLease::ExecutorLease(Engine& engine)
    : engine_(engine), executor_id_(engine.config().executor_id), holder_(this_holder()) {
  acquire();
  engine_.metrics().lease_held.set(1);
}

ExecutorLease::~ExecutorLease() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  engine_.metrics().lease_held.set(0);
  if (superseded_) return;
  try {
    engine_.db().release_lease(executor_id_, holder_);
  } catch (const std::exception& e) {
    spdlog::warn("executor '{}': cannot release the lease (it expires by itself): {}", executor_id_, e.what());
  }
}

void ExecutorLease::acquire() {
  const auto& cfg = engine_.config();
  const int64_t lease_ms = cfg.lease_timeout.count();
  sysdb::ExecutorRecord me{executor_id_, cfg.application_version, holder_, 0, 0};
  const auto deadline = std::chrono::steady_clock::now() + cfg.lease_timeout + cfg.heartbeat_interval;
  std::optional<int64_t> first_heartbeat;
  for (;;) {
    auto held = engine_.db().acquire_lease(me, lease_ms, "");
    if (held && holder_gone_from_this_host(held->holder)) held = engine_.db().acquire_lease(me, lease_ms, held->holder);
    if (!held) return;
    if (!first_heartbeat) first_heartbeat = held->heartbeat_at_ms;
    if (held->heartbeat_at_ms != *first_heartbeat || std::chrono::steady_clock::now() > deadline)
      throw ConfigError("executor_id '" + executor_id_ + "' is held by a live process (" + held->holder +
                        ", heartbeat renewed while this one waited): two live processes must not share an "
                        "executor id; give each process its own");
    std::this_thread::sleep_for(cfg.heartbeat_interval / 2);
  }
}

void ExecutorLease::start() { thread_ = std::thread([this] { run(); }); }

bool ExecutorLease::wait_for_tick() {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, engine_.config().heartbeat_interval, [&] { return stop_; });
}

void ExecutorLease::run() {
  while (!superseded_ && wait_for_tick()) {
    try {
      tick();
    } catch (const std::exception& e) {
      // The database may be down for a while: the next tick tries again.
      if (dynamic_cast<const DatabaseError*>(&e)) engine_.metrics().database_errors.inc();
      spdlog::warn("executor '{}': heartbeat failed: {}", executor_id_, e.what());
    }
  }
}

void ExecutorLease::tick() {
  if (!engine_.db().renew_lease(executor_id_, holder_)) on_lease_lost();
  if (superseded_) return;
  take_over_dead();
  claim_released();
  engine_.settle_unsure_starts();
}

// Workflows of this version that no executor holds (released by a restart
// on another version, or by the takeover of another version's executor).
void ExecutorLease::claim_released() {
  auto claimed = engine_.db().claim_released(executor_id_, engine_.config().application_version);
  if (claimed.empty()) return;
  spdlog::info("executor '{}': claimed {} released PENDING workflow(s) of version '{}'", executor_id_, claimed.size(),
               engine_.config().application_version);
  (void)engine_.recover_claimed(claimed);
}

void ExecutorLease::on_lease_lost() {
  engine_.metrics().lease_lost.inc();
  const auto& cfg = engine_.config();
  sysdb::ExecutorRecord me{executor_id_, cfg.application_version, holder_, 0, 0};
  auto held = engine_.db().acquire_lease(me, cfg.lease_timeout.count(), "");
  if (!held) {
    // A peer took this executor over while it was stalled: the workflows it
    // had then belong to the peer (the fence stops their executions here at
    // their next checkpoint). Workflows started since are still ours.
    spdlog::warn("executor '{}': lease lost (taken over after missed heartbeats); registered again", executor_id_);
    engine_.recover(engine_.db().list_pending(executor_id_));
    return;
  }
  spdlog::error("executor '{}' is now held by another process ({}): stopping every workflow running here",
                executor_id_, held->holder);
  superseded_ = true;
  engine_.metrics().lease_held.set(0);
  engine_.supersede(held->holder);
}

std::map<std::string, int64_t> ExecutorLease::dead_peers() {
  const auto lease = engine_.config().lease_timeout;
  const auto rows = engine_.db().list_executors();
  const auto now = std::chrono::steady_clock::now();
  // This process could not look for a while (an outage, a stall): peers may
  // not have been able to renew either, so what stood still then proves
  // nothing. The bound keeps a peer's renewals (every heartbeat_interval,
  // each one at most a heartbeat late) within the lease around such a gap.
  if (last_looked_ && now - *last_looked_ > lease - 2 * engine_.config().heartbeat_interval) watched_.clear();
  last_looked_ = now;
  std::map<std::string, Watch> still;
  std::map<std::string, int64_t> dead;
  for (const auto& row : rows) {
    if (row.executor_id == executor_id_) continue;
    auto it = watched_.find(row.executor_id);
    Watch w = (it != watched_.end() && it->second.heartbeat_at_ms == row.heartbeat_at_ms)
                  ? it->second
                  : Watch{row.heartbeat_at_ms, now};
    // 0: released by a clean shutdown, to be taken over at once.
    if (row.heartbeat_at_ms == 0 || now - w.since >= lease) dead.emplace(row.executor_id, row.heartbeat_at_ms);
    still.emplace(row.executor_id, w);
  }
  watched_ = std::move(still);
  return dead;
}

void ExecutorLease::take_over_dead() {
  for (const auto& [dead, heartbeat] : dead_peers()) {
    // Only this version's workflows come here; the rest are released.
    auto moved = engine_.db().take_over(dead, executor_id_, engine_.config().application_version, heartbeat);
    if (!moved) continue;  // alive again, or another executor won it
    engine_.metrics().takeovers.inc();
    if (!moved->empty())
      spdlog::warn("executor '{}': took over {} PENDING workflow(s) of executor '{}' (heartbeat stood still for "
                   "lease_timeout)",
                   executor_id_, moved->size(), dead);
    engine_.recover(*moved);
  }
}

}  // namespace keel::detail
