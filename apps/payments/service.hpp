// apps/payments/service.hpp — the payment service: a Keel application with
// its own database, serving the API of spec/http.md ("The payment service").
//
// The service's parts, as in the shop:
//   settings.hpp   the command line and ServiceConfig
//   store.hpp      every SQL statement on the pay_* tables (schema.hpp creates them)
//   workflows.hpp  create / change-status / deliver workflows, and what survives kill -9
//   api.hpp        the HTTP handlers
//   service.hpp    this file: start-up and shutdown
// Thread-safety: start() and stop() from one thread; requests are served
// concurrently.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/http_service.hpp"
#include "keel/keel.hpp"
#include "payments/settings.hpp"

namespace keel::payments {

class PaymentApi;
class PaymentWorkflows;

class PaymentService {
 public:
  explicit PaymentService(ServiceConfig config);
  ~PaymentService();
  PaymentService(const PaymentService&) = delete;
  PaymentService& operator=(const PaymentService&) = delete;

  // Opens and migrates the database, binds the HTTP server, launches the
  // runtime (recovering workflows), restarts any undelivered event whose
  // delivery workflow is missing, starts the admin server, writes the ready
  // file. Throws on failure.
  void start();
  // Stops serving; workflows in flight stay PENDING and resume at next start.
  void stop();

  int port() const;

 private:
  void launch_runtime();
  int start_admin_server();  // returns its port, -1 when there is none
  void log_serving(int admin_port) const;
  void write_ready_file(int admin_port) const;

  ServiceConfig config_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<PaymentWorkflows> workflows_;
  std::unique_ptr<PaymentApi> api_;
  std::unique_ptr<apps::HttpService> http_;  // after api_: destroyed first, it stops calling api_
  std::shared_ptr<void> admin_;              // a keel::AdminServer when built with keel_admin
  std::function<void()> stop_admin_;
};

// `payments migrate`: creates or upgrades the payment tables and Keel's
// system tables, runs no workflow.
void migrate_database(const std::string& db_url);

}  // namespace keel::payments
