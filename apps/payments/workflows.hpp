// apps/payments/workflows.hpp — the payment service's three workflows and
// their test crash points.
//
//  * create_session runs as workflow "create:<idempotency key>"; one Keel
//    transaction inserts the session and records the answer, so a key makes
//    one session whatever crashes or retries happen.
//  * change_status runs as workflow "<action>:<session id>" for submit /
//    cancel / expire; one Keel transaction changes the status (and, for
//    submit, inserts the charge, UNIQUE per session) and inserts the event
//    with a fresh event id; a step then starts the delivery workflow whose ID
//    is the event id.
//  * deliver_webhook POSTs the signed event until a 2xx answer, with durable
//    sleeps between attempts (backoff doubling from 1 s, capped at 1 h, giving
//    up only when an attempt fails after 3 days).
// Workflow names and IDs are stored in the database with every workflow:
// renaming one would orphan the workflows of existing databases.
// What survives kill -9, workflow by workflow: workflows.cpp.
// Thread-safety: workflows run concurrently; PaymentWorkflows holds only
// immutable settings, the (thread-safe) Runtime and an HttpClient.
#pragma once

#include <string>
#include <string_view>

#include "common/http_service.hpp"
#include "keel/keel.hpp"
#include "payments/model.hpp"
#include "payments/settings.hpp"

namespace keel::payments {

inline const Workflow<Json, CreateInput> kCreateSession{"payments.create_session"};
// Inputs: session id, action ("submit", "cancel" or "expire").
inline const Workflow<Json, std::string, std::string> kChangeStatus{"payments.change_status"};
inline const Workflow<Json, DeliveryJob> kDeliverWebhook{"payments.deliver_webhook"};

inline std::string create_session_workflow_id(const std::string& idempotency_key) {
  return "create:" + idempotency_key;
}
inline std::string change_status_workflow_id(const std::string& action, const std::string& session_id) {
  return action + ":" + session_id;
}
inline StartOptions with_id(std::string workflow_id) {
  StartOptions o;
  o.workflow_id = std::move(workflow_id);
  return o;
}

class PaymentWorkflows {
 public:
  // Registers the three workflows on rt, before rt.launch(). config must
  // outlive this object, and this object the runtime's last workflow run.
  // public_base: the base URL of the session pages (http://host:port).
  PaymentWorkflows(Runtime& rt, const ServiceConfig& config, std::string public_base);
  PaymentWorkflows(const PaymentWorkflows&) = delete;
  PaymentWorkflows& operator=(const PaymentWorkflows&) = delete;

  // Starts the delivery of every undelivered event whose delivery workflow
  // does not exist (a safety net, after rt.launch()).
  void restart_missing_deliveries();

 private:
  Json create_workflow(Context& ctx, const CreateInput& in);
  Json status_workflow(Context& ctx, const std::string& session_id, const std::string& action);
  Json deliver_workflow(Context& ctx, const DeliveryJob& job);
  Json apply_action(Sql& sql, const std::string& session_id, const std::string& action);
  DeliveryJob new_delivery_job(const std::string& session_id, const std::string& status,
                               const std::string& client_reference_id, const std::string& webhook_url,
                               int64_t now) const;
  AttemptResult attempt_delivery(const DeliveryJob& job, int attempt, int64_t next_backoff_ms);
  void crash_point(std::string_view name) const;

  Runtime& rt_;
  const ServiceConfig& config_;
  const std::string public_base_;
  apps::HttpClient webhook_client_;
};

}  // namespace keel::payments
