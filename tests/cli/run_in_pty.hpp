// Runs a program with a pseudo-terminal as its stdin, stdout and stderr (as
// a person's shell would), to test what it prints for a person: isatty(1)
// is true and TIOCGWINSZ gives the width asked for. Links -lutil (forkpty).
#pragma once

#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace keel::testing {

struct PtyResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout and stderr as the terminal showed them, "\r\n" made "\n"
};

inline PtyResult run_in_pty(const std::string& program, const std::vector<std::string>& args, int columns) {
  std::vector<std::string> argv_s{program};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  winsize size{};
  size.ws_row = 50;
  size.ws_col = static_cast<unsigned short>(columns);
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) throw std::runtime_error(std::string("forkpty: ") + std::strerror(errno));
  if (pid == 0) {  // child: only async-signal-safe calls until exec
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  PtyResult result;
  char buf[4096];
  for (;;) {  // until the child closes the terminal: EIO on Linux
    ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) result.output.append(buf, static_cast<size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  close(master);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.output.erase(std::remove(result.output.begin(), result.output.end(), '\r'), result.output.end());
  return result;
}

}  // namespace keel::testing
