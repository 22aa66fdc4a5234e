#include "peer_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace keel_peer_bench {

double r3(double x) { return std::round(x * 1000) / 1000; }

CpuSample cpu_now() {
  CpuSample s;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  s.self_us = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
              static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  std::ifstream f("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  s.busy = user + nice + system + irq + softirq + steal;
  s.total = s.busy + idle + iowait;
  return s;
}

namespace {

struct Res {
  PGresult* r;
  explicit Res(PGresult* p) : r(p) {}
  ~Res() { PQclear(r); }
  Res(const Res&) = delete;
  Res& operator=(const Res&) = delete;
};

void check(PGconn* c, const Res& res, const char* what) {
  auto st = PQresultStatus(res.r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    throw std::runtime_error(std::string(what) + ": " + PQerrorMessage(c));
}

bool starts_with_word(const std::string& q, const char* word) {
  size_t i = q.find_first_not_of(" \t\n");
  if (i == std::string::npos) return false;
  for (size_t k = 0; word[k]; ++k, ++i)
    if (i >= q.size() || std::tolower(static_cast<unsigned char>(q[i])) != word[k]) return false;
  return true;
}

}  // namespace

PhaseStats::PhaseStats(const std::string& stats_url, std::string db_name) : db_name_(std::move(db_name)) {
  if (stats_url.empty()) return;
  conn_.reset(PQconnectdb(stats_url.c_str()));
  if (PQstatus(conn_.get()) != CONNECTION_OK)
    throw std::runtime_error("stats connection: " + std::string(PQerrorMessage(conn_.get())));
}

PhaseStats::~PhaseStats() = default;

void PhaseStats::reset() {
  if (conn_) {
    Res r(PQexec(conn_.get(), "SELECT pg_stat_statements_reset()"));
    check(conn_.get(), r, "pg_stat_statements_reset");
  }
  commits0_ = commits_.load();
  cpu0_ = cpu_now();
}

keel::Json PhaseStats::read(const std::string& bench, double units, const std::string& unit, double wall_ms,
                            const std::string& results_dir) {
  CpuSample c1 = cpu_now();
  const double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
  double machine_us = static_cast<double>(c1.busy - cpu0_.busy) * 1e6 / tck;
  double self_us = c1.self_us - cpu0_.self_us;
  keel::Json cpu = {
      {"keel_cpu_us", r3(self_us / units)},
      {"other_cpu_us", r3(std::max(0.0, machine_us - self_us) / units)},
      {"machine_busy_pct",
       r3(100.0 * static_cast<double>(c1.busy - cpu0_.busy) / std::max<double>(1, static_cast<double>(c1.total - cpu0_.total)))},
  };
  double group_commits = static_cast<double>(commits_.load() - commits0_);
  keel::Json out = {{"bench", bench}, {"unit", unit}, {"units", units}, {"cpu_per_unit", cpu}, {"wall_ms", r3(wall_ms)}};
  out["group_commits_per_unit"] = r3(group_commits / units);
  if (!conn_) return out;

  const char* params[1] = {db_name_.c_str()};
  Res res(PQexecParams(conn_.get(),
                       "SELECT s.toplevel, s.calls::bigint, s.total_exec_time, s.wal_records::bigint, "
                       "regexp_replace(s.query, '\\s+', ' ', 'g') FROM pg_stat_statements s "
                       "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 "
                       "AND s.query NOT ILIKE '%pg_stat_statements%' ORDER BY s.calls DESC",
                       1, nullptr, params, nullptr, nullptr, 0));
  check(conn_.get(), res, "pg_stat_statements");
  double top = 0, nested = 0, commits = 0, begins = 0, wal = 0, exec_ms = 0;
  std::ostringstream lines;
  for (int i = 0; i < PQntuples(res.r); ++i) {
    bool toplevel = std::string(PQgetvalue(res.r, i, 0)) == "t";
    double calls = std::strtod(PQgetvalue(res.r, i, 1), nullptr);
    std::string query = PQgetvalue(res.r, i, 4);
    if (toplevel) {
      top += calls;
      exec_ms += std::strtod(PQgetvalue(res.r, i, 2), nullptr);
      if (starts_with_word(query, "commit")) commits += calls;
      if (starts_with_word(query, "begin")) begins += calls;
    } else {
      nested += calls;
    }
    wal += std::strtod(PQgetvalue(res.r, i, 3), nullptr);
    char head[96];
    std::snprintf(head, sizeof head, "%9.3f /%s  %8.0f calls  %s  ", calls / units, unit.c_str(), calls,
                  toplevel ? "top " : "nest");
    lines << head << query.substr(0, 220) << '\n';
  }
  out["per_unit"] = {{"toplevel_statements", r3(top / units)}, {"begin", r3(begins / units)},
                     {"commit", r3(commits / units)},        {"nested_statements", r3(nested / units)},
                     {"wal_records", r3(wal / units)},       {"server_exec_ms", r3(exec_ms / units)}};
  if (!results_dir.empty()) {
    std::filesystem::create_directories(results_dir);
    std::ofstream(results_dir + "/sqlstats-keel-" + bench + ".txt") << lines.str();
  }
  return out;
}

}  // namespace keel_peer_bench
