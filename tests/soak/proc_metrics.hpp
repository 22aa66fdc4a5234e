// What /proc says of one process: resident memory, threads, open file
// descriptors. Linux only; header-only.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace keel::soak {

struct ProcSample {
  double rss_kb = 0;   // VmRSS
  double threads = 0;  // Threads
  double fds = 0;      // entries of /proc/<pid>/fd
};

// nullopt when the process is gone (killed between two reads) or unreadable.
inline std::optional<ProcSample> sample_process(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream status(base + "/status");
  if (!status) return std::nullopt;
  ProcSample out;
  bool rss = false, threads = false;
  for (std::string line; std::getline(status, line);) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "VmRSS:") rss = static_cast<bool>(fields >> out.rss_kb);
    if (key == "Threads:") threads = static_cast<bool>(fields >> out.threads);
  }
  if (!rss || !threads) return std::nullopt;  // a zombie has no VmRSS
  std::error_code ec;
  for (std::filesystem::directory_iterator it(base + "/fd", ec), end; !ec && it != end; it.increment(ec)) ++out.fds;
  if (ec) return std::nullopt;
  return out;
}

}  // namespace keel::soak
