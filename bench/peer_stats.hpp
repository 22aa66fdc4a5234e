// Accounting of one measured phase of keel_peer_bench, the same way as the
// DBOS-TS peer harness (shared/peers/dbos-ts/bench.mjs) does it:
//  * pg_stat_statements, reset right before the phase, read right after it:
//    top-level statements (≈ client round trips), BEGIN and COMMIT counts,
//    nested statements, WAL records and server execution time, per unit;
//  * CPU: this process (all threads, getrusage) against the whole machine
//    (/proc/stat busy jiffies), per unit; the rest ≈ PostgreSQL;
//  * group commits counted by the runtime's fault hook (both backends).
// Not thread-safe: one phase at a time, from the driver's main thread.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "keel/serialization.hpp"

namespace keel_peer_bench {

struct CpuSample {
  double self_us = 0;  // this process, user + system
  uint64_t busy = 0;   // machine busy jiffies
  uint64_t total = 0;  // machine total jiffies
};

CpuSample cpu_now();

class PhaseStats {
 public:
  // stats_url: a database where pg_stat_statements is installed (any on the
  // server: the view is cluster-wide); db_name: the database whose statements
  // are counted. Empty stats_url: no SQL statistics (SQLite).
  PhaseStats(const std::string& stats_url, std::string db_name);
  ~PhaseStats();
  PhaseStats(const PhaseStats&) = delete;
  PhaseStats& operator=(const PhaseStats&) = delete;

  // Counted by the runtime's fault hook ("checkpoint.after_commit").
  std::atomic<int64_t>& commits() { return commits_; }

  void reset();  // right before a measured phase
  // Right after it: the SQLSTATS object (same fields as bench.mjs, plus
  // group_commits); writes the per-statement breakdown to results_dir.
  keel::Json read(const std::string& bench, double units, const std::string& unit, double wall_ms,
                  const std::string& results_dir);

 private:
  struct ConnDeleter {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::unique_ptr<PGconn, ConnDeleter> conn_;
  std::string db_name_;
  std::atomic<int64_t> commits_{0};
  int64_t commits0_ = 0;
  CpuSample cpu0_;
};

double r3(double x);

}  // namespace keel_peer_bench
