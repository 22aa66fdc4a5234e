// keel::AdminServer: the admin HTTP API of a Keel application, on cpp-httplib.
//
// This is the only translation unit of the library that includes httplib.h.
// Routing is done here rather than by httplib's regex table, so that an
// unknown path answers 404 and a known path with the wrong method answers 405
// (with an Allow header), both with a JSON body. Path segments are split on
// the raw request target and then percent-decoded, so a workflow ID may hold
// any character ('/' as %2F).
#include "keel/admin_server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "admin/console/console_assets.hpp"
#include "admin/request_guard.hpp"
#include "admin/workflow_filter.hpp"
#include "common/clock.hpp"
#include "json_views.hpp"
#include "keel/runtime.hpp"
#include "metrics/exposition.hpp"
#include "runtime/runtime_access.hpp"

namespace keel {

namespace {

constexpr int kDefaultLimit = 100;
constexpr int kMaxLimit = kMaxListLimit;

struct Reply {
  int status = 200;
  Json body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> text;  // a body that is not JSON (GET /metrics), sent as text_type
  std::string text_type;
};

// An answer to the client other than success; thrown by handlers.
struct HttpError {
  int status;
  std::string code;
  std::string message;
};

std::optional<std::string> percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// "/workflows/a%2Fb/steps?x=1" -> {"workflows", "a/b", "steps"}.
std::vector<std::string> split_path(const std::string& target) {
  std::string_view path(target);
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty() || path.front() != '/')
    throw HttpError{400, "bad_request", "the request target '" + target + "' is not an absolute path"};
  path.remove_prefix(1);
  std::vector<std::string> segments;
  for (;;) {
    size_t slash = path.find('/');
    auto decoded = percent_decode(path.substr(0, slash));
    if (!decoded)
      throw HttpError{400, "bad_request", "the request path '" + target + "' holds an invalid percent-escape"};
    segments.push_back(std::move(*decoded));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

std::string single_param(const httplib::Request& req, const std::string& key) {
  if (req.get_param_value_count(key) > 1)
    throw HttpError{400, "invalid_parameter", "query parameter '" + key + "' is given more than once"};
  return req.get_param_value(key);
}

using Handler = std::function<Reply(const httplib::Request&, const std::vector<std::string>& captures)>;

struct Route {
  std::string method;                 // GET or POST
  std::vector<std::string> pattern;   // literal segments; "*" captures one non-empty segment
  Handler handler;

  bool match(const std::vector<std::string>& segments, std::vector<std::string>& captures) const {
    if (segments.size() != pattern.size()) return false;
    captures.clear();
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] == "*") {
        if (segments[i].empty()) return false;
        captures.push_back(segments[i]);
      } else if (pattern[i] != segments[i]) {
        return false;
      }
    }
    return true;
  }
};

}  // namespace

struct AdminServer::Impl {
  // An empty host means the default, loopback only.
  Impl(Runtime& runtime, AdminServerOptions options)
      : rt(runtime),
        host(options.host.empty() ? "127.0.0.1" : std::move(options.host)),
        requested_port(options.port),
        guard(options.token, console_paths()) {
    routes = {
        {"GET", {"healthz"}, [](auto&, auto&) { return Reply{200, Json{{"status", "healthy"}}, {}}; }},
        {"GET", {"metrics"}, [this](auto&, auto&) {
           return Reply{200, {}, {}, detail::RuntimeAccess::metrics_text(rt),
                        std::string(metrics::kContentType)};
         }},
        {"GET", {"workflows"}, [this](auto& req, auto&) { return list(req); }},
        {"GET", {"workflows", "*"}, [this](auto&, auto& c) { return Reply{200, admin::to_json(existing(c[0])), {}}; }},
        {"GET", {"workflows", "*", "steps"}, [this](auto&, auto& c) { return steps(c[0]); }},
        {"GET", {"workflows", "*", "events"}, [this](auto&, auto& c) { return events(c[0]); }},
        {"GET", {"workflows", "*", "messages"}, [this](auto& req, auto& c) { return messages(req, c[0]); }},
        {"POST", {"workflows", "cancel"}, [this](auto& req, auto&) { return bulk(req, Bulk::Cancel); }},
        {"POST", {"workflows", "resume"}, [this](auto& req, auto&) { return bulk(req, Bulk::Resume); }},
        {"POST", {"workflows", "delete"}, [this](auto& req, auto&) { return bulk(req, Bulk::Delete); }},
        {"POST", {"workflows", "*", "cancel"}, [this](auto&, auto& c) { return cancel(c[0]); }},
        {"POST", {"workflows", "*", "delete"}, [this](auto&, auto& c) { return remove(c[0]); }},
        {"POST", {"workflows", "*", "resume"}, [this](auto&, auto& c) { return resume(c[0]); }},
        {"POST", {"workflows", "*", "fork"}, [this](auto& req, auto& c) { return fork(c[0], fork_options(req)); }},
        {"POST", {"workflows", "*", "restart"}, [this](auto& req, auto& c) { return fork(c[0], restart_options(req)); }},
        {"GET", {"executors"}, [this](auto&, auto&) { return executors(); }},
        {"GET", {"queues"}, [this](auto&, auto&) { return Reply{200, admin::queues_to_json(rt.list_queues()), {}}; }},
        {"GET", {"schedules"}, [this](auto&, auto&) {
           return Reply{200, admin::schedules_to_json(rt.list_schedules()), {}};
         }},
        {"POST", {"schedules", "*", "pause"}, [this](auto&, auto& c) { return pause_schedule(c[0], true); }},
        {"POST", {"schedules", "*", "resume"}, [this](auto&, auto& c) { return pause_schedule(c[0], false); }},
        {"POST", {"schedules", "*", "trigger"}, [this](auto&, auto& c) { return trigger_schedule(c[0]); }},
        {"POST", {"schedules", "*", "delete"}, [this](auto&, auto& c) {
           rt.delete_schedule(c[0]);
           return Reply{200, Json{{"name", c[0]}, {"deleted", true}}, {}};
         }},
    };
    // The web console: "/" and "/console/<file>" (admin/console/).
    for (const auto& asset : admin::console::assets()) {
      std::string path(asset.path);
      routes.push_back({"GET", split_path(path), [&asset](auto&, auto&) {
                          return Reply{200, {}, {{"Cache-Control", "no-cache"}}, std::string(asset.body),
                                       std::string(asset.content_type)};
                        }});
    }
  }

  static std::set<std::string> console_paths() {
    std::set<std::string> paths;
    for (const auto& asset : admin::console::assets()) paths.emplace(asset.path);
    return paths;
  }

  // --- handlers -----------------------------------------------------------

  WorkflowInfo existing(const std::string& id) {
    auto info = rt.get_workflow(id);
    if (!info) throw HttpError{404, "workflow_not_found", "no workflow with ID '" + id + "'"};
    return *info;
  }

  static ListWorkflowsQuery filter(const admin::FilterParams& params, bool paging) {
    try {
      return admin::parse_workflow_filter(params, detail::now_ms(), paging);
    } catch (const admin::FilterError& e) {
      throw HttpError{400, e.code, e.message};
    }
  }

  Reply list(const httplib::Request& req) {
    ListWorkflowsQuery q = filter(req.params, /*paging=*/true);
    WorkflowPage page;
    try {
      page = rt.list_workflows_page(q);
    } catch (const UsageError& e) {  // the limit is checked: only the cursor is left
      throw HttpError{400, "invalid_cursor", e.what()};
    }
    return Reply{200, admin::page_to_json(page), {}};
  }

  Reply steps(const std::string& id) {
    (void)existing(id);
    return Reply{200, admin::steps_to_json(id, rt.list_steps(id)), {}};
  }

  Reply events(const std::string& id) {
    (void)existing(id);
    return Reply{200, admin::events_to_json(id, rt.get_all_events(id)), {}};
  }

  Reply messages(const httplib::Request& req, const std::string& id) {
    for (const auto& [key, value] : req.params) {
      (void)value;
      if (key != "after" && key != "limit")
        throw HttpError{400, "invalid_parameter", "unknown query parameter '" + key + "' (expected after or limit)"};
    }
    auto number = [&](const std::string& key, int64_t fallback, int64_t low, int64_t high) {
      if (!req.has_param(key)) return fallback;
      std::string s = single_param(req, key);
      int64_t v = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < low || v > high)
        throw HttpError{400, "invalid_" + key,
                        key + " '" + s + "' is not an integer from " + std::to_string(low) + " to " +
                            std::to_string(high)};
      return v;
    };
    int64_t after = number("after", 0, 0, std::numeric_limits<int64_t>::max());
    int limit = static_cast<int>(number("limit", kDefaultLimit, 1, kMaxLimit));
    (void)existing(id);
    return Reply{200, admin::messages_to_json(id, rt.list_messages(id, after, limit)), {}};
  }

  // The leases, with each one's PENDING workflows counted (one indexed
  // count per executor: there are few executors).
  Reply executors() {
    std::vector<admin::ExecutorView> views;
    for (auto& e : rt.list_executors()) {
      ListWorkflowsQuery q;
      q.statuses = {WorkflowStatus::Pending};
      q.executor_id = e.executor_id;
      q.limit = 1;
      q.count_total = true;
      int64_t held = rt.list_workflows_page(q).total.value_or(0);
      views.push_back({std::move(e), held});
    }
    const int64_t lease_timeout_ms = rt.config().lease_timeout.count();
    return Reply{200, admin::executors_to_json(views, detail::now_ms(), lease_timeout_ms), {}};
  }

  Reply pause_schedule(const std::string& name, bool pause) {
    if (pause) rt.pause_schedule(name);
    else rt.resume_schedule(name);
    return Reply{200, Json{{"name", name}, {"paused", pause}}, {}};
  }

  Reply trigger_schedule(const std::string& name) {
    try {
      return Reply{200, Json{{"name", name}, {"workflow_id", rt.trigger_schedule(name)}}, {}};
    } catch (const UnknownWorkflowError& e) {
      throw HttpError{409, "workflow_not_registered", e.what()};
    }
  }

  Reply cancel(const std::string& id) {
    (void)existing(id);
    bool cancelled = rt.cancel(id);
    auto after = existing(id);
    return Reply{200, Json{{"workflow_id", id}, {"cancelled", cancelled}, {"status", to_string(after.status)}}, {}};
  }

  Reply remove(const std::string& id) {
    rt.delete_workflow(id);
    return Reply{200, Json{{"workflow_id", id}, {"deleted", true}}, {}};
  }

  enum class Bulk { Cancel, Resume, Delete };

  // The body of a bulk operation: the list filter's parameters as JSON
  // fields (strings; a time may be a number of epoch ms, status an array),
  // and dry_run. An empty filter is refused: "every workflow" is never
  // what a tired operator means.
  static std::pair<ListWorkflowsQuery, bool> bulk_body(const httplib::Request& req) {
    std::vector<std::string> allowed = admin::filter_parameter_names();
    allowed.push_back("dry_run");
    Json body = body_object(req, allowed);
    admin::FilterParams params;
    bool dry_run = false;
    for (const auto& [key, value] : body.items()) {
      if (key == "dry_run") {
        if (!value.is_boolean()) throw HttpError{400, "invalid_body", "field 'dry_run' must be true or false"};
        dry_run = value.get<bool>();
      } else if (value.is_string()) {
        params.emplace(key, value.get<std::string>());
      } else if (value.is_number_integer()) {
        params.emplace(key, std::to_string(value.get<int64_t>()));
      } else if (key == "status" && value.is_array() && !value.empty()) {
        std::string list;
        for (const auto& s : value) {
          if (!s.is_string()) throw HttpError{400, "invalid_body", "field 'status' must list strings"};
          list += (list.empty() ? "" : ",") + s.get<std::string>();
        }
        params.emplace(key, list);
      } else {
        throw HttpError{400, "invalid_body", "field '" + key + "' must be a string"};
      }
    }
    if (params.empty())
      throw HttpError{400, "filter_required",
                      "a bulk operation needs at least one filter field (" + admin::filter_parameter_list() + ")"};
    return {filter(params, /*paging=*/false), dry_run};
  }

  Reply bulk(const httplib::Request& req, Bulk op) {
    auto [q, dry_run] = bulk_body(req);
    BulkOptions options{.dry_run = dry_run, .on_progress = {}};
    BulkResult r;
    if (op == Bulk::Cancel) r = rt.cancel_workflows(q, options);
    if (op == Bulk::Resume) r = rt.resume_workflows(q, options);
    if (op == Bulk::Delete) r = rt.delete_workflows(q, options);
    return Reply{200, admin::bulk_to_json(r, dry_run), {}};
  }

  // Runtime::resume refuses, changing nothing, a workflow of this version
  // whose name this process does not register (another application's).
  Reply resume(const std::string& id) {
    WorkflowInfo before = existing(id);
    bool resumed = false;
    try {
      resumed = rt.resume(id);
    } catch (const UnknownWorkflowError& e) {
      spdlog::warn("admin: resume of '{}' refused: {}", id, e.what());
      throw HttpError{409, "workflow_not_registered",
                      "workflow '" + id + "' runs the '" + before.name +
                          "' workflow, which is not registered in this process; resume it through the admin "
                          "server of the application that registers it, or with `keel workflow resume`"};
    }
    auto after = existing(id);
    return Reply{200,
                 Json{{"workflow_id", id},
                      {"resumed", resumed},
                      {"status", to_string(after.status)},
                      {"executor_id", after.executor_id}},
                 {}};
  }

  // The JSON object of a POST body ({} when there is none); only `allowed` keys.
  static Json body_object(const httplib::Request& req, const std::vector<std::string>& allowed) {
    if (req.body.empty()) return Json::object();
    Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object())
      throw HttpError{400, "invalid_body", "the request body must be a JSON object"};
    for (const auto& [key, value] : body.items()) {
      (void)value;
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string names;
        for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
        throw HttpError{400, "invalid_body", "unknown field '" + key + "' (expected " + names + ")"};
      }
    }
    return body;
  }

  static std::string string_field(const Json& body, const std::string& key) {
    if (!body.contains(key)) return {};
    if (!body[key].is_string()) throw HttpError{400, "invalid_body", "field '" + key + "' must be a string"};
    return body[key].get<std::string>();
  }

  static ForkOptions fork_options(const httplib::Request& req) {
    Json body = body_object(req, {"start_step", "workflow_id", "application_version"});
    ForkOptions o;
    if (body.contains("start_step")) {
      const Json& s = body["start_step"];
      if (!s.is_number_integer() || s.get<int64_t>() < 0 || s.get<int64_t>() > std::numeric_limits<int>::max())
        throw HttpError{400, "invalid_body", "field 'start_step' must be an integer from 0"};
      o.start_step = s.get<int>();
    }
    o.workflow_id = string_field(body, "workflow_id");
    o.application_version = string_field(body, "application_version");
    return o;
  }

  static ForkOptions restart_options(const httplib::Request& req) {
    ForkOptions o;
    o.workflow_id = string_field(body_object(req, {"workflow_id"}), "workflow_id");
    return o;
  }

  Reply fork(const std::string& id, const ForkOptions& options) {
    std::string fork_id = rt.fork_workflow(id, options);
    auto info = existing(fork_id);
    return Reply{200,
                 Json{{"workflow_id", fork_id},
                      {"forked_from", id},
                      {"start_step", options.start_step},
                      {"status", to_string(info.status)},
                      {"application_version", info.application_version},
                      {"executor_id", info.executor_id}},
                 {}};
  }

  // --- dispatch -------------------------------------------------------------

  Reply route(const httplib::Request& req) {
    auto segments = split_path(req.target);
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    std::vector<std::string> captures;
    std::vector<std::string> allowed;
    for (const auto& r : routes) {
      if (!r.match(segments, captures)) continue;
      if (r.method == method) return r.handler(req, captures);
      allowed.push_back(r.method);
    }
    std::string path = req.target.substr(0, req.target.find('?'));
    if (allowed.empty()) throw HttpError{404, "not_found", "no route for " + req.method + " " + path};
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m + (m == "GET" ? ", HEAD" : "");
    Reply r{405,
            admin::error_to_json("method_not_allowed",
                                 "method " + req.method + " is not allowed on " + path + " (allowed: " + allow + ")"),
            {{"Allow", allow}}};
    return r;
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    auto t0 = std::chrono::steady_clock::now();
    Reply reply;
    auto fail = [&](int status, const std::string& code, const std::string& message) {
      reply = Reply{status, admin::error_to_json(code, message), {}};
    };
    try {
      if (auto refused = guard.check(req, req.target.substr(0, req.target.find('?')))) {
        fail(refused->status, refused->code, refused->message);
        if (refused->status == 401) reply.headers.emplace_back("WWW-Authenticate", "Bearer");
      } else {
        reply = route(req);
      }
    } catch (const HttpError& e) {
      fail(e.status, e.code, e.message);
    } catch (const WorkflowNotFoundError& e) {
      fail(404, "workflow_not_found", e.what());
    } catch (const UnknownScheduleError& e) {
      fail(404, "schedule_not_found", e.what());
    } catch (const WorkflowConflictError& e) {
      fail(409, "workflow_conflict", e.what());
    } catch (const UsageError& e) {
      fail(400, "invalid_request", e.what());
    } catch (const RuntimeStateError& e) {
      fail(503, "unavailable", e.what());
    } catch (const StorageFullError& e) {
      // Nothing of the failed write took effect: a retry once space is freed is safe.
      spdlog::error("admin: {} {}: the system database's disk is full: {}", req.method, req.target, e.what());
      fail(503, "storage_full",
           "the system database has no space left (disk full); the write that failed was not recorded. Retry later.");
      reply.headers.emplace_back("Retry-After", "5");
    } catch (const DatabaseError& e) {
      fail(500, "database_error", e.what());
    } catch (const std::exception& e) {
      fail(500, "internal_error", e.what());
    } catch (...) {
      fail(500, "internal_error", "a non-standard exception");
    }
    res.status = reply.status;
    for (const auto& [k, v] : admin::console::security_headers()) res.set_header(std::string(k), std::string(v));
    for (const auto& [k, v] : reply.headers) res.set_header(k, v);
    if (reply.text) {
      res.set_content(*reply.text, reply.text_type);
    } else {
      res.set_content(admin::dump(reply.body) + "\n", "application/json");
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    auto level = reply.status >= 500 ? spdlog::level::warn : spdlog::level::info;
    spdlog::log(level, "admin: {} {} -> {} ({:.1f} ms)", req.method, req.target, reply.status, ms);
  }

  Runtime& rt;
  std::string host;
  int requested_port;
  admin::RequestGuard guard;
  std::vector<Route> routes;

  // Set by start(), cleared by stop(); touched by the owning thread only.
  std::unique_ptr<httplib::Server> server;
  std::jthread thread;
  int bound_port = 0;
  std::atomic<bool> listen_returned{false};
};

AdminServer::AdminServer(Runtime& rt, AdminServerOptions options)
    : impl_(std::make_unique<Impl>(rt, std::move(options))) {}

AdminServer::AdminServer(Runtime& rt, std::string host, int port)
    : AdminServer(rt, AdminServerOptions{.host = std::move(host), .port = port, .token = {}}) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  Impl& im = *impl_;
  if (im.server) throw UsageError("AdminServer::start: the server is already started");
  if (im.requested_port < 0 || im.requested_port > 65535)
    throw ConfigError("admin server port " + std::to_string(im.requested_port) + " is not in 0..65535");
  std::string where = im.host + ":" + std::to_string(im.requested_port);
  if (!im.guard.has_token() && !admin::is_loopback_host(im.host))
    throw ConfigError("the admin server may bind " + where +
                      ", which is not loopback, only with a token (AdminServerOptions::token): anyone who reaches "
                      "it could cancel or fork workflows");

  auto server = std::make_unique<httplib::Server>();
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would
  // let a second server bind a port that is already taken.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->set_keep_alive_timeout(1);  // keeps stop() prompt with idle keep-alive clients
  server->set_payload_max_length(64 * 1024);  // bodies are small JSON objects (fork); refuse big ones (413)
  httplib::Server::Handler h = [&im](const httplib::Request& req, httplib::Response& res) { im.handle(req, res); };
  server->Get(".*", h).Post(".*", h).Put(".*", h).Patch(".*", h).Delete(".*", h).Options(".*", h);

  int port = -1;
  if (im.requested_port == 0) {
    port = server->bind_to_any_port(im.host);
  } else if (server->bind_to_port(im.host, im.requested_port)) {
    port = im.requested_port;
  }
  if (port <= 0)
    throw Error("admin server cannot listen on " + where +
                ": the address is in use or is not an address of this machine");

  im.listen_returned.store(false);
  httplib::Server* raw = server.get();
  im.thread = std::jthread([&im, raw, port] {
    if (!raw->listen_after_bind()) spdlog::error("admin: the server on port {} stopped with an error", port);
    im.listen_returned.store(true);
  });
  // httplib's stop() does nothing until listen_after_bind has marked the
  // server running; wait for that so that a prompt stop() cannot be lost.
  while (!raw->is_running() && !im.listen_returned.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  im.server = std::move(server);
  im.bound_port = port;
  if (im.listen_returned.load()) {
    stop();
    throw Error("admin server on " + where + " stopped as soon as it started");
  }
  spdlog::info("admin: listening on http://{}:{}", im.host, port);
}

void AdminServer::stop() {
  Impl& im = *impl_;
  if (!im.server) return;
  im.server->stop();
  if (im.thread.joinable()) im.thread.join();
  im.server.reset();
  spdlog::info("admin: stopped (port {})", im.bound_port);
  im.bound_port = 0;
}

int AdminServer::port() const { return impl_->bound_port; }

}  // namespace keel
