// The self-test of tests/tsan/run_test.sh (tests/tsan/CMakeLists.txt): a
// test process that exits 0 although a child of it had a data race, as a
// test that SIGKILLs the shop or a crash worker would. The child races two
// threads on a plain int (TSan reports it at once, into its log_path file),
// then waits to be killed; the parent SIGKILLs it, so the child never exits
// with TSan's exit code and only the report file tells.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace {
int shared_counter = 0;  // deliberately unsynchronized

[[noreturn]] void racy_child(int ready_fd) {
  std::thread t([] { ++shared_counter; });
  ++shared_counter;
  t.join();
  // The report is written (write(2), unbuffered) before the race's access
  // returns; tell the parent, then wait for SIGKILL.
  (void)!::write(ready_fd, "r", 1);
  for (;;) ::pause();
}
}  // namespace

int main() {
  int fds[2];
  if (::pipe(fds) != 0) return 2;
  pid_t pid = ::fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    ::close(fds[0]);
    racy_child(fds[1]);
  }
  ::close(fds[1]);
  char c;
  if (::read(fds[0], &c, 1) != 1) return 2;
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::printf("child %d killed by signal %d; the probe exits 0\n", static_cast<int>(pid),
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return 0;
}
