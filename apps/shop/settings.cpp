#include "shop/settings.hpp"

#include <algorithm>
#include <charconv>
#include <map>

namespace keel::apps::shop {

namespace {

int64_t parse_int(std::string_view text, const std::string& what) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty())
    throw SettingsError(what + ": not an integer: '" + std::string(text) + "'");
  return v;
}

int parse_port(std::string_view text, const std::string& what, bool allow_zero) {
  int64_t v = parse_int(text, what);
  if (v < (allow_zero ? 0 : 1) || v > 65535) throw SettingsError(what + ": not a port number: '" + std::string(text) + "'");
  return static_cast<int>(v);
}

std::string require_http_url(std::string v, const std::string& what) {
  if (v.rfind("http://", 0) != 0 || v.size() <= 7)
    throw SettingsError(what + ": expected an http:// URL, got '" + v + "'");
  while (!v.empty() && v.back() == '/') v.pop_back();
  return v;
}

}  // namespace

std::string Settings::effective_public_url() const {
  if (!public_url.empty()) return public_url;
  std::string h = (host == "0.0.0.0" || host.empty()) ? "127.0.0.1" : host;
  if (h == "::") h = "[::1]";
  return "http://" + h + ":" + std::to_string(port);
}

std::chrono::milliseconds parse_duration(std::string_view text) {
  std::string_view num = text;
  int64_t scale = 1000;
  auto ends = [&](std::string_view suffix) {
    return num.size() > suffix.size() && num.substr(num.size() - suffix.size()) == suffix;
  };
  if (ends("ms")) {
    scale = 1;
    num.remove_suffix(2);
  } else if (ends("s")) {
    num.remove_suffix(1);
  } else if (ends("m")) {
    scale = 60'000;
    num.remove_suffix(1);
  } else if (ends("h")) {
    scale = 3'600'000;
    num.remove_suffix(1);
  }
  int64_t v = 0;
  try {
    v = parse_int(num, "duration");
  } catch (const SettingsError&) {
    throw SettingsError("not a duration: '" + std::string(text) + "' (use e.g. 60s, 500ms, 2m)");
  }
  if (v <= 0 || v > 365LL * 24 * 3600 * 1000 / scale)
    throw SettingsError("duration out of range: '" + std::string(text) + "'");
  return std::chrono::milliseconds(v * scale);
}

Settings parse_settings(const std::vector<std::string>& args, const GetEnv& getenv) {
  Settings s;
  if (args.empty()) throw SettingsError("missing command\n" + usage_text());
  s.command = args[0];
  if (s.command == "help" || s.command == "--help" || s.command == "-h") {
    s.command = "help";
    return s;
  }
  if (s.command != "migrate" && s.command != "start")
    throw SettingsError("unknown command '" + s.command + "'\n" + usage_text());

  // Environment first, flags override.
  std::map<std::string, std::string> values;
  const std::pair<const char*, const char*> env_names[] = {
      {"SHOP_DB", "db"},
      {"SHOP_PORT", "port"},
      {"SHOP_HOST", "host"},
      {"SHOP_ADMIN_PORT", "admin-port"},
      {"SHOP_PUBLIC_URL", "public-url"},
      {"PAYMENTS_URL", "payments-url"},
      {"WEBHOOK_SECRET", "webhook-secret"},
      {"CHECKOUT_TIMEOUT", "checkout-timeout"},
      {"SHOP_EXECUTOR_ID", "executor-id"},
  };
  for (auto [env, key] : env_names)
    if (const char* v = getenv(env); v && *v) values[key] = v;

  const std::vector<std::string> known = {"db",         "port",         "host",           "admin-port",
                                          "public-url", "payments-url", "webhook-secret", "checkout-timeout",
                                          "executor-id"};
  for (size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--help" || a == "-h") {
      s.command = "help";
      return s;
    }
    if (a.rfind("--", 0) != 0) throw SettingsError("unexpected argument '" + a + "'\n" + usage_text());
    std::string key = a.substr(2), value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else {
      if (i + 1 >= args.size()) throw SettingsError("option --" + key + " needs a value");
      value = args[++i];
    }
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw SettingsError("unknown option --" + key + "\n" + usage_text());
    values[key] = value;
  }

  if (auto it = values.find("db"); it != values.end()) s.db = it->second;
  if (s.db.empty()) throw SettingsError("--db must not be empty");
  if (auto it = values.find("port"); it != values.end()) s.port = parse_port(it->second, "--port", false);
  if (auto it = values.find("host"); it != values.end()) s.host = it->second;
  if (auto it = values.find("admin-port"); it != values.end())
    s.admin_port = parse_port(it->second, "--admin-port", false);
  if (!s.admin_port && s.port + 1 > 65535) throw SettingsError("--port 65535 leaves no port for the admin server");
  if (auto it = values.find("public-url"); it != values.end())
    s.public_url = require_http_url(it->second, "--public-url");
  if (auto it = values.find("payments-url"); it != values.end())
    s.payments_url = require_http_url(it->second, "--payments-url");
  if (auto it = values.find("webhook-secret"); it != values.end()) s.webhook_secret = it->second;
  if (s.webhook_secret.empty()) throw SettingsError("--webhook-secret must not be empty");
  if (auto it = values.find("checkout-timeout"); it != values.end())
    s.checkout_timeout = parse_duration(it->second);
  if (auto it = values.find("executor-id"); it != values.end()) s.executor_id = it->second;
  if (s.executor_id.empty()) throw SettingsError("--executor-id must not be empty");
  return s;
}

std::string usage_text() {
  return R"(usage:
  shop migrate --db URL
  shop start --db URL --port 8082 --payments-url http://127.0.0.1:8086
             [--webhook-secret S] [--checkout-timeout 60s] [--host 127.0.0.1]
             [--admin-port PORT] [--public-url URL] [--executor-id ID]

  --db URL             sqlite:PATH (default sqlite:shop.db)                 env SHOP_DB
                       or postgresql://user@host:port/dbname
  --port N             HTTP port (default 8082); admin server on N+1        env SHOP_PORT
  --host H             address to bind (default 127.0.0.1)                  env SHOP_HOST
  --admin-port N       admin server port (default port+1)                   env SHOP_ADMIN_PORT
  --payments-url URL   the payment service (default http://127.0.0.1:8086)  env PAYMENTS_URL
  --webhook-secret S   shared webhook secret (default whsec_dev)            env WEBHOOK_SECRET
  --checkout-timeout D how long a checkout waits for payment (default 60s)  env CHECKOUT_TIMEOUT
  --public-url URL     base URL the payment service calls back (webhooks)   env SHOP_PUBLIC_URL
  --executor-id ID     this process's executor id (default shop)            env SHOP_EXECUTOR_ID
)";
}

}  // namespace keel::apps::shop
