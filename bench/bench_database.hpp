// A benchmark's system database: the --db URL it was given, or else a fresh
// SQLite file under the temporary directory, removed (with its -wal and -shm
// files) when the benchmark ends, on every way out of main.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace keel::bench {

class BenchDatabase {
 public:
  // url: the --db option ("" for a temporary SQLite file named after prefix).
  BenchDatabase(std::string url, const std::string& prefix) : url_(std::move(url)) {
    if (!url_.empty()) return;
    file_ = std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()) + ".db");
    url_ = "sqlite:" + file_.string();
  }
  ~BenchDatabase() {
    if (file_.empty()) return;
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file_.string() + suffix, ec);
  }
  BenchDatabase(const BenchDatabase&) = delete;
  BenchDatabase& operator=(const BenchDatabase&) = delete;

  const std::string& url() const { return url_; }
  const char* backend() const { return url_.rfind("postgresql", 0) == 0 ? "postgresql" : "sqlite"; }

 private:
  std::string url_;
  std::filesystem::path file_;
};

}  // namespace keel::bench
