// The payment service's start-up and shutdown. Nothing here is durable by
// itself: what survives kill -9 is the workflows' business (workflows.cpp);
// start-up recovers them and restarts any delivery found missing.
#include "payments/service.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/app_locks.hpp"
#include "payments/api.hpp"
#include "payments/schema.hpp"
#include "payments/workflows.hpp"

#ifdef KEEL_APPS_WITH_ADMIN
#include "keel/admin_server.hpp"
#endif

namespace keel::payments {

namespace {

void write_file_atomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

// The service's own tables; returns the schema version found.
int migrate_tables(Runtime& rt) {
  int before = 0;
  keel::apps::run_app_migration(rt, [&](Sql& sql) { before = migrate_schema(sql); });
  return before;
}

std::string without_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

PaymentService::PaymentService(ServiceConfig config) : config_(std::move(config)) {}

PaymentService::~PaymentService() { stop(); }

int PaymentService::port() const { return http_ ? http_->port() : 0; }

void PaymentService::start() {
  RuntimeConfig rc;
  rc.database_url = config_.db_url;
  rc.executor_id = config_.executor_id;
  rc.application_version = "payments-1";
  rc.retention.finished_older_than = config_.retention;
  rc.retention.interval = config_.retention_interval;
  rt_ = std::make_unique<Runtime>(rc);

  // The service's tables first: recovered workflows use them.
  int before = migrate_tables(*rt_);
  if (before < schema_version_count())
    spdlog::info("payments schema migrated from version {} to {}", before, schema_version_count());

  // Bind before launching, so that session URLs made by recovered workflows
  // carry the real port; requests get 503 until the runtime is launched.
  http_ = std::make_unique<apps::HttpService>("payments", apps::HttpServiceOptions{.threads = 64});
  api_ = std::make_unique<PaymentApi>(*rt_, config_, *http_);
  http_->start(config_.host, config_.port);
  workflows_ = std::make_unique<PaymentWorkflows>(
      *rt_, config_, without_trailing_slashes(config_.public_url.empty() ? http_->base_url() : config_.public_url));

  launch_runtime();
  int bound_admin = start_admin_server();
  log_serving(bound_admin);
  if (!config_.ready_file.empty()) write_ready_file(bound_admin);
}

void PaymentService::launch_runtime() {
  LaunchReport report = rt_->launch();
  spdlog::info("Workflow executor initialized (executor '{}', database {}, {} workflow(s) recovered)",
               config_.executor_id, config_.db_url, report.recovered.size());
  for (const auto& f : report.not_recovered) spdlog::error("[{}] not recovered: {}", f.workflow_id, f.reason);
  workflows_->restart_missing_deliveries();
  api_->set_ready(true);
}

int PaymentService::start_admin_server() {
  int admin_port = config_.admin_port == -2 ? (config_.port == 0 ? 0 : config_.port + 1) : config_.admin_port;
  if (admin_port < 0) return -1;
#ifdef KEEL_APPS_WITH_ADMIN
  auto admin = std::make_shared<AdminServer>(
      *rt_, keel::AdminServerOptions{.host = config_.host, .port = admin_port, .token = config_.admin_token});
  admin->start();
  stop_admin_ = [admin] { admin->stop(); };
  admin_ = admin;
  return admin->port();
#else
  spdlog::info("this build has no Keel admin server (keel_admin); GET /healthz is served on the main port");
  return -1;
#endif
}

void PaymentService::log_serving(int admin_port) const {
  spdlog::info("HTTP endpoints supported:");
  for (const auto& r : http_->routes()) {
    auto space = r.find(' ');
    spdlog::info("    {:<5} :  {}", r.substr(0, space), r.substr(space + 1));
  }
  spdlog::info("Payment service is running at {}", http_->base_url());
  if (admin_port >= 0) spdlog::info("Admin server is running at http://{}:{}", config_.host, admin_port);
  if (config_.test_crash_point.size()) spdlog::warn("test crash point armed: {}", config_.test_crash_point);
}

void PaymentService::write_ready_file(int admin_port) const {
  write_file_atomically(config_.ready_file,
                        Json{{"port", http_->port()}, {"admin_port", admin_port}, {"pid", ::getpid()}}.dump() + "\n");
}

void PaymentService::stop() {
  if (api_) api_->set_ready(false);
  if (http_) http_->stop();
  if (stop_admin_) stop_admin_();
  stop_admin_ = nullptr;
  admin_.reset();
  if (rt_) rt_->shutdown();
}

void migrate_database(const std::string& db_url) {
  RuntimeConfig rc;
  rc.database_url = db_url;
  rc.executor_id = "payments-migrate";  // recovers nothing: no workflow runs under this id
  Runtime rt(rc);
  int before = migrate_tables(rt);
  rt.launch();  // migrates Keel's system tables
  rt.shutdown();
  spdlog::info("database {} migrated (payments schema version {} -> {})", db_url, before, schema_version_count());
}

}  // namespace keel::payments
