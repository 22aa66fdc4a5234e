// LISTEN/NOTIFY wake-ups for waits in this process caused by other
// processes' writes (docs/postgres.md, "Wake-ups").
//
// A Listener owns one libpq connection of its own and one thread. The thread
// connects (without blocking: shutdown never waits for a slow server), runs
// LISTEN keel_wake and hands every notification's payload to the sink: a
// runtime notifier key ("msg:...", "evt:...", "done:..."), or "" for "wake
// every waiter". Triggers created by the migrations send the notifications
// (migrations.cpp, version 2).
//
// Guarantees: after each successful LISTEN (the first one and every one after
// a lost connection) the sink gets "" once, because notifications sent while
// not listening are lost. A lost connection is re-established with backoff
// (50 ms doubling to 2 s). Notifications are hints: waiters always re-read the
// database, and their polling (RuntimeConfig::poll_interval) covers whatever a
// lost connection misses.
// Notifications sent by a session for which is_own(pid) holds (this
// process's writer connections) are skipped: whoever made such a write wakes
// this process's waiters itself, after its commit and with what it wrote
// (Notifier payloads), and a second wake-up from the server would only race
// it and make the waiter read.
// Whether another process listens (docs/postgres.md, "Wake-ups"): once
// listening, the thread sends a hello (NOTIFY with kHelloPayload) and asks
// the server, right away and then every second, whether any other Keel LISTEN
// session (application_name "keel_listen ...") is connected to the database;
// others_listen(bool) gets true at once on another session's hello or an
// answer that found one, false after two answers in a row found none (an
// answer asked before a hello heard meanwhile counts as finding one), and
// true when the connection is lost (unknown, so assume they do). A process that
// starts listening is thus heard of by the others within one round trip of
// its hello; one that leaves, within a second.
// Non-guarantees: no notification is delivered twice on purpose, but nothing
// depends on that.
// Thread-safety: the sink runs on the listener's thread. The destructor stops
// the thread and returns promptly (it wakes the thread through a pipe).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace keel::sysdb::postgres {

inline constexpr const char* kWakeChannel = "keel_wake";
// Sent by a listener once it listens; never a wake-up key (WakeKey's have a
// "kind:" prefix), so an older listener treats it as a key nobody waits for.
inline constexpr const char* kHelloPayload = "listening";
// The prefix of every LISTEN session's application_name.
inline constexpr const char* kListenerApplicationName = "keel_listen ";
// A listener's periodic question: how many other Keel LISTEN sessions are
// connected to this database (its own excluded).
inline std::string peer_check_sql() {
  return std::string(
             "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE datname = pg_catalog.current_database() AND "
             "pid <> pg_catalog.pg_backend_pid() AND pg_catalog.starts_with(application_name, '") +
         kListenerApplicationName + "')";
}

class Listener {
 public:
  using Sink = std::function<void(const std::string& key)>;
  using IsOwn = std::function<bool(int backend_pid)>;
  using OthersListen = std::function<void(bool)>;

  // application_name (kListenerApplicationName + a name) identifies the
  // connection in pg_stat_activity. is_own and others_listen (may be empty)
  // run on the listener's thread.
  Listener(std::string url, std::string application_name, Sink sink, IsOwn is_own = {},
           OthersListen others_listen = {});
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();
  };
  enum class Ready { Yes, Timeout, Stop };

  void run();
  // One connection's life: connect, LISTEN, deliver until it is lost or the
  // listener stops. True when it got as far as LISTEN (the backoff restarts).
  bool serve_once();
  // Waits until fd is readable (or writable), the timeout passes or stop.
  Ready wait_for(int fd, bool for_write, std::chrono::milliseconds timeout);
  void deliver(const char* channel, const char* payload, int sender_pid, int own_pid);
  void tell_others_listen(bool yes) const {
    if (others_listen_) others_listen_(yes);
  }

  std::string url_;
  std::string application_name_;
  Sink sink_;
  IsOwn is_own_;
  OthersListen others_listen_;
  // Listener thread only: a hello heard during the peer check in flight;
  // answers in a row that found no other listener.
  bool hello_heard_ = false;
  int alone_answers_ = 0;
  Fd stop_read_;
  Fd stop_write_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace keel::sysdb::postgres
