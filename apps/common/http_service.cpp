// The HTTP layer behind http_service.hpp. The only file (with none other)
// that includes cpp-httplib.
#include "common/http_service.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <thread>

#include "keel/errors.hpp"

namespace keel::apps {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

const char* reason_code(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    case 416: return "range_not_satisfiable";
    case 431: return "headers_too_large";
    case 500: return "internal_error";
    case 503: return "unavailable";
    default: return status >= 500 ? "server_error" : "client_error";
  }
}

std::string reason_message(int status) {
  switch (status) {
    case 400: return "the request is malformed";
    case 404: return "no such resource";
    case 405: return "method not allowed on this resource";
    case 413: return "the request body is too large";
    case 414: return "the request URI is too long";
    default: return "HTTP status " + std::to_string(status);
  }
}

struct Segment {
  std::string text;  // literal text, or the capture name
  bool capture = false;
  bool optional = false;
};

struct Route {
  std::string method;
  std::string pattern;
  std::vector<Segment> segments;
  HttpHandler handler;
};

// Matches path segments against a route's pattern; fills params on success.
bool match(const Route& r, const std::vector<std::string>& parts, std::map<std::string, std::string>& params) {
  size_t required = 0;
  for (const auto& s : r.segments)
    if (!s.optional) ++required;
  if (parts.size() < required || parts.size() > r.segments.size()) return false;
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < r.segments.size(); ++i) {
    const Segment& s = r.segments[i];
    if (i >= parts.size()) {
      if (!s.optional) return false;
      continue;
    }
    if (s.capture) {
      out[s.text] = parts[i];
    } else if (s.text != parts[i]) {
      return false;
    }
  }
  params = std::move(out);
  return true;
}

// httplib::Server with access to its listening socket, so that the listen
// backlog (5, compiled into the Debian library) can be raised.
class Server : public httplib::Server {
 public:
  void raise_backlog() {
    socket_t fd = svr_sock_;
    if (fd != INVALID_SOCKET) ::listen(fd, SOMAXCONN);
  }
};

// Per-thread start time of the request being served (the logger runs on the
// same thread as the pre-routing handler of the same request).
thread_local std::chrono::steady_clock::time_point t_request_start{};

}  // namespace

// ---------------------------------------------------------------------------
// Request / response helpers

std::optional<std::string> HttpRequest::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> HttpRequest::path_param(const std::string& name) const {
  auto it = path_params.find(name);
  if (it == path_params.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> HttpRequest::query_param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::string dump_json(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

HttpResponse HttpResponse::json(const nlohmann::json& j, int status) {
  HttpResponse r;
  r.status = status;
  r.body = dump_json(j);
  return r;
}

HttpResponse HttpResponse::text(std::string body, int status, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

HttpError::HttpError(int status, std::string code, const std::string& message, nlohmann::json extra)
    : std::runtime_error(message), status_(status), code_(std::move(code)), extra_(std::move(extra)) {}

nlohmann::json HttpError::body() const { return error_body(code_, what(), extra_); }

nlohmann::json error_body(const std::string& code, const std::string& message, const nlohmann::json& extra) {
  nlohmann::json j = nlohmann::json::object();
  if (extra.is_object())
    for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  j["error"] = code;
  j["message"] = message;
  return j;
}

nlohmann::json parse_json_body(const HttpRequest& req, bool allow_empty) {
  bool blank = std::all_of(req.body.begin(), req.body.end(),
                           [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
  if (blank) {
    if (allow_empty) return nullptr;
    throw HttpError(400, "invalid_json", "the request body must be a JSON document");
  }
  // nlohmann's parser does not recurse, but dump() (the payment service's
  // request fingerprint), == and the copies do, once per level: a 200 KB
  // body of nested arrays overflowed the handler thread's stack. No request
  // of either app nests deeper than 3 levels.
  // depth counts the containers around an event: an object or array that
  // opens at depth d is level d + 1.
  auto depth_limit = [](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    using Event = nlohmann::json::parse_event_t;
    if ((event == Event::object_start || event == Event::array_start) && depth >= kMaxJsonDepth)
      throw HttpError(400, "invalid_json",
                      "the request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  try {
    return nlohmann::json::parse(req.body, depth_limit);
  } catch (const nlohmann::json::exception& e) {
    throw HttpError(400, "invalid_json", std::string("the request body is not valid JSON: ") + e.what());
  }
}

// ---------------------------------------------------------------------------
// Server

struct HttpService::Impl {
  std::string name;
  HttpServiceOptions options;
  Server server;
  std::vector<Route> routes;
  std::thread thread;
  std::string host;
  int port = 0;
  std::atomic<bool> started{false};
  std::mutex mu;  // start/stop

  HttpResponse dispatch(const HttpRequest& req) {
    std::vector<std::string> parts = split_path(req.path);
    std::string method = req.method == "HEAD" ? "GET" : req.method;
    std::vector<std::string> allowed;
    for (const Route& r : routes) {
      std::map<std::string, std::string> params;
      if (!match(r, parts, params)) continue;
      if (r.method != method) {
        if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) allowed.push_back(r.method);
        continue;
      }
      HttpRequest with_params = req;
      with_params.path_params = std::move(params);
      return r.handler(with_params);
    }
    if (!allowed.empty()) {
      std::string allow;
      for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
      HttpResponse res = HttpResponse::json(
          error_body("method_not_allowed", req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")"),
          405);
      res.headers["Allow"] = allow;
      return res;
    }
    return HttpResponse::json(error_body("not_found", "no route for " + req.method + " " + req.path), 404);
  }

  void handle(const httplib::Request& hreq, httplib::Response& hres) {
    HttpRequest req;
    req.method = hreq.method;
    req.path = hreq.path;
    req.body = hreq.body;
    req.remote_addr = hreq.remote_addr;
    for (const auto& [k, v] : hreq.headers) req.headers.emplace(lower(k), v);
    for (const auto& [k, v] : hreq.params) req.query.emplace(k, v);  // emplace keeps the first
    HttpResponse res;
    try {
      res = dispatch(req);
    } catch (const HttpError& e) {
      res = HttpResponse::json(e.body(), e.status());
    } catch (const keel::StorageFullError& e) {
      // The driver's text (file, statement) goes to the log, not to the client.
      spdlog::error("[{}] {} {}: the database's disk is full: {}", name, req.method, req.path, e.what());
      res = storage_full_response(options.storage_full_retry_after);
    } catch (const keel::DatabaseUnavailableError& e) {
      spdlog::error("[{}] {} {}: the database is unavailable: {}", name, req.method, req.path, e.what());
      res = database_unavailable_response(options.database_unavailable_retry_after);
    } catch (const std::exception& e) {
      spdlog::error("[{}] {} {}: unhandled error: {}", name, req.method, req.path, e.what());
      res = HttpResponse::json(error_body("internal_error", e.what()), 500);
    } catch (...) {
      spdlog::error("[{}] {} {}: unhandled non-standard exception", name, req.method, req.path);
      res = HttpResponse::json(error_body("internal_error", "unexpected error"), 500);
    }
    hres.status = res.status;
    for (const auto& [k, v] : res.headers) hres.set_header(k, v);
    if (!res.stream) {
      hres.set_content(res.body, res.content_type);
      return;
    }
    hres.set_chunked_content_provider(res.content_type,
                                      [stream = std::move(res.stream)](size_t, httplib::DataSink& sink) {
                                        stream([&](std::string_view data) {
                                          return sink.is_writable() && sink.write(data.data(), data.size());
                                        });
                                        sink.done();
                                        return true;
                                      });
  }
};

namespace {
// 503 with Retry-After: N (at least 1) and {"error": code, "message": ...,
// "retry_after_seconds": N}: a condition of the service's database, not of
// the request.
HttpResponse retry_later(const std::string& code, const std::string& message, std::chrono::seconds retry_after) {
  const auto seconds = std::max<int64_t>(1, retry_after.count());
  HttpResponse res = HttpResponse::json(error_body(code, message, {{"retry_after_seconds", seconds}}), 503);
  res.headers["Retry-After"] = std::to_string(seconds);
  return res;
}
}  // namespace

HttpResponse storage_full_response(std::chrono::seconds retry_after) {
  return retry_later("storage_full",
                     "the service's database has no space left (disk full); the write that failed was not recorded. "
                     "Retry later (a request with an idempotency key is safe to repeat).",
                     retry_after);
}

HttpResponse database_unavailable_response(std::chrono::seconds retry_after) {
  return retry_later("database_unavailable",
                     "the service's database cannot be reached right now (restarting, failing over or down); the "
                     "request did not take effect, or will be completed once it is back. Retry later (a request "
                     "with an idempotency key is safe to repeat).",
                     retry_after);
}

HttpService::HttpService(std::string name, HttpServiceOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  impl_->options = options;
  auto& svr = impl_->server;
  Impl* impl = impl_.get();
  size_t threads = std::max<size_t>(options.threads, 2);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_payload_max_length(options.max_body_bytes);
  // SO_REUSEADDR only: the library's default also sets SO_REUSEPORT, which
  // would let a second process bind the same port silently.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  svr.set_keep_alive_timeout(options.keep_alive_timeout.count());
  svr.set_read_timeout(options.read_timeout.count(), 0);
  svr.set_write_timeout(options.write_timeout.count(), 0);
  svr.set_pre_routing_handler([impl](const httplib::Request& req, httplib::Response& res) {
    t_request_start = std::chrono::steady_clock::now();
    // A request without Content-Length or Transfer-Encoding has no body
    // (RFC 9112 6.3). The library would wait for one on POST/PUT/PATCH until
    // its read timeout (e.g. `curl -X POST URL`): serve it now instead.
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
      impl->handle(req, res);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto handler = [impl](const httplib::Request& req, httplib::Response& res) { impl->handle(req, res); };
  svr.Get(".*", handler);
  svr.Post(".*", handler);
  svr.Put(".*", handler);
  svr.Patch(".*", handler);
  svr.Delete(".*", handler);
  svr.Options(".*", handler);
  // Statuses produced by the library itself (413, 400 on a malformed
  // request, ...): give them a JSON body like every other error.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    // The library rejects methods it does not know with 400: that is a 405.
    static const char* const kKnown[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"};
    if (res.status == 400 && !req.method.empty() &&
        std::none_of(std::begin(kKnown), std::end(kKnown), [&](const char* m) { return req.method == m; }))
      res.status = 405;
    std::string code = reason_code(res.status);
    res.set_content(dump_json(error_body(code, reason_message(res.status))), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([impl](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unexpected error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("[{}] {} {}: {}", impl->name, req.method, req.path, what);
    res.status = 500;
    res.set_content(dump_json(error_body("internal_error", what)), "application/json");
  });
  svr.set_logger([impl](const httplib::Request& req, const httplib::Response& res) {
    double ms = 0;
    if (t_request_start != std::chrono::steady_clock::time_point{})
      ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_request_start).count();
    t_request_start = {};
    spdlog::info("[{}] {} {} -> {} ({:.1f} ms)", impl->name, req.method, req.path, res.status, ms);
  });
}

HttpService::~HttpService() { stop(); }

void HttpService::route(std::string method, std::string pattern, HttpHandler handler) {
  if (impl_->started.load()) throw std::logic_error("HttpService::route after start()");
  if (pattern.empty() || pattern.front() != '/') throw std::invalid_argument("route pattern must start with '/': " + pattern);
  Route r;
  for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  r.method = std::move(method);
  r.pattern = pattern;
  r.handler = std::move(handler);
  bool seen_optional = false;
  for (auto& part : split_path(pattern)) {
    Segment s;
    if (part.front() == ':') {
      s.capture = true;
      s.text = part.substr(1);
      if (!s.text.empty() && s.text.back() == '?') {
        s.optional = true;
        s.text.pop_back();
      }
      if (s.text.empty()) throw std::invalid_argument("empty capture name in route pattern " + pattern);
    } else {
      s.text = part;
    }
    if (seen_optional && !s.optional)
      throw std::invalid_argument("optional segments must end the route pattern " + pattern);
    seen_optional = seen_optional || s.optional;
    r.segments.push_back(std::move(s));
  }
  impl_->routes.push_back(std::move(r));
}

void HttpService::start(const std::string& host, int port) {
  std::lock_guard lock(impl_->mu);
  if (impl_->started.load()) throw std::runtime_error("HttpService '" + impl_->name + "' already started");
  int bound = -1;
  if (port == 0) {
    bound = impl_->server.bind_to_any_port(host);
  } else if (impl_->server.bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0)
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + " for " + impl_->name +
                             " (address in use or not available)");
  impl_->server.raise_backlog();
  impl_->host = host;
  impl_->port = bound;
  impl_->thread = std::thread([impl = impl_.get()] {
    if (!impl->server.listen_after_bind()) spdlog::error("[{}] the HTTP server stopped with an error", impl->name);
  });
  // stop() is a no-op until the accept loop runs: wait for it.
  while (!impl_->server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->started.store(true);
}

void HttpService::stop() {
  std::lock_guard lock(impl_->mu);
  if (!impl_->started.exchange(false)) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool HttpService::running() const { return impl_->started.load(); }
int HttpService::port() const { return impl_->port; }
const std::string& HttpService::host() const { return impl_->host; }
const std::string& HttpService::name() const { return impl_->name; }

std::string HttpService::base_url() const {
  std::string h = impl_->host;
  if (h == "0.0.0.0" || h.empty()) h = "127.0.0.1";
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return "http://" + h + ":" + std::to_string(impl_->port);
}

std::vector<std::string> HttpService::routes() const {
  std::vector<std::string> out;
  for (const auto& r : impl_->routes) out.push_back(r.method + " " + r.pattern);
  return out;
}

// ---------------------------------------------------------------------------
// Client

std::optional<std::string> HttpClientResponse::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

nlohmann::json HttpClientResponse::json() const { return nlohmann::json::parse(body); }

HttpClient::HttpClient(HttpClientOptions options) : options_(options) {}

namespace {

struct ParsedUrl {
  std::string scheme_host_port;  // "http://host:port"
  std::string target;            // "/path?query"
};

ParsedUrl parse_url(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) throw std::invalid_argument("malformed URL (no scheme): " + url);
  std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") throw std::invalid_argument("unsupported URL scheme: " + url);
  size_t authority_start = scheme_end + 3;
  size_t path_start = url.find_first_of("/?#", authority_start);
  std::string authority = url.substr(authority_start, path_start == std::string::npos ? std::string::npos
                                                                                       : path_start - authority_start);
  if (authority.empty()) throw std::invalid_argument("malformed URL (no host): " + url);
  if (authority.find('@') != std::string::npos) throw std::invalid_argument("URLs with user info are not supported: " + url);
  ParsedUrl p;
  p.scheme_host_port = scheme + "://" + authority;
  p.target = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (auto hash = p.target.find('#'); hash != std::string::npos) p.target.erase(hash);
  if (p.target.empty() || p.target.front() == '?') p.target = "/" + p.target;
  return p;
}

}  // namespace

HttpClientResponse HttpClient::request(const std::string& method, const std::string& url,
                                       const std::map<std::string, std::string>& headers, const std::string& body,
                                       const std::string& content_type) const {
  ParsedUrl u = parse_url(url);
  httplib::Client cli(u.scheme_host_port);
  if (!cli.is_valid()) throw std::invalid_argument("cannot make an HTTP client for " + url);
  cli.set_connection_timeout(options_.connect_timeout);
  cli.set_read_timeout(options_.read_timeout);
  cli.set_write_timeout(options_.write_timeout);
  cli.set_keep_alive(false);
  httplib::Request req;
  req.method = method;
  req.path = u.target;
  bool has_content_type = false;
  for (const auto& [k, v] : headers) {
    if (lower(k) == "content-type") has_content_type = true;
    req.headers.emplace(k, v);
  }
  if (!body.empty()) {
    if (!has_content_type) req.headers.emplace("Content-Type", content_type);
    req.body = body;
  }
  auto result = cli.send(req);
  if (!result) {
    std::string why;
    switch (result.error()) {
      case httplib::Error::Connection: why = "cannot connect"; break;
      case httplib::Error::ConnectionTimeout: why = "connection timed out"; break;
      case httplib::Error::Read: why = "no complete response (read error or timeout)"; break;
      case httplib::Error::Write: why = "cannot send the request"; break;
      default: why = httplib::to_string(result.error()); break;
    }
    throw HttpTransportError(method + " " + url + ": " + why);
  }
  HttpClientResponse out;
  out.status = result->status;
  out.body = result->body;
  for (const auto& [k, v] : result->headers) out.headers.emplace(lower(k), v);
  return out;
}

HttpClientResponse HttpClient::post_json(const std::string& url, const std::map<std::string, std::string>& headers,
                                         const std::string& body) const {
  return request("POST", url, headers, body, "application/json");
}

HttpClientResponse HttpClient::get(const std::string& url, const std::map<std::string, std::string>& headers) const {
  return request("GET", url, headers, "", "");
}

}  // namespace keel::apps
