// The `shop` binary: the checkout of the tutorial on Keel (docs/shop.md).
//   shop migrate --db URL
//   shop verify --db URL       the upgrade check: exit 1 when a checkout in flight would not replay
//   shop start --db URL --port 8082 --payments-url http://127.0.0.1:8086 [...]
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "common/app_locks.hpp"
#include "common/http_service.hpp"
#include "keel/keel.hpp"
#include "shop/api.hpp"
#include "shop/checkout.hpp"
#include "shop/settings.hpp"
#include "shop/store.hpp"

#ifdef KEEL_APPS_WITH_ADMIN
#include "keel/admin_server.hpp"
#endif

namespace shop = keel::apps::shop;
using keel::apps::HttpService;

namespace {

keel::RuntimeConfig runtime_config(const shop::Settings& s) {
  keel::RuntimeConfig c;
  c.database_url = s.db;
  c.executor_id = s.executor_id;
  c.application_version = "shop-1";
  c.sqlite_synchronous = keel::SqliteSync::Full;  // a lost commit could be seen outside (charges)
  c.retention.finished_older_than = s.retention;
  c.retention.interval = s.retention_interval;
  return c;
}

int migrate(const shop::Settings& s) {
  keel::Runtime rt(runtime_config(s));
  keel::apps::run_app_migration(rt, shop::store::migrate);
  {
    // launch() migrates the system tables. No workflow is registered here, so
    // it runs none: pending checkouts stay for `shop start`. Its complaints
    // about them are noise for this command.
    auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::off);
    try {
      rt.launch();
    } catch (...) {
      spdlog::set_level(level);
      throw;
    }
    spdlog::set_level(level);
  }
  rt.shutdown();
  spdlog::info("Shop database {} is migrated and its catalogue seeded", s.db);
  return 0;
}

shop::CheckoutSettings checkout_settings_of(const shop::Settings& s) {
  shop::CheckoutSettings c;
  c.payments_url = s.payments_url;
  c.webhook_url = s.effective_public_url() + "/payment_webhook";
  c.public_url = s.effective_public_url();
  c.checkout_timeout = s.checkout_timeout;
  return c;
}

// Replays every checkout in flight against this build's code, runs nothing
// and writes nothing (keel/upgrade_check.hpp): for a deploy pipeline, before
// the new build replaces the old one.
int verify(const shop::Settings& s) {
  shop::HttpPaymentsApi payments(std::chrono::seconds(3), std::chrono::seconds(10));
  keel::Runtime rt(runtime_config(s));  // not launched: it must run nothing
  (void)shop::register_checkout(rt, payments, checkout_settings_of(s));
  return keel::run_upgrade_check(rt, {}, std::cout);
}

int start(const shop::Settings& s) {
  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  shop::HttpPaymentsApi payments(std::chrono::seconds(3), std::chrono::seconds(10));
  shop::CheckoutSettings checkout_settings = checkout_settings_of(s);

  keel::Runtime rt(runtime_config(s));
  auto checkout = shop::register_checkout(rt, payments, checkout_settings);
  // The shop's tables exist before a recovered checkout touches them.
  keel::apps::run_app_migration(rt, shop::store::migrate);
  auto report = rt.launch();
  spdlog::info("Workflow executor initialized ({} checkout(s) recovered)", report.recovered.size());
  for (const auto& f : report.not_recovered) spdlog::warn("[{}] not recovered: {}", f.workflow_id, f.reason);

  shop::ApiSettings api_settings;
  api_settings.webhook_secret = s.webhook_secret;
  shop::ShopApi api(rt, checkout, api_settings);
  HttpService http("shop");
  api.add_routes(http);
  http.start(s.host, s.port);

#ifdef KEEL_APPS_WITH_ADMIN
  keel::AdminServer admin(rt, {.host = s.host, .port = s.effective_admin_port(), .token = s.admin_token});
  admin.start();
  const int admin_port = admin.port();
#else
  // Fallback while keel_admin is not built: health only.
  HttpService admin("shop-admin");
  admin.route("GET", "/healthz", [](const keel::apps::HttpRequest&) {
    return keel::apps::HttpResponse::json({{"status", "healthy"}});
  });
  admin.start(s.host, s.effective_admin_port());
  const int admin_port = admin.port();
#endif

  spdlog::info("HTTP endpoints supported:");
  for (const auto& r : http.routes()) {
    auto space = r.find(' ');
    spdlog::info("    {:<5} :  {}", r.substr(0, space), r.substr(space + 1));
  }
  spdlog::info("Payment service: {}; webhooks to {}; checkout timeout {} ms", s.payments_url,
               checkout_settings.webhook_url, s.checkout_timeout.count());
  spdlog::info("Shop server is running at {}", http.base_url());
  std::string admin_host = (s.host == "0.0.0.0" || s.host.empty()) ? "127.0.0.1" : s.host;
  spdlog::info("Admin server is running at http://{}:{}", admin_host, admin_port);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("Signal {} received: stopping (checkouts in flight resume at the next start)", sig);
  // The runtime first: it interrupts the waits of handlers (they answer 503)
  // and of workflows (they stay PENDING and resume at the next start).
  rt.shutdown();
  http.stop();
  admin.stop();
  spdlog::info("Shop stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  shop::Settings settings;
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    settings = shop::parse_settings(args, [](const char* name) { return std::getenv(name); });
  } catch (const shop::SettingsError& e) {
    std::cerr << "shop: " << e.what() << "\n";
    return 2;
  }
  if (settings.command == "help") {
    std::cout << shop::usage_text();
    return 0;
  }
  keel::configure_logging(settings.log_format);  // before anything logs
  try {
    if (settings.command == "migrate") return migrate(settings);
    if (settings.command == "verify") return verify(settings);
    return start(settings);
  } catch (const std::exception& e) {
    spdlog::critical("shop {}: {}", settings.command, e.what());
    return 1;
  }
}
