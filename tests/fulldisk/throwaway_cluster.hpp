// A PostgreSQL cluster of one test (scripts/pg-test-cluster.sh with
// KEEL_PG_DATA), typically on a TmpfsMount: started by the test, halted
// (immediately) and cleaned up on every way out, before the mount goes.
// Its port is the test's own: each full-disk test has one, apart from the
// suite's cluster (KEEL_PG_TEST_PORT) and the failover pair, so that ctest -j
// never fills (or crashes) another test's server.
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "support/sql_probe.hpp"

namespace keel::testing {

// `env_var`'s value when set, else `fallback`.
inline int port_from_env(const char* env_var, int fallback) {
  const char* v = std::getenv(env_var);
  return v && *v ? std::atoi(v) : fallback;
}

class ThrowawayCluster {
 public:
  ThrowawayCluster(int port, std::string data, std::string log)
      : port_(port), data_(std::move(data)), log_(std::move(log)) {}
  ~ThrowawayCluster() {
    run("halt immediate");
    run("stop");
  }
  ThrowawayCluster(const ThrowawayCluster&) = delete;
  ThrowawayCluster& operator=(const ThrowawayCluster&) = delete;

  bool start() { return run("start"); }
  int port() const { return port_; }
  std::string url(const std::string& db = "keel_test") const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }
  std::string admin_url() const { return url("postgres"); }
  std::string server_log() const { return slurp(data_ + "/server.log"); }
  std::string script_log() const { return slurp(log_); }

  // True while the server answers a query.
  bool answers() const {
    try {
      query_rows(admin_url(), "SELECT 1");
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

 private:
  bool run(const std::string& verb) {
    const std::string cmd = "KEEL_PG_PORT=" + std::to_string(port_) + " KEEL_PG_DATA='" + data_ + "' '" +
                            KEEL_PG_CLUSTER_SCRIPT + "' " + verb + " >>'" + log_ + "' 2>&1";
    return std::system(cmd.c_str()) == 0;
  }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  int port_;
  std::string data_;
  std::string log_;
};

// Runs one statement (a command or a query); throws with the server's message.
inline void pg_exec(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK)
    throw std::runtime_error("cannot connect to " + url + ": " + PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), sql.c_str()), &PQclear);
  const auto st = PQresultStatus(res.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(res.get()) + PQerrorMessage(conn.get()));
}

// Both installed and allowed here: root (the tmpfs mount; PostgreSQL runs as
// `postgres`) and a PostgreSQL server. Empty when the test can run, else why not.
inline std::string throwaway_cluster_skip_reason() {
  if (::geteuid() != 0) return "the full-disk tests mount a tmpfs: run them as root";
  if (std::system("command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1") != 0)
    return "PostgreSQL is not installed";
  return "";
}

}  // namespace keel::testing
