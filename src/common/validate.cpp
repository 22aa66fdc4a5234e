// Every check of a configuration value, in one place: RuntimeConfig (the
// Runtime's constructor), ClientConfig (the Client's) and QueueOptions
// (Runtime::register_queue). Each throws ConfigError naming the value, or
// UsageError for a missing name.
#include <string>

#include "common/database_url.hpp"
#include "keel/client.hpp"
#include "keel/config.hpp"
#include "keel/errors.hpp"
#include "keel/queue.hpp"

namespace keel {

namespace detail {

DatabaseUrl parse_database_url(const std::string& url) {
  // The URL reaches SQLite and libpq as a C string: a NUL byte would cut it
  // short and open another file or server than the one named.
  if (url.find('\0') != std::string::npos)
    throw ConfigError("database URL '" + url.substr(0, url.find('\0')) + "...' contains a NUL byte");
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.rfind(kSqlite, 0) == 0) {
    std::string path = url.substr(kSqlite.size());
    if (path.rfind("//", 0) == 0) path = path.substr(2);  // sqlite://PATH is accepted too
    if (path.empty()) throw ConfigError("database URL '" + url + "' names no file (expected sqlite:PATH)");
    return {DatabaseUrl::Backend::Sqlite, path};
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return {DatabaseUrl::Backend::Postgres, url};
  throw ConfigError("database URL '" + url +
                    "' has an unknown scheme (expected sqlite:PATH or postgresql://USER@HOST:PORT/DB)");
}

}  // namespace detail

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw ConfigError(message);
}

}  // namespace

void validate(const RuntimeConfig& c) {
  (void)detail::parse_database_url(c.database_url);
  require(!c.executor_id.empty(), "executor_id must not be empty");
  // Empty marks a workflow enqueued for any version (ClientConfig).
  require(!c.application_version.empty(), "application_version must not be empty");
  require(c.max_recovery_attempts >= 1, "max_recovery_attempts must be at least 1");
  require(c.poll_interval.count() > 0, "poll_interval must be positive");
  require(c.max_workflow_threads >= 1, "max_workflow_threads must be at least 1");
  require(c.park_after.count() >= 0, "park_after must not be negative");
  require(c.max_suspended_workflows >= 0, "max_suspended_workflows must not be negative");
  require(c.suspend_after_operations >= 1, "suspend_after_operations must be at least 1");
  require(c.suspended_wait_limit.count() >= 0, "suspended_wait_limit must not be negative");
  require(c.postgres_writer_connections >= 1, "postgres_writer_connections must be at least 1");
  require(c.postgres_reader_idle_timeout.count() >= 0, "postgres_reader_idle_timeout must not be negative");
  require(c.heartbeat_interval.count() > 0, "heartbeat_interval must be positive");
  const RetentionConfig& r = c.retention;
  require(!r.finished_older_than || r.finished_older_than->count() > 0, "retention.finished_older_than must be positive");
  require(!r.max_finished_workflows || *r.max_finished_workflows >= 0,
          "retention.max_finished_workflows must not be negative");
  require(!r.global_timeout || r.global_timeout->count() > 0, "retention.global_timeout must be positive");
  require(r.interval.count() > 0, "retention.interval must be positive");
  require(r.batch_size >= 1 && r.batch_size <= kMaxListLimit,
          "retention.batch_size must be from 1 to " + std::to_string(kMaxListLimit));
  require(c.lease_timeout > 2 * c.heartbeat_interval,
          "lease_timeout (" + std::to_string(c.lease_timeout.count()) + " ms) must exceed twice heartbeat_interval (" +
              std::to_string(c.heartbeat_interval.count()) + " ms)");
}

void validate(const ClientConfig& c) {
  (void)detail::parse_database_url(c.database_url);
  require(c.poll_interval.count() > 0, "poll_interval must be positive");
  require(!c.executor_id.empty(), "executor_id must not be empty");
}

void validate(const QueueOptions& q) {
  if (q.name.empty()) throw UsageError("a queue name must not be empty");
  const std::string where = "queue '" + q.name + "': ";
  require(!q.concurrency || *q.concurrency >= 1, where + "concurrency must be at least 1");
  require(!q.worker_concurrency || *q.worker_concurrency >= 1, where + "worker_concurrency must be at least 1");
  require(!q.concurrency || !q.worker_concurrency || *q.worker_concurrency <= *q.concurrency,
          where + "worker_concurrency must not exceed concurrency");
  require(!q.rate_limit || (q.rate_limit->limit >= 1 && q.rate_limit->period.count() >= 1),
          where + "a rate limit needs limit >= 1 and a period of at least 1 ms");
}

}  // namespace keel
