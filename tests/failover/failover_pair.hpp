// The failover pair of scripts/pg-failover-cluster.sh, owned by a test: started
// by the constructor, stopped (and its data removed) by the destructor,
// whatever the test did to it. The script and the ports are compiled in by
// tests/failover/CMakeLists.txt (KEEL_PG_FAILOVER_SCRIPT, KEEL_PG_FAILOVER_PORTS).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace keel::testing {

class FailoverPair {
 public:
  FailoverPair() {
    run("stop");  // a pair left behind by a crashed run of this test
    url_ = output("start");
    if (url_.empty()) throw std::runtime_error("pg-failover-cluster.sh start failed");
  }
  ~FailoverPair() { run("stop"); }
  FailoverPair(const FailoverPair&) = delete;
  FailoverPair& operator=(const FailoverPair&) = delete;

  // postgresql://postgres@127.0.0.1:A,127.0.0.1:B/keel_test?target_session_attrs=read-write
  const std::string& url() const { return url_; }
  // A single-host URL of one node (the current primary or standby), to look at it alone.
  std::string node_url(const std::string& which, const std::string& db = "keel_test") const {
    return "postgresql://postgres@127.0.0.1:" + output(which) + "/" + db;
  }
  std::string primary_port() const { return output("primary"); }

  // kill (SIGKILL of the primary's postmaster), promote, rebuild, failover.
  static bool run(const std::string& verb) { return std::system(command(verb + " >/dev/null").c_str()) == 0; }

 private:
  static std::string command(const std::string& rest) {
    return "KEEL_PG_FAILOVER_PORTS=" KEEL_PG_FAILOVER_PORTS " '" KEEL_PG_FAILOVER_SCRIPT "' " + rest;
  }
  static std::string output(const std::string& verb) {
    std::string out;
    if (FILE* p = ::popen(command(verb).c_str(), "r")) {
      char buf[512];
      while (std::fgets(buf, sizeof buf, p)) out += buf;
      if (::pclose(p) != 0) return "";
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }
  std::string url_;
};

}  // namespace keel::testing
