// A fresh directory under /tmp for one test, removed at the end.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace keel::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "keel-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string db_url(const std::string& name = "keel.db") const { return "sqlite:" + file(name); }

 private:
  std::filesystem::path path_;
};

}  // namespace keel::testing
