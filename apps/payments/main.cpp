// payments — a small Stripe-like payment service built on Keel.
//
//   payments start   [--db URL] [--port 8086] [--host 127.0.0.1] [--webhook-secret S] ...
//   payments migrate [--db URL]
//
// The flags and their environment variables: settings.hpp.
// SIGINT / SIGTERM stop it cleanly; kill -9 is survived (see workflows.cpp).
#include <spdlog/spdlog.h>

#include <csignal>
#include <pthread.h>

#include "payments/service.hpp"
#include "payments/settings.hpp"

namespace {

constexpr const char* kDefaultSecret = "whsec_dev";

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by sigwait in main; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto parsed = keel::payments::parse_settings(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  keel::payments::Settings& settings = std::get<keel::payments::Settings>(parsed);
  spdlog::set_level(spdlog::level::from_str(settings.log_level));
  keel::configure_logging(settings.log_format);  // before anything logs

  try {
    if (settings.migrate) {
      keel::payments::migrate_database(settings.migrate_db);
      return 0;
    }
    keel::payments::ServiceConfig& cfg = settings.service;
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
