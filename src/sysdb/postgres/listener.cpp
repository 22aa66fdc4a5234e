#include "sysdb/postgres/listener.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>

namespace keel::sysdb::postgres {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMinBackoff{50};
constexpr milliseconds kMaxBackoff{2000};
// A connection attempt that makes no progress for this long is given up.
constexpr milliseconds kConnectTimeout{10000};
// The idle wait is woken by the stop pipe; the timeout is only a safety net.
constexpr milliseconds kIdleWait{1000};
// How often the listener asks whether other processes listen.
constexpr milliseconds kPeerCheckInterval{1000};

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

void ignore_notice(void*, const char*) {}

std::string error_of(PGconn* c) {
  std::string msg = c ? PQerrorMessage(c) : "out of memory";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

// Starts a non-blocking connection. Keepalives make a silently dead server
// (network cut) show as a lost connection; the URL's own settings win over
// them (expand_dbname: later keywords override earlier ones), and
// application_name wins over the URL's.
ConnPtr start_connect(const std::string& url, const std::string& application_name) {
  const char* keys[] = {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "dbname", "application_name", nullptr};
  const char* values[] = {"1", "30", "10", "3", url.c_str(), application_name.c_str(), nullptr};
  return ConnPtr(PQconnectStartParams(keys, values, /*expand_dbname=*/1));
}

}  // namespace

Listener::Fd::~Fd() {
  if (fd >= 0) ::close(fd);
}

Listener::Listener(std::string url, std::string application_name, Sink sink, IsOwn is_own,
                   OthersListen others_listen)
    : url_(std::move(url)),
      application_name_(std::move(application_name)),
      sink_(std::move(sink)),
      is_own_(std::move(is_own)),
      others_listen_(std::move(others_listen)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe for the LISTEN thread");
  stop_read_.fd = fds[0];
  stop_write_.fd = fds[1];
  thread_ = std::thread([this] { run(); });
}

Listener::~Listener() {
  stop_.store(true);
  char byte = 1;
  (void)!::write(stop_write_.fd, &byte, 1);
  if (thread_.joinable()) thread_.join();
}

void Listener::run() {
  milliseconds backoff = kMinBackoff;
  bool was_lost = false;
  while (!stop_.load()) {
    bool served = serve_once();
    tell_others_listen(true);  // not listening: nothing is known of the others
    if (served) {
      backoff = kMinBackoff;
      was_lost = false;
      continue;
    }
    if (stop_.load()) break;
    if (!was_lost) spdlog::warn("LISTEN {}: no connection; retrying (waits poll meanwhile)", kWakeChannel);
    was_lost = true;
    if (wait_for(-1, false, backoff) == Ready::Stop) break;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

Listener::Ready Listener::wait_for(int fd, bool for_write, milliseconds timeout) {
  pollfd fds[2] = {{stop_read_.fd, POLLIN, 0}, {fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0}};
  int n = ::poll(fds, fd >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
  if (stop_.load()) return Ready::Stop;
  if (n <= 0) return Ready::Timeout;  // EINTR counts as a timeout: the caller loops
  return fd >= 0 && fds[1].revents != 0 ? Ready::Yes : Ready::Timeout;
}

bool Listener::serve_once() {
  ConnPtr conn = start_connect(url_, application_name_);
  if (!conn || PQstatus(conn.get()) == CONNECTION_BAD) return false;
  // Connect without blocking, so that the destructor never waits for a slow server.
  auto deadline = std::chrono::steady_clock::now() + kConnectTimeout;
  for (PostgresPollingStatusType st = PGRES_POLLING_WRITING; st != PGRES_POLLING_OK;) {
    if (st == PGRES_POLLING_FAILED || std::chrono::steady_clock::now() >= deadline) return false;
    Ready r = wait_for(PQsocket(conn.get()), st == PGRES_POLLING_WRITING, milliseconds(200));
    if (r == Ready::Stop) return false;
    if (r == Ready::Yes) st = PQconnectPoll(conn.get());
  }
  // The server's last words before it closes (FATAL: terminating ...) arrive
  // as a notice while idle; the lost connection is what counts.
  PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
  const int own_pid = PQbackendPID(conn.get());
  const std::string listen = std::string("LISTEN ") + kWakeChannel + "; NOTIFY " + kWakeChannel + ", '" +
                             kHelloPayload + "'";
  const std::string peer_check = peer_check_sql();
  if (!PQsendQuery(conn.get(), listen.c_str())) return false;
  enum class Asked { Listen, PeerCheck, Nothing } asked = Asked::Listen;
  bool listening = false;
  bool peer_check_works = true;
  alone_answers_ = 0;
  auto next_check = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    if (PQsocket(conn.get()) < 0) return listening;  // libpq dropped it
    auto now = std::chrono::steady_clock::now();
    if (listening && asked == Asked::Nothing && peer_check_works && now >= next_check) {
      if (!PQsendQuery(conn.get(), peer_check.c_str())) return listening;
      asked = Asked::PeerCheck;
      hello_heard_ = false;
      next_check = now + kPeerCheckInterval;
    }
    auto wait = kIdleWait;
    if (listening && asked == Asked::Nothing && peer_check_works)
      wait = std::clamp(std::chrono::duration_cast<milliseconds>(next_check - now), milliseconds(1), kIdleWait);
    Ready r = wait_for(PQsocket(conn.get()), false, wait);
    if (r == Ready::Stop) break;
    if (r == Ready::Timeout) continue;
    if (!PQconsumeInput(conn.get())) {
      spdlog::warn("LISTEN {}: connection lost: {}", kWakeChannel, error_of(conn.get()));
      return listening;
    }
    while (!PQisBusy(conn.get())) {
      ResultPtr res(PQgetResult(conn.get()));
      if (!res) {
        // The query asked is answered. LISTEN counts once the whole query
        // committed (its own answer comes before the COMMIT).
        if (asked == Asked::Listen && !listening) {
          listening = true;
          // Whatever was sent while nobody listened is lost: every waiter re-reads.
          sink_("");
        }
        asked = Asked::Nothing;
        break;
      }
      ExecStatusType st = PQresultStatus(res.get());
      if (asked == Asked::PeerCheck) {
        if (st == PGRES_TUPLES_OK && PQntuples(res.get()) == 1) {
          // A hello heard meanwhile may come from a session this answer
          // missed; and one answer alone may predate a listener whose hello
          // is still on its way: off only after two.
          if (hello_heard_ || std::atoll(PQgetvalue(res.get(), 0, 0)) > 0) {
            alone_answers_ = 0;
            tell_others_listen(true);
          } else if (++alone_answers_ >= 2) {
            tell_others_listen(false);
          }
        } else {
          // Not answerable here (a server without starts_with, a view made
          // unreadable): assume others listen, and stop asking.
          spdlog::warn("LISTEN {}: cannot tell whether other processes listen ({}): every write notifies",
                       kWakeChannel, PQresultErrorMessage(res.get()));
          tell_others_listen(true);
          peer_check_works = false;
        }
        continue;
      }
      if (st != PGRES_COMMAND_OK) {
        // LISTEN failed, or the server reports an error (it is going away).
        spdlog::warn("LISTEN {}: {}", kWakeChannel, PQresultErrorMessage(res.get()));
        return listening;
      }
    }
    while (PGnotify* n = PQnotifies(conn.get())) {
      deliver(n->relname, n->extra, n->be_pid, own_pid);
      PQfreemem(n);
    }
    if (PQstatus(conn.get()) == CONNECTION_BAD) return listening;
  }
  return true;
}

void Listener::deliver(const char* channel, const char* payload, int sender_pid, int own_pid) {
  if (std::strcmp(channel, kWakeChannel) != 0) return;
  if (std::strcmp(payload, kHelloPayload) == 0) {
    if (sender_pid != own_pid) {
      hello_heard_ = true;
      alone_answers_ = 0;
      tell_others_listen(true);
    }
    return;
  }
  if (is_own_ && is_own_(sender_pid)) return;
  // '*' stands for a key too long for a payload: wake everyone.
  std::string key = std::strcmp(payload, "*") == 0 ? std::string() : std::string(payload);
  sink_(key);
}

}  // namespace keel::sysdb::postgres
