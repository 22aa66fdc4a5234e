// apps/payments/store.hpp — every SQL statement on the payment service's
// tables (created by schema.cpp): sessions, charges, events, webhook
// deliveries and request keys.
//
// Contract:
//  * Every function takes the keel::Sql of the caller's transaction and does
//    all its work through it; none commits on its own. Inside a workflow's
//    ctx.transaction its writes commit together with the checkpoint, exactly
//    once, whatever kill -9 interrupts.
//  * The UNIQUE constraints are a second line behind the workflows: one
//    session per create key (pay_sessions.idempotency_key), at most one charge
//    and one event per session (pay_charges.session_id, pay_events.session_id),
//    one record per delivery attempt (pay_webhook_deliveries primary key).
//  * Times are stored in milliseconds; the JSON answers show seconds.
// Thread-safety: stateless functions; a Sql belongs to one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "keel/sql.hpp"
#include "payments/model.hpp"

namespace keel::payments::store {

// A session as create_payment_session answers it.
struct CreatedSession {
  std::string session_id;
  std::string url;
  int64_t amount_cents = 0;
};
// The session created under this idempotency key, if any.
std::optional<CreatedSession> find_created_session(Sql& sql, const std::string& idempotency_key);
// A new pending session for the request of `input`.
void insert_session(Sql& sql, const CreatedSession& session, const CreateInput& input, int64_t now_ms);

// What a status change reads of its session.
struct SessionState {
  std::string status;
  int64_t amount_cents = 0;
  std::string client_reference_id;
  std::string webhook_url;
};
std::optional<SessionState> find_session_state(Sql& sql, const std::string& session_id);
bool session_exists(Sql& sql, const std::string& session_id);
std::optional<std::string> find_charge_id(Sql& sql, const std::string& session_id);
// pending -> status. Throws std::runtime_error when the session is no longer pending.
void close_pending_session(Sql& sql, const std::string& session_id, const std::string& status, int64_t now_ms);
// Appends to the ledger (serialised on PostgreSQL: common/app_locks.hpp).
void insert_charge(Sql& sql, const std::string& charge_id, const std::string& session_id,
                   const std::string& client_reference_id, int64_t amount_cents, int64_t now_ms);
// The event of a status change, its delivery pending; job is its delivery workflow's input.
void insert_event(Sql& sql, const DeliveryJob& job);

// Records attempt number `attempt` of the event's delivery (once: a replayed
// record is ignored) and, when it succeeded or was the last, the event's
// delivery status.
void record_delivery_attempt(Sql& sql, const std::string& event_id, int attempt, const AttemptResult& result,
                             bool gave_up);
struct PendingEvent {
  std::string event_id;
  std::string job;  // the DeliveryJob, as JSON text
};
std::vector<PendingEvent> undelivered_events(Sql& sql);

// Binds an idempotency key of an endpoint to the fingerprint of its first
// request's body; returns the fingerprint it is bound to.
std::string bind_request_key(Sql& sql, const std::string& endpoint, const std::string& key,
                             const std::string& fingerprint, int64_t now_ms);

// The session as GET /api/sessions/:id shows it: with its charge, events and
// delivery attempts. nullopt when there is no such session.
std::optional<Json> session_json(Sql& sql, const std::string& session_id);
// A page of the ledger as GET /api/charges shows it: {charges, next}, the
// charges after sequence number after_seq, at most limit.
Json charges_page(Sql& sql, int64_t after_seq, int64_t limit);

}  // namespace keel::payments::store
