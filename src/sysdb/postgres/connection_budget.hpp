// How many PostgreSQL connections one process's Runtime opens at most: the
// bound docs/postgres.md promises, and the soak (tests/soak) checks against
// pg_stat_activity.
#pragma once

namespace keel::sysdb::postgres {

// Reader connections at most: beyond, a read waits for one to come back
// rather than open (fork a server process for) a connection per read.
inline constexpr int kMaxReaderConnections = 16;
// Once launched: the LISTEN connection for wake-ups, and one for dequeues
// (a Runtime with queues).
inline constexpr int kBackgroundConnections = 2;

// writer_connections: RuntimeConfig::postgres_writer_connections.
constexpr int max_connections_per_process(int writer_connections) {
  return writer_connections + kMaxReaderConnections + kBackgroundConnections;
}

}  // namespace keel::sysdb::postgres
