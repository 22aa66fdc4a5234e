// Every SQL statement on the pay_* tables. None commits: the caller's
// transaction does (store.hpp).
#include "payments/store.hpp"

#include <stdexcept>

#include "common/app_locks.hpp"

namespace keel::payments::store {

namespace {

Json opt_text(const SqlRow& r, size_t i) { return r.is_null(i) ? Json(nullptr) : Json(r.get_string(i)); }
Json opt_int(const SqlRow& r, size_t i) { return r.is_null(i) ? Json(nullptr) : Json(r.get_int(i)); }
SqlValue opt_value(const std::optional<std::string>& v) { return v ? SqlValue(*v) : SqlValue(nullptr); }

Json charge_of_session(Sql& sql, const std::string& session_id) {
  auto c = sql.query_one("SELECT charge_id, amount_cents, created_at_ms FROM pay_charges WHERE session_id = $1",
                         {session_id});
  if (!c) return nullptr;
  return Json{{"charge_id", c->get_string(0)}, {"amount_cents", c->get_int(1)}, {"created_at", c->get_int(2) / 1000}};
}

Json events_of_session(Sql& sql, const std::string& session_id) {
  Json events = Json::array();
  for (auto& e : sql.query(
           "SELECT event_id, type, delivery_status, created_at_ms, delivered_at_ms FROM pay_events "
           "WHERE session_id = $1 ORDER BY created_at_ms",
           {session_id}))
    events.push_back(Json{{"id", e.get_string(0)},
                          {"type", e.get_string(1)},
                          {"delivery_status", e.get_string(2)},
                          {"created", e.get_int(3) / 1000},
                          {"delivered_at", e.is_null(4) ? Json(nullptr) : Json(e.get_int(4) / 1000)}});
  return events;
}

Json deliveries_of_session(Sql& sql, const std::string& session_id) {
  Json deliveries = Json::array();
  for (auto& d : sql.query(
           "SELECT d.event_id, d.attempt, d.ok, d.status_code, d.error, d.attempted_at_ms, d.duration_ms "
           "FROM pay_webhook_deliveries d JOIN pay_events e ON e.event_id = d.event_id "
           "WHERE e.session_id = $1 ORDER BY d.event_id, d.attempt",
           {session_id}))
    deliveries.push_back(Json{{"event_id", d.get_string(0)},
                              {"attempt", d.get_int(1)},
                              {"ok", d.get_int(2) != 0},
                              {"status_code", opt_int(d, 3)},
                              {"error", opt_text(d, 4)},
                              {"attempted_at", d.get_int(5) / 1000},
                              {"attempted_at_ms", d.get_int(5)},
                              {"duration_ms", d.get_int(6)}});
  return deliveries;
}

}  // namespace

std::optional<CreatedSession> find_created_session(Sql& sql, const std::string& idempotency_key) {
  auto row = sql.query_one("SELECT session_id, url, amount_cents FROM pay_sessions WHERE idempotency_key = $1",
                           {idempotency_key});
  if (!row) return std::nullopt;
  return CreatedSession{row->get_string(0), row->get_string(1), row->get_int(2)};
}

void insert_session(Sql& sql, const CreatedSession& session, const CreateInput& input, int64_t now_ms) {
  const CreateRequest& r = input.request;
  sql.execute(
      "INSERT INTO pay_sessions (session_id, idempotency_key, request_fingerprint, client_reference_id, "
      "webhook_url, success_url, cancel_url, items, amount_cents, url, status, created_at_ms, updated_at_ms) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $11)",
      {session.session_id, input.idempotency_key, input.fingerprint, r.client_reference_id, r.webhook_url,
       opt_value(r.success_url), opt_value(r.cancel_url), Json(r.items).dump(), session.amount_cents, session.url,
       now_ms});
}

std::optional<SessionState> find_session_state(Sql& sql, const std::string& session_id) {
  auto row = sql.query_one(
      "SELECT status, amount_cents, client_reference_id, webhook_url FROM pay_sessions WHERE session_id = $1",
      {session_id});
  if (!row) return std::nullopt;
  return SessionState{row->get_string(0), row->get_int(1), row->get_string(2), row->get_string(3)};
}

bool session_exists(Sql& sql, const std::string& session_id) {
  return sql.query_one("SELECT 1 FROM pay_sessions WHERE session_id = $1", {session_id}).has_value();
}

std::optional<std::string> find_charge_id(Sql& sql, const std::string& session_id) {
  auto row = sql.query_one("SELECT charge_id FROM pay_charges WHERE session_id = $1", {session_id});
  if (!row) return std::nullopt;
  return row->get_string(0);
}

void close_pending_session(Sql& sql, const std::string& session_id, const std::string& status, int64_t now_ms) {
  if (sql.execute("UPDATE pay_sessions SET status = $2, updated_at_ms = $3 WHERE session_id = $1 AND status = 'pending'",
                  {session_id, status, now_ms}) != 1)
    throw std::runtime_error("session " + session_id + " changed under the transaction");
}

void insert_charge(Sql& sql, const std::string& charge_id, const std::string& session_id,
                   const std::string& client_reference_id, int64_t amount_cents, int64_t now_ms) {
  keel::apps::lock_ledger_for_insert(sql, "pay_charges");
  sql.execute(
      "INSERT INTO pay_charges (charge_id, session_id, client_reference_id, amount_cents, created_at_ms) "
      "VALUES ($1, $2, $3, $4, $5)",
      {charge_id, session_id, client_reference_id, amount_cents, now_ms});
}

void insert_event(Sql& sql, const DeliveryJob& job) {
  sql.execute(
      "INSERT INTO pay_events (event_id, session_id, type, payload, job, delivery_status, created_at_ms) "
      "VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
      {job.event_id, job.session_id, job.type, job.payload, Json(job).dump(), job.created_ms});
}

void record_delivery_attempt(Sql& sql, const std::string& event_id, int attempt, const AttemptResult& result,
                             bool gave_up) {
  sql.execute(
      "INSERT INTO pay_webhook_deliveries (event_id, attempt, ok, status_code, error, attempted_at_ms, duration_ms) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, attempt) DO NOTHING",
      {event_id, int64_t{attempt}, int64_t{result.ok ? 1 : 0},
       result.status ? SqlValue(int64_t{result.status}) : SqlValue(nullptr),
       result.error.empty() ? SqlValue(nullptr) : SqlValue(result.error), result.at_ms, result.duration_ms});
  if (result.ok)
    sql.execute("UPDATE pay_events SET delivery_status = 'delivered', delivered_at_ms = $2 WHERE event_id = $1",
                {event_id, result.at_ms});
  else if (gave_up)
    sql.execute("UPDATE pay_events SET delivery_status = 'failed' WHERE event_id = $1", {event_id});
}

std::vector<PendingEvent> undelivered_events(Sql& sql) {
  std::vector<PendingEvent> pending;
  for (auto& row : sql.query("SELECT event_id, job FROM pay_events WHERE delivery_status = 'pending'"))
    pending.push_back(PendingEvent{row.get_string(0), row.get_string(1)});
  return pending;
}

std::string bind_request_key(Sql& sql, const std::string& endpoint, const std::string& key,
                             const std::string& fingerprint, int64_t now_ms) {
  sql.execute(
      "INSERT INTO pay_request_keys (endpoint, idempotency_key, fingerprint, created_at_ms) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (endpoint, idempotency_key) DO NOTHING",
      {endpoint, key, fingerprint, now_ms});
  return sql.query_one("SELECT fingerprint FROM pay_request_keys WHERE endpoint = $1 AND idempotency_key = $2",
                       {endpoint, key})
      ->get_string(0);
}

std::optional<Json> session_json(Sql& sql, const std::string& session_id) {
  auto s = sql.query_one(
      "SELECT session_id, client_reference_id, status, amount_cents, items, webhook_url, success_url, cancel_url, "
      "url, created_at_ms, updated_at_ms FROM pay_sessions WHERE session_id = $1",
      {session_id});
  if (!s) return std::nullopt;
  Json j{{"session_id", s->get_string(0)},
         {"client_reference_id", s->get_string(1)},
         {"payment_status", s->get_string(2)},
         {"amount_cents", s->get_int(3)},
         {"items", Json::parse(s->get_string(4))},
         {"webhook_url", s->get_string(5)},
         {"success_url", opt_text(*s, 6)},
         {"cancel_url", opt_text(*s, 7)},
         {"url", s->get_string(8)},
         {"created_at", s->get_int(9) / 1000},
         {"updated_at", s->get_int(10) / 1000}};
  j["charge"] = charge_of_session(sql, session_id);
  j["events"] = events_of_session(sql, session_id);
  j["webhook_deliveries"] = deliveries_of_session(sql, session_id);
  return j;
}

Json charges_page(Sql& sql, int64_t after_seq, int64_t limit) {
  Json charges = Json::array();
  Json next = nullptr;
  auto rows = sql.query(
      "SELECT seq, charge_id, session_id, client_reference_id, amount_cents, created_at_ms FROM pay_charges "
      "WHERE seq > $1 ORDER BY seq LIMIT $2",
      {after_seq, limit + 1});
  for (size_t i = 0; i < rows.size() && static_cast<int64_t>(i) < limit; ++i) {
    const SqlRow& r = rows[i];
    charges.push_back(Json{{"charge_id", r.get_string(1)},
                           {"session_id", r.get_string(2)},
                           {"client_reference_id", r.get_string(3)},
                           {"amount_cents", r.get_int(4)},
                           {"created_at", r.get_int(5) / 1000}});
  }
  if (static_cast<int64_t>(rows.size()) > limit) next = encode_cursor(rows[static_cast<size_t>(limit - 1)].get_int(0));
  return Json{{"charges", charges}, {"next", next}};
}

}  // namespace keel::payments::store
