#include "shop/settings.hpp"

#include <CLI/CLI.hpp>

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

// Every setting's flag (without "--") and environment variable.
struct Source {
  const char* flag;
  const char* env;
  const char* value_name;  // as usage_text() shows it
};
constexpr Source kSources[] = {
    {"db", "SHOP_DB", "URL"},
    {"port", "SHOP_PORT", "N"},
    {"host", "SHOP_HOST", "H"},
    {"admin-port", "SHOP_ADMIN_PORT", "N"},
    {"admin-token", "SHOP_ADMIN_TOKEN", "T"},
    {"public-url", "SHOP_PUBLIC_URL", "URL"},
    {"payments-url", "PAYMENTS_URL", "URL"},
    {"webhook-secret", "WEBHOOK_SECRET", "S"},
    {"checkout-timeout", "CHECKOUT_TIMEOUT", "D"},
    {"executor-id", "SHOP_EXECUTOR_ID", "ID"},
    {"log-format", "SHOP_LOG_FORMAT", "F"},
    {"retention", "SHOP_RETENTION", "D"},
    {"retention-interval", "SHOP_RETENTION_INTERVAL", "D"},
};

// CLI11 reads "--flag=" as a flag still waiting for its value; the shop has
// always read it as an empty value (`--host=` binds what an empty host binds).
std::vector<std::string> split_empty_values(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const std::string& a : args) {
    bool empty_value = std::any_of(std::begin(kSources), std::end(kSources),
                                   [&](const Source& s) { return a == "--" + std::string(s.flag) + "="; });
    out.push_back(empty_value ? a.substr(0, a.size() - 1) : a);
    if (empty_value) out.emplace_back();
  }
  return out;
}

struct CommandLine {
  std::string command;                       // "migrate", "start", "verify" or "help"
  std::map<std::string, std::string> flags;  // flag (without "--") -> its text, for the flags given
};

// Every command takes every flag; a repeated flag: the last wins.
CommandLine parse_command_line(const std::vector<std::string>& args) {
  CLI::App app{"shop"};
  app.require_subcommand(1);
  app.add_subcommand("help")->allow_extras();  // `shop help ...`: the usage, whatever follows
  std::vector<std::pair<std::string, CLI::Option*>> options;
  for (const char* name : {"migrate", "start", "verify"}) {
    CLI::App* command = app.add_subcommand(name);
    for (const Source& s : kSources)
      options.emplace_back(s.flag, command->add_option(std::string("--") + s.flag)
                                       ->type_name(s.value_name)
                                       ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast));
  }
  std::vector<std::string> last_first = split_empty_values(args);
  std::reverse(last_first.begin(), last_first.end());  // the order CLI11 takes them in
  try {
    app.parse(last_first);
  } catch (const CLI::CallForHelp&) {
    return {"help", {}};
  } catch (const CLI::RequiredError&) {  // the one requirement: a command
    throw SettingsError((args.empty() ? "missing command" : "unknown command '" + args[0] + "'") + "\n" +
                        usage_text());
  } catch (const CLI::ParseError& e) {
    throw SettingsError(e.what() + std::string("\n") + usage_text());
  }
  CommandLine parsed{app.get_subcommands().front()->get_name(), {}};
  for (const auto& [flag, option] : options)
    if (option->count() > 0) parsed.flags[flag] = option->as<std::string>();
  return parsed;
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
  CommandLine command_line = parse_command_line(args);
  s.command = command_line.command;
  if (s.command == "help") return s;

  // Environment first, flags override.
  std::map<std::string, std::string> values;
  for (const Source& source : kSources)
    if (const char* v = getenv(source.env); v && *v) values[source.flag] = v;
  for (const auto& [flag, text] : command_line.flags) values[flag] = text;

  if (auto it = values.find("db"); it != values.end()) s.db = it->second;
  if (s.db.empty()) throw SettingsError("--db must not be empty");
  if (auto it = values.find("port"); it != values.end()) s.port = parse_port(it->second, "--port", false);
  if (auto it = values.find("host"); it != values.end()) s.host = it->second;
  if (auto it = values.find("admin-port"); it != values.end())
    s.admin_port = parse_port(it->second, "--admin-port", false);
  if (!s.admin_port && s.port + 1 > 65535) throw SettingsError("--port 65535 leaves no port for the admin server");
  if (auto it = values.find("admin-token"); it != values.end()) s.admin_token = it->second;
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
  if (auto it = values.find("log-format"); it != values.end()) {
    auto format = parse_log_format(it->second);
    if (!format) throw SettingsError("--log-format: expected text or json, got '" + it->second + "'");
    s.log_format = *format;
  }
  if (auto it = values.find("retention"); it != values.end()) s.retention = parse_duration(it->second);
  if (auto it = values.find("retention-interval"); it != values.end())
    s.retention_interval = parse_duration(it->second);
  return s;
}

std::string usage_text() {
  return R"(usage:
  shop migrate --db URL
  shop verify  --db URL    would this build replay every checkout in flight? (exit 1 if not)
  shop start --db URL --port 8082 --payments-url http://127.0.0.1:8086
             [--webhook-secret S] [--checkout-timeout 60s] [--host 127.0.0.1]
             [--admin-port PORT] [--admin-token T] [--public-url URL] [--executor-id ID]
             [--log-format text|json] [--retention D] [--retention-interval D]

  --db URL             sqlite:PATH (default sqlite:shop.db)                 env SHOP_DB
                       or postgresql://user@host:port/dbname
  --port N             HTTP port (default 8082); admin server on N+1        env SHOP_PORT
  --host H             address to bind (default 127.0.0.1)                  env SHOP_HOST
  --admin-port N       admin server port (default port+1)                   env SHOP_ADMIN_PORT
  --admin-token T      bearer token of the admin server (required with a    env SHOP_ADMIN_TOKEN
                       --host that is not loopback)
  --payments-url URL   the payment service (default http://127.0.0.1:8086)  env PAYMENTS_URL
  --webhook-secret S   shared webhook secret (default whsec_dev)            env WEBHOOK_SECRET
  --checkout-timeout D how long a checkout waits for payment (default 60s)  env CHECKOUT_TIMEOUT
  --public-url URL     the shop's base URL, for the payment service's       env SHOP_PUBLIC_URL
                       webhooks and the customer's return to the order page
                       (default http://HOST:PORT)
  --executor-id ID     this process's executor id (default shop)            env SHOP_EXECUTOR_ID
  --log-format F       text (default) or json: one JSON object per line     env SHOP_LOG_FORMAT
  --retention D        delete the records of checkouts finished longer ago  env SHOP_RETENTION
                       than D (default: keep them; orders are kept anyway)
  --retention-interval D  how often retention runs (default 60s)         env SHOP_RETENTION_INTERVAL
)";
}

}  // namespace keel::apps::shop
