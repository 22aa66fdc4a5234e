// The payment service: workflows, transactions and HTTP handlers.
//
// What survives kill -9 at any instant, and why:
//
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
//     not exist.
// delivery (workflow "<event id>"):
//   - each attempt is a step (POST, then record); killed during the POST or
//     before its result is recorded: the attempt runs again after restart
//     (at least once; the receiver dedups on the event id). Each attempt's
//     outcome is recorded in pay_webhook_deliveries by a transaction, exactly
//     once. Sleeps are durable: a recovered sleep waits only what is left.
#include "payments/service.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/app_locks.hpp"
#include "common/webhook_signature.hpp"
#include "payments/schema.hpp"

#ifdef KEEL_APPS_WITH_ADMIN
#include "keel/admin_server.hpp"
#endif

namespace keel::payments {

using apps::HttpError;
using apps::HttpRequest;
using apps::HttpResponse;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kRequestWait{30'000};

// Delivery stops after a failed attempt made at least give_up_after past the
// event (so retries last at least that long).
bool gives_up(const DeliveryJob& job, const AttemptResult& r) {
  return !r.ok && r.at_ms - job.created_ms >= job.give_up_after_ms;
}

StartOptions with_id(std::string id) {
  StartOptions o;
  o.workflow_id = std::move(id);
  return o;
}

const char* status_after(const std::string& action) {
  if (action == "submit") return kPaid;
  if (action == "cancel") return kCancelled;
  if (action == "expire") return kExpired;
  throw std::invalid_argument("unknown action " + action);
}

std::string money(int64_t cents) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

Json opt_text(const SqlRow& r, size_t i) { return r.is_null(i) ? Json(nullptr) : Json(r.get_string(i)); }
Json opt_int(const SqlRow& r, size_t i) { return r.is_null(i) ? Json(nullptr) : Json(r.get_int(i)); }

void write_file_atomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace

std::optional<std::string> idempotency_key_of(const HttpRequest& req, bool required) {
  std::optional<std::string> key;
  for (const char* name : {"idempotency-key", "dbos-idempotency-key", "dbos-idmpotency-key"}) {
    if ((key = req.header(name))) break;
  }
  if (!key) {
    if (required)
      throw HttpError(400, "missing_idempotency_key",
                      "the Idempotency-Key header is required (also accepted: dbos-idempotency-key)");
    return std::nullopt;
  }
  if (key->empty() || key->size() > kMaxIdempotencyKeyLength)
    throw HttpError(400, "invalid_idempotency_key",
                    "the idempotency key must be 1 to " + std::to_string(kMaxIdempotencyKeyLength) + " characters");
  for (unsigned char c : *key)
    if (c < 0x20 || c == 0x7f)
      throw HttpError(400, "invalid_idempotency_key", "the idempotency key must not contain control characters");
  return key;
}

PaymentService::PaymentService(ServiceConfig config)
    : config_(std::move(config)),
      webhook_client_(apps::HttpClientOptions{
          .connect_timeout = std::min(milliseconds(2000), config_.webhook_timeout),
          .read_timeout = config_.webhook_timeout,
          .write_timeout = config_.webhook_timeout}) {}

PaymentService::~PaymentService() { stop(); }

int PaymentService::port() const { return http_ ? http_->port() : 0; }

void PaymentService::crash_point(std::string_view name) const {
  if (config_.test_crash_point != name) return;
  spdlog::warn("test crash point '{}' reached: raising SIGKILL", name);
  spdlog::default_logger()->flush();
  ::raise(SIGKILL);
}

// ---------------------------------------------------------------------------
// Start-up and shutdown

void PaymentService::start() {
  RuntimeConfig rc;
  rc.database_url = config_.db_url;
  rc.executor_id = config_.executor_id;
  rc.application_version = "payments-1";
  rt_ = std::make_unique<Runtime>(rc);

  rt_->register_workflow(create_wf_.name(),
                         [this](Context& ctx, const CreateInput& in) { return create_workflow(ctx, in); });
  rt_->register_workflow(status_wf_.name(),
                         [this](Context& ctx, const std::string& session_id, const std::string& action) {
                           return status_workflow(ctx, session_id, action);
                         });
  rt_->register_workflow(deliver_wf_.name(),
                         [this](Context& ctx, const DeliveryJob& job) { return deliver_workflow(ctx, job); });

  // The service's tables first: recovered workflows use them.
  int before = 0;
  keel::apps::run_app_migration(*rt_, [&](Sql& sql) { before = migrate_schema(sql); });
  if (before < schema_version_count())
    spdlog::info("payments schema migrated from version {} to {}", before, schema_version_count());

  // Bind before launching, so that session URLs made by recovered workflows
  // carry the real port; requests get 503 until the runtime is launched.
  http_ = std::make_unique<apps::HttpService>("payments", apps::HttpServiceOptions{.threads = 64});
  register_routes();
  http_->start(config_.host, config_.port);
  public_base_ = config_.public_url.empty() ? http_->base_url() : config_.public_url;
  while (!public_base_.empty() && public_base_.back() == '/') public_base_.pop_back();

  LaunchReport report = rt_->launch();
  spdlog::info("Workflow executor initialized (executor '{}', database {}, {} workflow(s) recovered)",
               config_.executor_id, config_.db_url, report.recovered.size());
  for (const auto& f : report.not_recovered) spdlog::error("[{}] not recovered: {}", f.workflow_id, f.reason);
  restart_missing_deliveries();
  ready_.store(true);

  int admin_port = config_.admin_port == -2 ? (config_.port == 0 ? 0 : config_.port + 1) : config_.admin_port;
  int bound_admin = -1;
#ifdef KEEL_APPS_WITH_ADMIN
  if (admin_port >= 0) {
    auto admin = std::make_shared<AdminServer>(*rt_, config_.host, admin_port);
    admin->start();
    bound_admin = admin->port();
    stop_admin_ = [admin] { admin->stop(); };
    admin_ = admin;
  }
#else
  if (admin_port >= 0)
    spdlog::info("this build has no Keel admin server (keel_admin); GET /healthz is served on the main port");
#endif

  spdlog::info("HTTP endpoints supported:");
  for (const auto& r : http_->routes()) {
    auto space = r.find(' ');
    spdlog::info("    {:<5} :  {}", r.substr(0, space), r.substr(space + 1));
  }
  spdlog::info("Payment service is running at {}", http_->base_url());
  if (bound_admin >= 0) spdlog::info("Admin server is running at http://{}:{}", config_.host, bound_admin);
  if (config_.test_crash_point.size()) spdlog::warn("test crash point armed: {}", config_.test_crash_point);

  if (!config_.ready_file.empty())
    write_file_atomically(config_.ready_file,
                          Json{{"port", http_->port()}, {"admin_port", bound_admin}, {"pid", ::getpid()}}.dump() + "\n");
}

void PaymentService::stop() {
  ready_.store(false);
  if (http_) http_->stop();
  if (stop_admin_) stop_admin_();
  stop_admin_ = nullptr;
  admin_.reset();
  if (rt_) rt_->shutdown();
}

// An event whose status change committed but whose delivery workflow does not
// exist (it cannot normally happen: the status workflow starts it, and is
// itself recovered) gets its delivery started here.
void PaymentService::restart_missing_deliveries() {
  std::vector<std::pair<std::string, std::string>> pending;
  rt_->run_sql_read([&](Sql& sql) {
    for (auto& row : sql.query("SELECT event_id, job FROM pay_events WHERE delivery_status = 'pending'"))
      pending.emplace_back(row.get_string(0), row.get_string(1));
  });
  for (const auto& [event_id, job_text] : pending) {
    if (rt_->get_workflow(event_id)) continue;
    spdlog::warn("[{}] event has no delivery workflow: starting it", event_id);
    (void)rt_->start(deliver_wf_, with_id(event_id), Json::parse(job_text).get<DeliveryJob>());
  }
}

void migrate_database(const std::string& db_url) {
  RuntimeConfig rc;
  rc.database_url = db_url;
  rc.executor_id = "payments-migrate";  // recovers nothing: no workflow runs under this id
  Runtime rt(rc);
  int before = 0;
  keel::apps::run_app_migration(rt, [&](Sql& sql) { before = migrate_schema(sql); });
  rt.launch();  // migrates Keel's system tables
  rt.shutdown();
  spdlog::info("database {} migrated (payments schema version {} -> {})", db_url, before, schema_version_count());
}

// ---------------------------------------------------------------------------
// Workflows

Json PaymentService::create_workflow(Context& ctx, const CreateInput& in) {
  if (in.delay_ms > 0) ctx.sleep(milliseconds(in.delay_ms));
  const std::string& wf_id = ctx.workflow_id();
  Json out = ctx.transaction("insert_session", [&](Sql& sql) -> Json {
    if (auto row = sql.query_one("SELECT session_id, url, amount_cents FROM pay_sessions WHERE idempotency_key = $1",
                                 {in.idempotency_key})) {
      // Only this workflow inserts under this key; kept as a guard.
      return Json{{"session_id", row->get_string(0)},
                  {"url", row->get_string(1)},
                  {"amount_cents", row->get_int(2)},
                  {"payment_status", kPending}};
    }
    const CreateRequest& r = in.request;
    std::string id = new_id("cs");
    std::string url = public_base_ + "/pay/" + id;
    int64_t now = now_ms();
    sql.execute(
        "INSERT INTO pay_sessions (session_id, idempotency_key, request_fingerprint, client_reference_id, "
        "webhook_url, success_url, cancel_url, items, amount_cents, url, status, created_at_ms, updated_at_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $11)",
        {id, in.idempotency_key, in.fingerprint, r.client_reference_id, r.webhook_url,
         r.success_url ? SqlValue(*r.success_url) : SqlValue(nullptr),
         r.cancel_url ? SqlValue(*r.cancel_url) : SqlValue(nullptr), Json(r.items).dump(), r.amount_cents, url, now});
    // Logged here, not after: the body runs for real once, never on replay.
    spdlog::info("[{}] payment session {} created for {}: {} cents", wf_id, id, r.client_reference_id,
                 r.amount_cents);
    return Json{{"session_id", id}, {"url", url}, {"amount_cents", r.amount_cents}, {"payment_status", kPending}};
  });
  crash_point("after_create_commit");
  return out;
}

// The status change of one session, in one transaction. Returns
// {"found", "session_id", "payment_status", "changed", "charge_id"?, "job"?}.
Json PaymentService::apply_action(Sql& sql, const std::string& session_id, const std::string& action) {
  auto row = sql.query_one(
      "SELECT status, amount_cents, client_reference_id, webhook_url FROM pay_sessions WHERE session_id = $1",
      {session_id});
  if (!row) return Json{{"found", false}, {"session_id", session_id}};
  std::string status = row->get_string(0);
  Json result{{"found", true}, {"session_id", session_id}, {"changed", false}, {"payment_status", status}};
  if (status == kPaid) {
    if (auto ch = sql.query_one("SELECT charge_id FROM pay_charges WHERE session_id = $1", {session_id}))
      result["charge_id"] = ch->get_string(0);
  }
  if (status != kPending) return result;

  std::string next = status_after(action);
  int64_t now = now_ms();
  if (sql.execute("UPDATE pay_sessions SET status = $2, updated_at_ms = $3 WHERE session_id = $1 AND status = 'pending'",
                  {session_id, next, now}) != 1)
    throw std::runtime_error("session " + session_id + " changed under the transaction");
  int64_t amount = row->get_int(1);
  std::string client_ref = row->get_string(2);
  if (next == kPaid) {
    std::string charge_id = new_id("ch");
    keel::apps::lock_ledger_for_insert(sql, "pay_charges");
    sql.execute(
        "INSERT INTO pay_charges (charge_id, session_id, client_reference_id, amount_cents, created_at_ms) "
        "VALUES ($1, $2, $3, $4, $5)",
        {charge_id, session_id, client_ref, amount, now});
    result["charge_id"] = charge_id;
  }
  DeliveryJob job;
  job.event_id = new_id("evt");
  job.session_id = session_id;
  job.type = event_type_for(next);
  job.webhook_url = row->get_string(3);
  job.payload = Json{{"id", job.event_id},
                     {"type", job.type},
                     {"session_id", session_id},
                     {"client_reference_id", client_ref},
                     {"created", now / 1000}}
                    .dump();
  job.created_ms = now;
  job.initial_backoff_ms = std::max<int64_t>(1, config_.webhook_initial_backoff.count());
  job.max_backoff_ms = std::max<int64_t>(job.initial_backoff_ms, config_.webhook_max_backoff.count());
  job.give_up_after_ms = config_.webhook_give_up_after.count();
  sql.execute(
      "INSERT INTO pay_events (event_id, session_id, type, payload, job, delivery_status, created_at_ms) "
      "VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
      {job.event_id, session_id, job.type, job.payload, Json(job).dump(), now});
  result["changed"] = true;
  result["payment_status"] = next;
  result["job"] = job;
  return result;
}

Json PaymentService::status_workflow(Context& ctx, const std::string& session_id, const std::string& action) {
  Json r = ctx.transaction("apply_" + action,
                           [&](Sql& sql) -> Json { return apply_action(sql, session_id, action); });
  if (r.value("changed", false)) {
    crash_point("after_status_commit");
    DeliveryJob job = r.at("job").get<DeliveryJob>();
    // Retried: a failure here (e.g. shutting down) must not be recorded as
    // final; an interrupted workflow resumes here after restart.
    const std::string& wf_id = ctx.workflow_id();
    ctx.step("start_webhook_delivery", StepOptions{.max_attempts = 20, .interval = milliseconds(100)}, [&] {
      (void)rt_->start(deliver_wf_, with_id(job.event_id), job);
      spdlog::info("[{}] session {} is now {}{}; event {} ({}) to deliver", wf_id, session_id,
                   r["payment_status"].get<std::string>(),
                   r.contains("charge_id") ? " (charge " + r["charge_id"].get<std::string>() + ")" : "",
                   job.event_id, job.type);
    });
    r.erase("job");
  }
  return r;
}

AttemptResult PaymentService::attempt_delivery(const DeliveryJob& job, int attempt, int64_t next_backoff_ms) {
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
  // Logged in the step, which runs for real (never on replay).
  if (r.ok) {
    spdlog::info("[{}] webhook {} delivered to {} (attempt {}, HTTP {})", job.event_id, job.type, job.webhook_url,
                 attempt, r.status);
  } else if (gives_up(job, r)) {
    spdlog::error("[{}] webhook {} to {}: attempt {} failed ({}); giving up", job.event_id, job.type,
                  job.webhook_url, attempt, r.error);
  } else {
    spdlog::warn("[{}] webhook {} to {}: attempt {} failed ({}); next attempt in {} ms", job.event_id, job.type,
                 job.webhook_url, attempt, r.error, next_backoff_ms);
  }
  if (r.ok) crash_point("after_webhook_post");
  return r;
}

Json PaymentService::deliver_workflow(Context& ctx, const DeliveryJob& job) {
  int64_t backoff = std::max<int64_t>(1, job.initial_backoff_ms);
  for (int attempt = 1;; ++attempt) {
    AttemptResult r = ctx.step("post_webhook", [&] { return attempt_delivery(job, attempt, backoff); });
    bool give_up = gives_up(job, r);
    ctx.transaction("record_attempt", [&](Sql& sql) {
      sql.execute(
          "INSERT INTO pay_webhook_deliveries (event_id, attempt, ok, status_code, error, attempted_at_ms, duration_ms) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, attempt) DO NOTHING",
          {job.event_id, int64_t{attempt}, int64_t{r.ok ? 1 : 0},
           r.status ? SqlValue(int64_t{r.status}) : SqlValue(nullptr),
           r.error.empty() ? SqlValue(nullptr) : SqlValue(r.error), r.at_ms, r.duration_ms});
      if (r.ok)
        sql.execute("UPDATE pay_events SET delivery_status = 'delivered', delivered_at_ms = $2 WHERE event_id = $1",
                    {job.event_id, r.at_ms});
      else if (give_up)
        sql.execute("UPDATE pay_events SET delivery_status = 'failed' WHERE event_id = $1", {job.event_id});
    });
    if (r.ok) return Json{{"delivered", true}, {"attempts", attempt}};
    if (give_up) return Json{{"delivered", false}, {"attempts", attempt}};
    ctx.sleep(milliseconds(backoff));
    backoff = std::min(backoff * 2, std::max(job.max_backoff_ms, int64_t{1}));
  }
}

// ---------------------------------------------------------------------------
// HTTP handlers

void PaymentService::register_routes() {
  auto gated = [this](HttpResponse (PaymentService::*fn)(const HttpRequest&)) {
    return [this, fn](const HttpRequest& req) {
      if (!ready_.load()) throw HttpError(503, "starting", "the payment service is starting; retry shortly");
      return (this->*fn)(req);
    };
  };
  auto action = [this](std::string name) {
    return [this, name](const HttpRequest& req) {
      if (!ready_.load()) throw HttpError(503, "starting", "the payment service is starting; retry shortly");
      return handle_status_change(req, name);
    };
  };
  http_->route("POST", "/api/create_payment_session", gated(&PaymentService::handle_create));
  http_->route("POST", "/api/submit_payment", action("submit"));
  http_->route("POST", "/api/cancel_payment", action("cancel"));
  http_->route("POST", "/api/expire_session", action("expire"));
  http_->route("GET", "/api/sessions/:id", gated(&PaymentService::handle_get_session));
  http_->route("GET", "/api/charges", gated(&PaymentService::handle_charges));
  http_->route("GET", "/pay/:id", gated(&PaymentService::handle_pay_page));
  http_->route("GET", "/healthz", [this](const HttpRequest&) {
    if (!ready_.load()) return HttpResponse::json({{"status", "starting"}}, 503);
    return HttpResponse::json({{"status", "healthy"}});
  });
}

HttpResponse PaymentService::handle_create(const HttpRequest& req) {
  std::string key = *idempotency_key_of(req, /*required=*/true);
  Json body = apps::parse_json_body(req);
  auto validated = validate_create_request(body);
  if (auto* err = std::get_if<ValidationError>(&validated)) throw HttpError(400, "invalid_request", err->message);

  CreateInput in;
  in.idempotency_key = key;
  in.fingerprint = sha256_hex(body.dump());  // nlohmann sorts keys: a canonical form
  in.nonce = new_id("req");
  in.request = std::get<CreateRequest>(std::move(validated));
  in.delay_ms = config_.test_create_delay.count();

  const std::string id = "create:" + key;
  auto info = rt_->get_workflow(id);
  if (!info) {
    (void)rt_->start(create_wf_, with_id(id), in);
    info = rt_->get_workflow(id);
    if (!info) throw std::runtime_error("workflow " + id + " vanished after its start");
  }
  CreateInput stored = info->inputs.at(0).get<CreateInput>();
  if (stored.fingerprint != in.fingerprint)
    throw HttpError(409, "idempotency_key_reused",
                    "this idempotency key was already used with a different request body");
  bool mine = stored.nonce == in.nonce;
  if (!mine && !is_terminal(info->status))
    throw HttpError(409, "request_in_progress", "a request with this idempotency key is still being processed");
  try {
    return HttpResponse::json(rt_->retrieve<Json>(id).result_for(kRequestWait));
  } catch (const TimeoutError&) {
    throw HttpError(409, "request_in_progress", "a request with this idempotency key is still being processed");
  }
}

void PaymentService::check_request_key(const std::string& endpoint, const std::string& key,
                                       const std::string& fingerprint) {
  std::string stored;
  rt_->run_sql_write([&](Sql& sql) {
    sql.execute(
        "INSERT INTO pay_request_keys (endpoint, idempotency_key, fingerprint, created_at_ms) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (endpoint, idempotency_key) DO NOTHING",
        {endpoint, key, fingerprint, now_ms()});
    stored = sql.query_one("SELECT fingerprint FROM pay_request_keys WHERE endpoint = $1 AND idempotency_key = $2",
                           {endpoint, key})
                 ->get_string(0);
  });
  if (stored != fingerprint)
    throw HttpError(409, "idempotency_key_reused",
                    "this idempotency key was already used on " + endpoint + " with a different request body");
}

HttpResponse PaymentService::handle_status_change(const HttpRequest& req, const std::string& action) {
  auto key = idempotency_key_of(req, /*required=*/false);
  Json body = apps::parse_json_body(req);
  if (!body.is_object() || !body.contains("session_id") || !body["session_id"].is_string() ||
      body["session_id"].get<std::string>().empty() || body["session_id"].get<std::string>().size() > 255)
    throw HttpError(400, "invalid_request", "session_id must be a non-empty string");
  std::string session_id = body["session_id"].get<std::string>();

  bool exists = false;
  rt_->run_sql_read([&](Sql& sql) {
    exists = sql.query_one("SELECT 1 FROM pay_sessions WHERE session_id = $1", {session_id}).has_value();
  });
  if (!exists) throw HttpError(404, "session_not_found", "no payment session " + session_id);
  if (key) check_request_key(action, *key, sha256_hex(body.dump()));

  Json r;
  try {
    r = rt_->start(status_wf_, with_id(action + ":" + session_id), session_id, action)
            .result_for(kRequestWait);
  } catch (const TimeoutError&) {
    throw HttpError(409, "request_in_progress", "this request is still being processed; retry shortly");
  }
  if (!r.value("found", false)) throw HttpError(404, "session_not_found", "no payment session " + session_id);
  std::string status = r.at("payment_status").get<std::string>();
  Json extra{{"session_id", session_id}, {"payment_status", status}};
  if (r.contains("charge_id")) extra["charge_id"] = r["charge_id"];

  if (action == "submit") {
    if (status == kPaid) return HttpResponse::json(extra);
    throw HttpError(409, "session_" + status, "the payment session is " + status + " and cannot be paid", extra);
  }
  // cancel / expire
  if (status == kPaid)
    throw HttpError(409, "already_paid", "the payment session is already paid", extra);
  return HttpResponse::json(extra);
}

std::optional<Json> PaymentService::load_session(const std::string& session_id) {
  std::optional<Json> out;
  rt_->run_sql_read([&](Sql& sql) {
    auto s = sql.query_one(
        "SELECT session_id, client_reference_id, status, amount_cents, items, webhook_url, success_url, cancel_url, "
        "url, created_at_ms, updated_at_ms FROM pay_sessions WHERE session_id = $1",
        {session_id});
    if (!s) return;
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
    j["charge"] = nullptr;
    if (auto c = sql.query_one("SELECT charge_id, amount_cents, created_at_ms FROM pay_charges WHERE session_id = $1",
                               {session_id}))
      j["charge"] = Json{{"charge_id", c->get_string(0)}, {"amount_cents", c->get_int(1)}, {"created_at", c->get_int(2) / 1000}};
    j["events"] = Json::array();
    for (auto& e : sql.query(
             "SELECT event_id, type, delivery_status, created_at_ms, delivered_at_ms FROM pay_events "
             "WHERE session_id = $1 ORDER BY created_at_ms",
             {session_id}))
      j["events"].push_back(Json{{"id", e.get_string(0)},
                                 {"type", e.get_string(1)},
                                 {"delivery_status", e.get_string(2)},
                                 {"created", e.get_int(3) / 1000},
                                 {"delivered_at", e.is_null(4) ? Json(nullptr) : Json(e.get_int(4) / 1000)}});
    j["webhook_deliveries"] = Json::array();
    for (auto& d : sql.query(
             "SELECT d.event_id, d.attempt, d.ok, d.status_code, d.error, d.attempted_at_ms, d.duration_ms "
             "FROM pay_webhook_deliveries d JOIN pay_events e ON e.event_id = d.event_id "
             "WHERE e.session_id = $1 ORDER BY d.event_id, d.attempt",
             {session_id}))
      j["webhook_deliveries"].push_back(Json{{"event_id", d.get_string(0)},
                                             {"attempt", d.get_int(1)},
                                             {"ok", d.get_int(2) != 0},
                                             {"status_code", opt_int(d, 3)},
                                             {"error", opt_text(d, 4)},
                                             {"attempted_at", d.get_int(5) / 1000},
                                             {"attempted_at_ms", d.get_int(5)},
                                             {"duration_ms", d.get_int(6)}});
    out = std::move(j);
  });
  return out;
}

HttpResponse PaymentService::handle_get_session(const HttpRequest& req) {
  std::string id = req.path_param("id").value_or("");
  auto s = load_session(id);
  if (!s) throw HttpError(404, "session_not_found", "no payment session " + id);
  return HttpResponse::json(*s);
}

HttpResponse PaymentService::handle_charges(const HttpRequest& req) {
  int64_t limit = 100;
  if (auto l = req.query_param("limit")) {
    auto v = parse_int(*l, 1, 500);
    if (!v) throw HttpError(400, "invalid_limit", "limit must be an integer from 1 to 500");
    limit = *v;
  }
  int64_t after = 0;
  if (auto a = req.query_param("after"); a && !a->empty()) {
    auto v = decode_cursor(*a);
    if (!v) throw HttpError(400, "invalid_cursor", "after must be a cursor returned as 'next' by this endpoint");
    after = *v;
  }
  Json charges = Json::array();
  Json next = nullptr;
  rt_->run_sql_read([&](Sql& sql) {
    auto rows = sql.query(
        "SELECT seq, charge_id, session_id, client_reference_id, amount_cents, created_at_ms FROM pay_charges "
        "WHERE seq > $1 ORDER BY seq LIMIT $2",
        {after, limit + 1});
    for (size_t i = 0; i < rows.size() && static_cast<int64_t>(i) < limit; ++i) {
      const SqlRow& r = rows[i];
      charges.push_back(Json{{"charge_id", r.get_string(1)},
                             {"session_id", r.get_string(2)},
                             {"client_reference_id", r.get_string(3)},
                             {"amount_cents", r.get_int(4)},
                             {"created_at", r.get_int(5) / 1000}});
    }
    if (static_cast<int64_t>(rows.size()) > limit) next = encode_cursor(rows[static_cast<size_t>(limit - 1)].get_int(0));
  });
  return HttpResponse::json(Json{{"charges", charges}, {"next", next}});
}

HttpResponse PaymentService::handle_pay_page(const HttpRequest& req) {
  std::string id = req.path_param("id").value_or("");
  auto s = load_session(id);
  if (!s) throw HttpError(404, "session_not_found", "no payment session " + id);
  std::string base = http_->base_url();
  std::string body_json = Json{{"session_id", id}}.dump();
  std::string page = "Payment session " + id + "\n" + "Amount: " + money((*s)["amount_cents"].get<int64_t>()) +
                     " (" + std::to_string((*s)["amount_cents"].get<int64_t>()) + " cents)\n" +
                     "Status: " + (*s)["payment_status"].get<std::string>() + "\n";
  if ((*s)["payment_status"] == kPending) {
    page += "Submit payment:\ncurl -X POST " + base + "/api/submit_payment -H \"Content-type: application/json\" -d '" +
            body_json + "'\n";
    page += "Cancel payment:\ncurl -X POST " + base + "/api/cancel_payment -H \"Content-type: application/json\" -d '" +
            body_json + "'\n";
  }
  return HttpResponse::text(page);
}

}  // namespace keel::payments
