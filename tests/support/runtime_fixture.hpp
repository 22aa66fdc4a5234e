// Test support: a Runtime on a fresh SQLite file, and a counter of side
// effects that survives replays (steps increment it; tests assert counts).
//
// Backend selection: when the environment variable KEEL_TEST_DATABASE_URL
// holds a postgresql:// URL (an administrative database on a test cluster,
// see scripts/pg-test-cluster.sh), each TempDir stands for a fresh PostgreSQL
// database instead of a file: test_config(dir) creates it on first use
// (keel_t_<pid>_<dir suffix>) and it is dropped when the RuntimeTest ends (or
// at process exit). Unset, tests run on SQLite files as before.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "keel/keel.hpp"
#include "support/eventually.hpp"
#include "support/temp_dir.hpp"
#include "support/test_databases.hpp"

namespace keel::testing {

class EffectCounter {
 public:
  void hit(const std::string& what) {
    std::lock_guard lock(mu_);
    ++counts_[what];
  }
  int count(const std::string& what) {
    std::lock_guard lock(mu_);
    return counts_[what];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> counts_;
};

inline RuntimeConfig test_config(const TempDir& dir, const std::string& executor = "test") {
  RuntimeConfig c;
  c.database_url = test_db_url(dir);
  c.executor_id = executor;
  c.poll_interval = std::chrono::milliseconds(50);
  c.sqlite_synchronous = SqliteSync::Normal;
  return c;
}

// Stops runtimes when the scope ends. A fixture's runtime outlives the test
// body, and its heartbeats, waits and workflows go on calling its fault hook
// and workflow code until it stops: a hook or workflow that refers to the
// body's locals must be stopped before they go (else it writes into a dead
// stack frame; TSan once crashed on that). Declare it after those locals.
// release, when given, runs first: it lets go workflows that wait for the
// test, which would otherwise hold the shutdown.
class StopAtScopeEnd {
 public:
  explicit StopAtScopeEnd(std::vector<std::unique_ptr<Runtime>*> runtimes, std::function<void()> release = {})
      : runtimes_(std::move(runtimes)), release_(std::move(release)) {}
  ~StopAtScopeEnd() {
    if (release_) release_();
    for (auto* r : runtimes_) r->reset();
  }
  StopAtScopeEnd(const StopAtScopeEnd&) = delete;
  StopAtScopeEnd& operator=(const StopAtScopeEnd&) = delete;

 private:
  std::vector<std::unique_ptr<Runtime>*> runtimes_;
  std::function<void()> release_;
};

class RuntimeTest : public ::testing::Test {
 protected:
  ~RuntimeTest() override {
    rt.reset();
    if (testing_on_postgres()) detail::PgTestDatabases::instance().drop(detail::database_for(dir));
  }
  void SetUp() override { rt = std::make_unique<Runtime>(test_config(dir)); }
  // Simulates a clean restart: shut down, open a new Runtime on the same file.
  // The caller registers workflows on the new runtime, then launches it.
  void restart(const std::string& executor = "test") {
    rt.reset();
    rt = std::make_unique<Runtime>(test_config(dir, executor));
  }
  TempDir dir;
  EffectCounter effects;
  std::unique_ptr<Runtime> rt;
};

}  // namespace keel::testing
