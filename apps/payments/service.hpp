// apps/payments/service.hpp — the payment service: a Keel application with
// its own database, serving the API of spec/http.md ("The payment service").
//
// Durability design (details in service.cpp):
//  * create_payment_session runs workflow "create:<idempotency key>"; one
//    Keel transaction inserts the session and records the answer, so a key
//    makes one session whatever crashes or retries happen.
//  * submit / cancel / expire run workflow "<action>:<session id>"; one Keel
//    transaction changes the status (and, for submit, inserts the charge,
//    UNIQUE per session) and inserts the event with a fresh event id; a step
//    then starts the delivery workflow whose ID is the event id.
//  * The delivery workflow POSTs the signed event until a 2xx answer, with
//    durable sleeps between attempts (backoff doubling from 1 s, capped at
//    1 h, giving up only when an attempt fails after 3 days).
// Thread-safety: start() and stop() from one thread; requests are served
// concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/http_service.hpp"
#include "keel/keel.hpp"
#include "payments/model.hpp"

namespace keel::payments {

struct ServiceConfig {
  std::string db_url = "sqlite:payments.db";
  std::string host = "127.0.0.1";
  int port = 8086;          // 0: an ephemeral port
  int admin_port = -2;      // -2: port + 1 (ephemeral when port is 0); -1: no admin server
  std::string webhook_secret = "whsec_dev";
  std::string public_url;   // base of session URLs; default http://host:port
  std::string executor_id = "payments";
  std::chrono::milliseconds webhook_initial_backoff{1000};
  std::chrono::milliseconds webhook_max_backoff{std::chrono::hours(1)};
  std::chrono::milliseconds webhook_give_up_after{std::chrono::hours(72)};
  std::chrono::milliseconds webhook_timeout{10000};  // per attempt (read); connect is 2 s at most
  std::string ready_file;   // written ({"port", "admin_port", "pid"}) once serving
  // Testing seams.
  std::chrono::milliseconds test_create_delay{0};  // durable sleep in the create workflow
  std::string test_crash_point;  // after_create_commit | after_status_commit | after_webhook_post
};

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
  Json create_workflow(Context& ctx, const CreateInput& in);
  Json status_workflow(Context& ctx, const std::string& session_id, const std::string& action);
  Json deliver_workflow(Context& ctx, const DeliveryJob& job);
  Json apply_action(Sql& sql, const std::string& session_id, const std::string& action);
  AttemptResult attempt_delivery(const DeliveryJob& job, int attempt, int64_t next_backoff_ms);
  void restart_missing_deliveries();
  void crash_point(std::string_view name) const;

  void register_routes();
  apps::HttpResponse handle_create(const apps::HttpRequest& req);
  apps::HttpResponse handle_status_change(const apps::HttpRequest& req, const std::string& action);
  apps::HttpResponse handle_get_session(const apps::HttpRequest& req);
  apps::HttpResponse handle_charges(const apps::HttpRequest& req);
  apps::HttpResponse handle_pay_page(const apps::HttpRequest& req);
  void check_request_key(const std::string& endpoint, const std::string& key, const std::string& fingerprint);
  std::optional<Json> load_session(const std::string& session_id);

  ServiceConfig config_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<apps::HttpService> http_;
  std::shared_ptr<void> admin_;        // a keel::AdminServer when built with keel_admin
  std::function<void()> stop_admin_;
  apps::HttpClient webhook_client_;
  std::string public_base_;
  std::atomic<bool> ready_{false};
  Workflow<Json, CreateInput> create_wf_{"payments.create_session"};
  Workflow<Json, std::string, std::string> status_wf_{"payments.change_status"};
  Workflow<Json, DeliveryJob> deliver_wf_{"payments.deliver_webhook"};
};

// `payments migrate`: creates or upgrades the payment tables and Keel's
// system tables, runs no workflow.
void migrate_database(const std::string& db_url);

// The idempotency key of a request, under any accepted header name
// (Idempotency-Key, dbos-idempotency-key, dbos-idmpotency-key). Throws
// HttpError 400 when required and missing, or when malformed (empty, longer
// than 255 characters, control characters).
std::optional<std::string> idempotency_key_of(const apps::HttpRequest& req, bool required);

}  // namespace keel::payments
