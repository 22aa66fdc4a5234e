// payments — a small Stripe-like payment service built on Keel.
//
//   payments start   [--db URL] [--port 8086] [--host 127.0.0.1] [--webhook-secret S] ...
//   payments migrate [--db URL]
//
// Environment variables (flags win): PAYMENTS_DB, PAYMENTS_PORT, PAYMENTS_HOST,
// PAYMENTS_ADMIN_PORT, WEBHOOK_SECRET, PAYMENTS_PUBLIC_URL,
// PAYMENTS_WEBHOOK_INITIAL_BACKOFF, PAYMENTS_WEBHOOK_MAX_BACKOFF,
// PAYMENTS_WEBHOOK_GIVE_UP_AFTER, PAYMENTS_WEBHOOK_TIMEOUT.
// SIGINT / SIGTERM stop it cleanly; kill -9 is survived (see service.cpp).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <pthread.h>

#include "payments/service.hpp"

namespace {

constexpr const char* kDefaultSecret = "whsec_dev";

std::chrono::milliseconds duration_option(const std::string& text, const char* flag) {
  try {
    return keel::payments::parse_duration(text);
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(flag, e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by sigwait in main; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"payments: a small Stripe-like payment service, itself a durable Keel application"};
  app.require_subcommand(1);

  keel::payments::ServiceConfig cfg;
  std::string initial_backoff = "1s", max_backoff = "1h", give_up_after = "3d", webhook_timeout = "10s";
  std::string create_delay = "0ms";
  std::string log_level = "info";

  auto* start = app.add_subcommand("start", "serve the payment API (migrates the database first)");
  start->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: last wins
  start->add_option("--db", cfg.db_url, "database URL (sqlite:PATH or postgresql://...)")->envname("PAYMENTS_DB")->capture_default_str();
  start->add_option("--port", cfg.port, "HTTP port (0: any free port)")
      ->envname("PAYMENTS_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  start->add_option("--host", cfg.host, "address to bind")->envname("PAYMENTS_HOST")->capture_default_str();
  start->add_option("--admin-port", cfg.admin_port, "admin server port (default port+1; -1: none)")
      ->envname("PAYMENTS_ADMIN_PORT")
      ->check(CLI::Range(-2, 65535));
  start->add_option("--webhook-secret", cfg.webhook_secret, "secret for the Payment-Signature of webhooks")
      ->envname("WEBHOOK_SECRET");
  start->add_option("--public-url", cfg.public_url, "base URL of session pages (default http://host:port)")
      ->envname("PAYMENTS_PUBLIC_URL");
  start->add_option("--webhook-initial-backoff", initial_backoff, "first retry delay of a webhook (doubles)")
      ->envname("PAYMENTS_WEBHOOK_INITIAL_BACKOFF")
      ->capture_default_str();
  start->add_option("--webhook-max-backoff", max_backoff, "longest retry delay of a webhook")
      ->envname("PAYMENTS_WEBHOOK_MAX_BACKOFF")
      ->capture_default_str();
  start->add_option("--webhook-give-up-after", give_up_after, "stop retrying a webhook after this long")
      ->envname("PAYMENTS_WEBHOOK_GIVE_UP_AFTER")
      ->capture_default_str();
  start->add_option("--webhook-timeout", webhook_timeout, "timeout of one webhook attempt")
      ->envname("PAYMENTS_WEBHOOK_TIMEOUT")
      ->capture_default_str();
  start->add_option("--executor-id", cfg.executor_id, "Keel executor id (one live process per id)")
      ->capture_default_str();
  start->add_option("--ready-file", cfg.ready_file, "write {\"port\",\"admin_port\",\"pid\"} here once serving");
  start->add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  // Testing seams, hidden from --help.
  start->add_option("--test-create-delay", create_delay)->group("");
  start->add_option("--test-crash-point", cfg.test_crash_point)
      ->check(CLI::IsMember({"", "after_create_commit", "after_status_commit", "after_webhook_post"}))
      ->group("");

  auto* migrate = app.add_subcommand("migrate", "create or upgrade the database tables, then exit");
  std::string migrate_db = cfg.db_url;
  migrate->add_option("--db", migrate_db, "database URL (sqlite:PATH or postgresql://...)")->envname("PAYMENTS_DB")->capture_default_str();

  try {
    app.parse(argc, argv);
    cfg.webhook_initial_backoff = duration_option(initial_backoff, "--webhook-initial-backoff");
    cfg.webhook_max_backoff = duration_option(max_backoff, "--webhook-max-backoff");
    cfg.webhook_give_up_after = duration_option(give_up_after, "--webhook-give-up-after");
    cfg.webhook_timeout = duration_option(webhook_timeout, "--webhook-timeout");
    cfg.test_create_delay = duration_option(create_delay, "--test-create-delay");
    if (cfg.webhook_initial_backoff.count() < 1) throw CLI::ValidationError("--webhook-initial-backoff", "must be positive");
    if (cfg.webhook_timeout.count() < 1) throw CLI::ValidationError("--webhook-timeout", "must be positive");
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_level(spdlog::level::from_str(log_level));

  try {
    if (*migrate) {
      keel::payments::migrate_database(migrate_db);
      return 0;
    }
    if (cfg.webhook_secret.empty() || cfg.webhook_secret == kDefaultSecret) {
      cfg.webhook_secret = kDefaultSecret;
      spdlog::warn("using the default webhook secret '{}': set --webhook-secret or WEBHOOK_SECRET", kDefaultSecret);
    }
    keel::payments::PaymentService service(cfg);
    service.start();
    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info("signal {} received: stopping (workflows in flight resume at the next start)", sig);
    service.stop();
    spdlog::info("payment service stopped");
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("payments: {}", e.what());
    return 1;
  }
}
