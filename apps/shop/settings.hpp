// shop/settings.hpp — the command line (parsed with CLI11) and environment
// of the `shop` binary.
//
//   shop migrate --db URL
//   shop verify  --db URL      the upgrade check (keel/upgrade_check.hpp)
//   shop start   --db URL --port 8082 --payments-url http://127.0.0.1:8086
//                [--webhook-secret S] [--checkout-timeout 60s] [--host 127.0.0.1]
//                [--admin-port N] [--admin-token T] [--public-url URL] [--executor-id ID]
//                [--log-format text|json] [--retention D] [--retention-interval D]
//
// Every setting may also come from the environment (SHOP_DB, SHOP_PORT,
// SHOP_HOST, SHOP_ADMIN_PORT, SHOP_ADMIN_TOKEN, SHOP_PUBLIC_URL, PAYMENTS_URL, WEBHOOK_SECRET,
// CHECKOUT_TIMEOUT, SHOP_EXECUTOR_ID, SHOP_LOG_FORMAT, SHOP_RETENTION,
// SHOP_RETENTION_INTERVAL); a flag wins over its variable, an
// empty variable counts as unset. Both commands take every flag; a repeated
// flag: the last wins. `shop help`, and -h / --help before or after the
// command, ask for the usage.
// Thread-safety: plain values and pure functions.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "keel/logging.hpp"

namespace keel::apps::shop {

// A bad command line; the message is meant for the user.
class SettingsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Settings {
  std::string command;  // "migrate", "start", "verify" or "help"
  std::string db = "sqlite:shop.db";
  std::string host = "127.0.0.1";
  int port = 8082;
  std::optional<int> admin_port;  // default: port + 1
  std::string admin_token;        // the admin server's bearer token; required off loopback
  std::string payments_url = "http://127.0.0.1:8086";
  std::string webhook_secret = "whsec_dev";  // the payment service's default
  std::chrono::milliseconds checkout_timeout{std::chrono::seconds(60)};
  // Base URL under which the payment service reaches this shop (webhooks)
  // and the hosted payment page sends the customer back (<url>/orders/<id>);
  // default http://<host>:<port> (127.0.0.1 when host is 0.0.0.0).
  std::string public_url;
  std::string executor_id = "shop";
  LogFormat log_format = LogFormat::Text;  // of every log line (keel/logging.hpp)
  // Retention (RuntimeConfig::retention, docs/operations.md): delete the
  // workflow records of checkouts finished longer ago than this; unset keeps
  // them forever. The orders table is the shop's own and is kept. A repeated
  // key is recognised by its workflow: retention must outlast client retries.
  std::optional<std::chrono::milliseconds> retention;
  std::chrono::milliseconds retention_interval{std::chrono::seconds(60)};  // how often retention runs

  int effective_admin_port() const { return admin_port ? *admin_port : port + 1; }
  std::string effective_public_url() const;
};

// "60s", "1500ms", "2m", "1h" or a bare number of seconds. Throws SettingsError.
std::chrono::milliseconds parse_duration(std::string_view text);

using GetEnv = std::function<const char*(const char*)>;
// args excludes the program name. Throws SettingsError.
Settings parse_settings(const std::vector<std::string>& args, const GetEnv& getenv);

std::string usage_text();

}  // namespace keel::apps::shop
