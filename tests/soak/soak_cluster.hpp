// The PostgreSQL the soak runs on (tests/soak): the one KEEL_TEST_DATABASE_URL
// names (ctest's throwaway cluster), or else a cluster of the soak's own,
// started with scripts/pg-test-cluster.sh on the given port and a data
// directory of its own (/tmp/keel-soak-pg-<port>), stopped and removed at
// the end. The script's path is compiled in (KEEL_PG_CLUSTER_SCRIPT).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "support/test_databases.hpp"

namespace keel::soak {

class SoakCluster {
 public:
  explicit SoakCluster(int port) {
    url_ = keel::testing::test_database_url();
    if (!url_.empty()) return;
    env_ = "KEEL_PG_PORT=" + std::to_string(port) + " KEEL_PG_DATA=" + data_dir(port) + " ";
    owned_ = port;
    remove();  // left behind by a run that was killed
    url_ = output("start");
    if (url_.empty()) throw std::runtime_error("could not start a PostgreSQL cluster on 127.0.0.1:" +
                                               std::to_string(port) + " (" KEEL_PG_CLUSTER_SCRIPT ")");
    // The per-service databases (support/test_databases.hpp) go on it.
    ::setenv("KEEL_TEST_DATABASE_URL", url_.c_str(), 1);
  }
  ~SoakCluster() {
    if (owned_) remove();
  }
  SoakCluster(const SoakCluster&) = delete;
  SoakCluster& operator=(const SoakCluster&) = delete;

  const std::string& url() const { return url_; }
  bool owned() const { return owned_ != 0; }

 private:
  static std::string data_dir(int port) { return "/tmp/keel-soak-pg-" + std::to_string(port); }
  void remove() {
    (void)std::system((env_ + "'" KEEL_PG_CLUSTER_SCRIPT "' stop >/dev/null 2>&1").c_str());
    std::error_code ec;
    std::filesystem::remove_all(data_dir(owned_), ec);
    std::filesystem::remove(data_dir(owned_) + ".initdb.log", ec);
  }
  std::string output(const std::string& verb) const {
    std::string out;
    if (FILE* p = ::popen((env_ + "'" KEEL_PG_CLUSTER_SCRIPT "' " + verb).c_str(), "r")) {
      char buf[512];
      while (std::fgets(buf, sizeof buf, p)) out += buf;
      if (::pclose(p) != 0) return "";
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }
  std::string url_;
  std::string env_;
  int owned_ = 0;  // the port of the cluster this object started, 0 when given
};

}  // namespace keel::soak
