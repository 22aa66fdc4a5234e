// apps/payments/settings.hpp — the command line and environment of the
// `payments` binary (parsed with CLI11), and the ServiceConfig they make.
//
//   payments start   [--db URL] [--port 8086] [--host 127.0.0.1] [--webhook-secret S] ...
//   payments migrate [--db URL]
//
// Environment variables (flags win): PAYMENTS_DB, PAYMENTS_PORT, PAYMENTS_HOST,
// PAYMENTS_ADMIN_PORT, WEBHOOK_SECRET, PAYMENTS_PUBLIC_URL,
// PAYMENTS_WEBHOOK_INITIAL_BACKOFF, PAYMENTS_WEBHOOK_MAX_BACKOFF,
// PAYMENTS_WEBHOOK_GIVE_UP_AFTER, PAYMENTS_WEBHOOK_TIMEOUT, PAYMENTS_LOG_FORMAT,
// PAYMENTS_RETENTION, PAYMENTS_RETENTION_INTERVAL.
// Thread-safety: plain values; parse_settings reads the process environment.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include "keel/logging.hpp"

namespace keel::payments {

struct ServiceConfig {
  std::string db_url = "sqlite:payments.db";
  std::string host = "127.0.0.1";
  int port = 8086;          // 0: an ephemeral port
  int admin_port = -2;      // -2: port + 1 (ephemeral when port is 0); -1: no admin server
  std::string admin_token;  // required by the admin server on a host that is not loopback
  std::string webhook_secret = "whsec_dev";
  std::string public_url;   // base of session URLs; default http://host:port
  std::string executor_id = "payments";
  std::chrono::milliseconds webhook_initial_backoff{1000};
  std::chrono::milliseconds webhook_max_backoff{std::chrono::hours(1)};
  std::chrono::milliseconds webhook_give_up_after{std::chrono::hours(72)};
  std::chrono::milliseconds webhook_timeout{10000};  // per attempt (read); connect is 2 s at most
  // Retention (RuntimeConfig::retention, docs/operations.md): delete the
  // workflow records finished longer ago than this; unset keeps them. The
  // sessions and charges tables are the service's own and are kept.
  std::optional<std::chrono::milliseconds> retention;
  std::chrono::milliseconds retention_interval{60000};  // how often retention runs
  std::string ready_file;   // written ({"port", "admin_port", "pid"}) once serving
  // Testing seams.
  std::chrono::milliseconds test_create_delay{0};  // durable sleep in the create workflow
  std::string test_crash_point;  // after_create_commit | after_status_commit | after_webhook_post
};

struct Settings {
  bool migrate = false;  // `payments migrate`; otherwise `payments start`
  std::string migrate_db = ServiceConfig().db_url;  // the database `migrate` upgrades
  ServiceConfig service;                            // what `start` serves with
  std::string log_level = "info";
  LogFormat log_format = LogFormat::Text;  // `start --log-format text|json` (keel/logging.hpp)
};

// Parses main's argc/argv and the environment. Returns the settings, or the
// exit code when the command line ends the program: 0 after printing --help,
// CLI11's code after printing what is wrong with a bad command line.
std::variant<Settings, int> parse_settings(int argc, char** argv);

}  // namespace keel::payments
