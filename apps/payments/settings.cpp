// The `payments` command line, on CLI11: every flag of `start` and `migrate`,
// with its environment variable and default (settings.hpp lists them).
#include "payments/settings.hpp"

#include <CLI/CLI.hpp>

#include <stdexcept>

#include "payments/model.hpp"

namespace keel::payments {

namespace {

using std::chrono::milliseconds;

// A duration flag ("250ms", "1s", "5m", "1h", "3d"; a bare number is
// seconds), converted into *target as it is parsed, so that a bad value fails
// the parse like any other bad flag.
struct DurationFlag {
  const char* name;
  const char* help;
  milliseconds* target;
  bool must_be_positive;
};

CLI::Option* add_duration_option(CLI::App& command, const DurationFlag& flag) {
  auto convert = [flag](const std::string& text) {
    try {
      *flag.target = parse_duration(text);
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError(flag.name, e.what());
    }
    if (flag.must_be_positive && flag.target->count() < 1) throw CLI::ValidationError(flag.name, "must be positive");
  };
  return command.add_option_function<std::string>(flag.name, convert, flag.help);
}

// --log-format text|json, converted as it is parsed (a bad value fails the parse).
CLI::Option* add_log_format_option(CLI::App& command, LogFormat& target) {
  auto convert = [&target](const std::string& text) {
    auto format = parse_log_format(text);
    if (!format) throw CLI::ValidationError("--log-format", "expected text or json, got '" + text + "'");
    target = *format;
  };
  return command.add_option_function<std::string>("--log-format", convert,
                                                  "text, or json: one JSON object per line (log pipelines)");
}

// --retention D (unset: keep every finished workflow) and --retention-interval D.
void add_retention_options(CLI::App& start, ServiceConfig& cfg) {
  auto retention = [&cfg](const std::string& text) {
    milliseconds d{0};
    try {
      d = parse_duration(text);
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError("--retention", e.what());
    }
    if (d.count() < 1) throw CLI::ValidationError("--retention", "must be positive");
    cfg.retention = d;
  };
  start.add_option_function<std::string>("--retention", retention,
                                         "delete the workflow records finished longer ago than this (default: keep)")
      ->envname("PAYMENTS_RETENTION");
  add_duration_option(start, {"--retention-interval", "how often retention runs", &cfg.retention_interval, true})
      ->envname("PAYMENTS_RETENTION_INTERVAL")
      ->default_str("60s");
}

void add_start_options(CLI::App& start, Settings& settings) {
  ServiceConfig& cfg = settings.service;
  start.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: last wins
  start.add_option("--db", cfg.db_url, "database URL (sqlite:PATH or postgresql://...)")->envname("PAYMENTS_DB")->capture_default_str();
  start.add_option("--port", cfg.port, "HTTP port (0: any free port)")
      ->envname("PAYMENTS_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  start.add_option("--host", cfg.host, "address to bind")->envname("PAYMENTS_HOST")->capture_default_str();
  start.add_option("--admin-port", cfg.admin_port, "admin server port (default port+1; -1: none)")
      ->envname("PAYMENTS_ADMIN_PORT")
      ->check(CLI::Range(-2, 65535));
  start.add_option("--admin-token", cfg.admin_token,
                   "bearer token the admin server requires (needed with a --host that is not loopback)")
      ->envname("PAYMENTS_ADMIN_TOKEN");
  start.add_option("--webhook-secret", cfg.webhook_secret, "secret for the Payment-Signature of webhooks")
      ->envname("WEBHOOK_SECRET");
  start.add_option("--public-url", cfg.public_url, "base URL of session pages (default http://host:port)")
      ->envname("PAYMENTS_PUBLIC_URL");
  struct {
    DurationFlag flag;
    const char* env;
    const char* default_text;  // what ServiceConfig's default reads as
  } const webhook_durations[] = {
      {{"--webhook-initial-backoff", "first retry delay of a webhook (doubles)", &cfg.webhook_initial_backoff, true},
       "PAYMENTS_WEBHOOK_INITIAL_BACKOFF", "1s"},
      {{"--webhook-max-backoff", "longest retry delay of a webhook", &cfg.webhook_max_backoff, false},
       "PAYMENTS_WEBHOOK_MAX_BACKOFF", "1h"},
      {{"--webhook-give-up-after", "stop retrying a webhook after this long", &cfg.webhook_give_up_after, false},
       "PAYMENTS_WEBHOOK_GIVE_UP_AFTER", "3d"},
      {{"--webhook-timeout", "timeout of one webhook attempt", &cfg.webhook_timeout, true},
       "PAYMENTS_WEBHOOK_TIMEOUT", "10s"},
  };
  for (const auto& d : webhook_durations) add_duration_option(start, d.flag)->envname(d.env)->default_str(d.default_text);
  add_retention_options(start, cfg);
  start.add_option("--executor-id", cfg.executor_id, "Keel executor id (one live process per id)")
      ->capture_default_str();
  start.add_option("--ready-file", cfg.ready_file, "write {\"port\",\"admin_port\",\"pid\"} here once serving");
  start.add_option("--log-level", settings.log_level, "trace, debug, info, warn, error")->capture_default_str();
  add_log_format_option(start, settings.log_format)->envname("PAYMENTS_LOG_FORMAT")->default_str("text");
  // Testing seams, hidden from --help.
  add_duration_option(start, {"--test-create-delay", "", &cfg.test_create_delay, false})->group("");
  start.add_option("--test-crash-point", cfg.test_crash_point)
      ->check(CLI::IsMember({"", "after_create_commit", "after_status_commit", "after_webhook_post"}))
      ->group("");
}

}  // namespace

std::variant<Settings, int> parse_settings(int argc, char** argv) {
  CLI::App app{"payments: a small Stripe-like payment service, itself a durable Keel application"};
  app.require_subcommand(1);
  Settings settings;
  add_start_options(*app.add_subcommand("start", "serve the payment API (migrates the database first)"), settings);
  auto* migrate = app.add_subcommand("migrate", "create or upgrade the database tables, then exit");
  migrate->add_option("--db", settings.migrate_db, "database URL (sqlite:PATH or postgresql://...)")
      ->envname("PAYMENTS_DB")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  settings.migrate = migrate->parsed();
  return settings;
}

}  // namespace keel::payments
