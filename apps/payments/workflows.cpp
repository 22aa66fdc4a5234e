// The payment service's workflows. What survives kill -9 at any instant, and
// why, is said above each one.
#include "payments/workflows.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <csignal>

#include "common/webhook_signature.hpp"
#include "payments/store.hpp"

namespace keel::payments {

using std::chrono::milliseconds;

namespace {

// Delivery stops after a failed attempt made at least give_up_after past the
// event (so retries last at least that long).
bool gives_up(const DeliveryJob& job, const AttemptResult& r) {
  return !r.ok && r.at_ms - job.created_ms >= job.give_up_after_ms;
}

const char* status_after(const std::string& action) {
  if (action == "submit") return kPaid;
  if (action == "cancel") return kCancelled;
  if (action == "expire") return kExpired;
  throw std::invalid_argument("unknown action " + action);
}

Json created_answer(const store::CreatedSession& s) {
  return Json{{"session_id", s.session_id}, {"url", s.url}, {"amount_cents", s.amount_cents}, {"payment_status", kPending}};
}

}  // namespace

PaymentWorkflows::PaymentWorkflows(Runtime& rt, const ServiceConfig& config, std::string public_base)
    : rt_(rt),
      config_(config),
      public_base_(std::move(public_base)),
      webhook_client_(apps::HttpClientOptions{
          .connect_timeout = std::min(milliseconds(2000), config_.webhook_timeout),
          .read_timeout = config_.webhook_timeout,
          .write_timeout = config_.webhook_timeout}) {
  rt_.register_workflow(kCreateSession.name(),
                        [this](Context& ctx, const CreateInput& in) { return create_workflow(ctx, in); });
  rt_.register_workflow(kChangeStatus.name(),
                        [this](Context& ctx, const std::string& session_id, const std::string& action) {
                          return status_workflow(ctx, session_id, action);
                        });
  rt_.register_workflow(kDeliverWebhook.name(),
                        [this](Context& ctx, const DeliveryJob& job) { return deliver_workflow(ctx, job); });
}

// The SIGKILL of the crash tests, at the named point when armed by
// --test-crash-point.
void PaymentWorkflows::crash_point(std::string_view name) const {
  if (config_.test_crash_point != name) return;
  spdlog::warn("test crash point '{}' reached: raising SIGKILL", name);
  spdlog::default_logger()->flush();
  ::raise(SIGKILL);
}

// create_payment_session (workflow "create:<key>", inputs carry the body's
// fingerprint and a per-request nonce):
//   - killed before the workflow row is written: nothing happened; the
//     client's retry starts it.
//   - killed after the row, before the transaction commits: recovery at the
//     next start runs it; a retry meanwhile gets 409 request_in_progress or,
//     once done, the answer.
//   - killed after the commit: the session row and the recorded answer
//     committed together; replay returns the answer, no second session
//     (pay_sessions.idempotency_key is also UNIQUE).
Json PaymentWorkflows::create_workflow(Context& ctx, const CreateInput& in) {
  if (in.delay_ms > 0) ctx.sleep(milliseconds(in.delay_ms));
  Json out = ctx.transaction("insert_session", [&](Sql& sql) -> Json {
    // Only this workflow inserts under this key; kept as a guard.
    if (auto existing = store::find_created_session(sql, in.idempotency_key)) return created_answer(*existing);
    const CreateRequest& r = in.request;
    std::string id = new_id("cs");
    store::CreatedSession created{id, public_base_ + "/pay/" + id, r.amount_cents};
    store::insert_session(sql, created, in, now_ms());
    // Logged here, not after: the body runs for real once, never on replay.
    // (The line carries the workflow's ID: keel/logging.hpp.)
    spdlog::info("payment session {} created for {}: {} cents", id, r.client_reference_id, r.amount_cents);
    return created_answer(created);
  });
  crash_point("after_create_commit");
  return out;
}

// The status change of one session, in one transaction. Returns
// {"found", "session_id", "payment_status", "changed", "charge_id"?, "job"?}.
Json PaymentWorkflows::apply_action(Sql& sql, const std::string& session_id, const std::string& action) {
  auto session = store::find_session_state(sql, session_id);
  if (!session) return Json{{"found", false}, {"session_id", session_id}};
  const std::string& status = session->status;
  Json result{{"found", true}, {"session_id", session_id}, {"changed", false}, {"payment_status", status}};
  if (status == kPaid) {
    if (auto charge_id = store::find_charge_id(sql, session_id)) result["charge_id"] = *charge_id;
  }
  if (status != kPending) return result;

  std::string next = status_after(action);
  int64_t now = now_ms();
  store::close_pending_session(sql, session_id, next, now);
  if (next == kPaid) {
    std::string charge_id = new_id("ch");
    store::insert_charge(sql, charge_id, session_id, session->client_reference_id, session->amount_cents, now);
    result["charge_id"] = charge_id;
  }
  DeliveryJob job = new_delivery_job(session_id, next, session->client_reference_id, session->webhook_url, now);
  store::insert_event(sql, job);
  result["changed"] = true;
  result["payment_status"] = next;
  result["job"] = job;
  return result;
}

// The event of a status change, with the backoff schedule of the flags in
// force now (a recovered delivery keeps the schedule it started with).
DeliveryJob PaymentWorkflows::new_delivery_job(const std::string& session_id, const std::string& status,
                                               const std::string& client_reference_id,
                                               const std::string& webhook_url, int64_t now) const {
  DeliveryJob job;
  job.event_id = new_id("evt");
  job.session_id = session_id;
  job.type = event_type_for(status);
  job.webhook_url = webhook_url;
  job.payload = Json{{"id", job.event_id},
                     {"type", job.type},
                     {"session_id", session_id},
                     {"client_reference_id", client_reference_id},
                     {"created", now / 1000}}
                    .dump();
  job.created_ms = now;
  job.initial_backoff_ms = std::max<int64_t>(1, config_.webhook_initial_backoff.count());
  job.max_backoff_ms = std::max<int64_t>(job.initial_backoff_ms, config_.webhook_max_backoff.count());
  job.give_up_after_ms = config_.webhook_give_up_after.count();
  return job;
}

// submit / cancel / expire (workflow "<action>:<session id>"):
//   - the transaction reads the status and, only when pending, changes it,
//     inserts the charge (submit; pay_charges.session_id UNIQUE) and the
//     event (fresh event id; pay_events.session_id UNIQUE) — all with the
//     checkpoint, exactly once. Concurrent actions on one session serialise
//     in the database: the first to commit wins; the others see a final
//     status and answer from it.
//   - killed after that commit, before the delivery workflow is started:
//     recovery replays the transaction's recorded result (same event id) and
//     the step starts the delivery workflow (ID = event id, so a start that
//     happened before the kill is not repeated). As a safety net, start-up
//     also starts the delivery of any undelivered event whose workflow does
//     not exist (restart_missing_deliveries).
Json PaymentWorkflows::status_workflow(Context& ctx, const std::string& session_id, const std::string& action) {
  Json r = ctx.transaction("apply_" + action,
                           [&](Sql& sql) -> Json { return apply_action(sql, session_id, action); });
  if (r.value("changed", false)) {
    crash_point("after_status_commit");
    DeliveryJob job = r.at("job").get<DeliveryJob>();
    // Retried: a failure here (e.g. shutting down) must not be recorded as
    // final; an interrupted workflow resumes here after restart.
    ctx.step("start_webhook_delivery", StepOptions{.max_attempts = 20, .interval = milliseconds(100)}, [&] {
      (void)rt_.start(kDeliverWebhook, with_id(job.event_id), job);
      spdlog::info("session {} is now {}{}; event {} ({}) to deliver", session_id,
                   r["payment_status"].get<std::string>(),
                   r.contains("charge_id") ? " (charge " + r["charge_id"].get<std::string>() + ")" : "",
                   job.event_id, job.type);
    });
    r.erase("job");
  }
  return r;
}

// An event whose status change committed but whose delivery workflow does not
// exist (it cannot normally happen: the status workflow starts it, and is
// itself recovered) gets its delivery started here.
void PaymentWorkflows::restart_missing_deliveries() {
  std::vector<store::PendingEvent> pending;
  rt_.run_sql_read([&](Sql& sql) { pending = store::undelivered_events(sql); });
  for (const auto& event : pending) {
    if (rt_.get_workflow(event.event_id)) continue;
    spdlog::warn("[{}] event has no delivery workflow: starting it", event.event_id);
    (void)rt_.start(kDeliverWebhook, with_id(event.event_id), Json::parse(event.job).get<DeliveryJob>());
  }
}

AttemptResult PaymentWorkflows::attempt_delivery(const DeliveryJob& job, int attempt, int64_t next_backoff_ms) {
  AttemptResult r;
  r.at_ms = now_ms();
  auto t0 = std::chrono::steady_clock::now();
  try {
    std::string signature = apps::sign_webhook(config_.webhook_secret, r.at_ms / 1000, job.payload);
    auto resp = webhook_client_.post_json(job.webhook_url,
                                          {{"Payment-Signature", signature},
                                           {"Payment-Event-Id", job.event_id},
                                           {"Payment-Delivery-Attempt", std::to_string(attempt)},
                                           {"User-Agent", "keel-payments/1"}},
                                          job.payload);
    r.status = resp.status;
    r.ok = resp.status >= 200 && resp.status < 300;
    if (!r.ok) r.error = "HTTP " + std::to_string(resp.status) + ": " + resp.body.substr(0, 200);
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  r.duration_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count();
  // Logged in the step, which runs for real (never on replay); the line
  // carries the workflow's ID, the event's (keel/logging.hpp).
  if (r.ok) {
    spdlog::info("webhook {} delivered to {} (attempt {}, HTTP {})", job.type, job.webhook_url, attempt, r.status);
  } else if (gives_up(job, r)) {
    spdlog::error("webhook {} to {}: attempt {} failed ({}); giving up", job.type, job.webhook_url, attempt, r.error);
  } else {
    spdlog::warn("webhook {} to {}: attempt {} failed ({}); next attempt in {} ms", job.type, job.webhook_url,
                 attempt, r.error, next_backoff_ms);
  }
  if (r.ok) crash_point("after_webhook_post");
  return r;
}

// delivery (workflow "<event id>"):
//   - each attempt is a step (POST, then record); killed during the POST or
//     before its result is recorded: the attempt runs again after restart
//     (at least once; the receiver dedups on the event id). Each attempt's
//     outcome is recorded in pay_webhook_deliveries by a transaction, exactly
//     once. Sleeps are durable: a recovered sleep waits only what is left.
Json PaymentWorkflows::deliver_workflow(Context& ctx, const DeliveryJob& job) {
  int64_t backoff = std::max<int64_t>(1, job.initial_backoff_ms);
  for (int attempt = 1;; ++attempt) {
    AttemptResult r = ctx.step("post_webhook", [&] { return attempt_delivery(job, attempt, backoff); });
    bool give_up = gives_up(job, r);
    ctx.transaction("record_attempt",
                    [&](Sql& sql) { store::record_delivery_attempt(sql, job.event_id, attempt, r, give_up); });
    if (r.ok) return Json{{"delivered", true}, {"attempts", attempt}};
    if (give_up) return Json{{"delivered", false}, {"attempts", attempt}};
    ctx.sleep(milliseconds(backoff));
    backoff = std::min(backoff * 2, std::max(job.max_backoff_ms, int64_t{1}));
  }
}

}  // namespace keel::payments
