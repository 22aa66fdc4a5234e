// apps/common/http_service.hpp — the small HTTP layer of the Keel example
// applications (the shop and the payment service). cpp-httplib stays behind
// this interface: it is included only by http_service.cpp.
//
// Server: HttpService
//   HttpService svc("payments");
//   svc.route("POST", "/checkout/:key?", [](const HttpRequest& req) {
//     auto key = req.path_param("key");               // std::nullopt when absent
//     nlohmann::json body = parse_json_body(req, /*allow_empty=*/true);
//     if (bad) throw HttpError(400, "invalid_request", "quantity must be a positive integer");
//     return HttpResponse::json({{"ok", true}});
//   });
//   svc.start("127.0.0.1", 8082);   // returns once listening; throws std::runtime_error if bind fails
//   ...
//   svc.stop();                       // also done by the destructor
//
// Contract of the server:
//  * Patterns are '/'-separated; a segment ":name" captures one path segment
//    into path_params["name"]; ":name?" is an optional capture (only at the
//    end of a pattern). Empty segments are ignored, so "/a/" matches "/a".
//    Literal segments are compared exactly (case-sensitive) after URL decoding.
//    When several routes match, the first registered wins.
//  * Errors are JSON {"error": "<code>", "message": "<sentence>", ...extra}:
//      - a handler throwing HttpError(status, code, message, extra) → that;
//      - keel::StorageFullError (the service's database is on a full disk)
//        → 503 "storage_full" with a Retry-After header (storage_full_response);
//      - keel::DatabaseUnavailableError (its server down, restarting or
//        failing over) → 503 "database_unavailable" with a Retry-After
//        header (database_unavailable_response);
//      - any other std::exception from a handler → 500 "internal_error";
//      - no route matches the path → 404 "not_found";
//      - a route matches the path but not the method → 405
//        "method_not_allowed" (with an Allow header);
//      - body larger than max_body_bytes (default 1 MiB) → 413 "payload_too_large";
//      - any other status ≥ 400 produced by the HTTP library (malformed
//        request line, unsupported method, URI too long) → JSON as well.
//    HEAD is served by the GET route. A method the library does not know
//    (e.g. "FOO") → 405 too. A request without Content-Length or
//    Transfer-Encoding has an empty body and is served at once (so
//    `curl -X POST URL` works without -d).
//  * Malformed JSON is the handler's job: parse_json_body() throws
//    HttpError 400 "invalid_json".
//  * Every request is logged (spdlog, info) with service name, method, path,
//    status and duration in ms.
//  * Handlers run concurrently on a pool of `threads` threads (a keep-alive
//    connection occupies one thread while open): handlers must be thread-safe.
//
// Client: HttpClient
//   HttpClient client({.connect_timeout = 2s, .read_timeout = 10s});
//   HttpClientResponse r = client.post_json("http://127.0.0.1:8086/api/submit_payment",
//                                           {{"Idempotency-Key", key}}, body.dump());
//   r.status (any status, 2xx or not, is returned); r.body; r.header("content-type")
//  * Transport failures (connection refused, timeout, reset, unreadable
//    response) throw HttpTransportError. A malformed URL throws
//    std::invalid_argument. Only http:// (and https:// where the library has
//    TLS) URLs. Each call opens its own connection: thread-safe, no pooling.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::apps {

struct HttpRequest {
  std::string method;  // "GET", "POST", ... (upper case, as received)
  std::string path;    // decoded path, without the query string
  std::string body;    // raw bytes
  std::map<std::string, std::string> path_params;  // from ":name" segments (absent optional ones are not set)
  std::map<std::string, std::string> query;        // decoded; the first value when a name repeats
  std::multimap<std::string, std::string> headers; // names lower-cased
  std::string remote_addr;

  // Case-insensitive header lookup: the first value, or nullopt.
  std::optional<std::string> header(std::string_view name) const;
  std::optional<std::string> path_param(const std::string& name) const;
  std::optional<std::string> query_param(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers
  // When set, the body is streamed instead of `body` (chunked transfer
  // encoding, e.g. Server-Sent Events): called once, on the connection's
  // thread after the handler returned, with a writer that sends one chunk
  // and returns false once the client has gone (then return). The response
  // ends when it returns.
  std::function<void(const std::function<bool(std::string_view)>& write)> stream;

  // body = j.dump() (invalid UTF-8 replaced), content type application/json.
  static HttpResponse json(const nlohmann::json& j, int status = 200);
  static HttpResponse text(std::string body, int status = 200, std::string content_type = "text/plain; charset=utf-8");
};

// Thrown by handlers; becomes {"error": code, "message": what(), ...extra}.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string code, const std::string& message,
            nlohmann::json extra = nlohmann::json::object());
  int status() const noexcept { return status_; }
  const std::string& code() const noexcept { return code_; }
  const nlohmann::json& extra() const noexcept { return extra_; }
  // The JSON error body.
  nlohmann::json body() const;

 private:
  int status_;
  std::string code_;
  nlohmann::json extra_;
};

// The JSON error body {"error": code, "message": message} merged with extra.
nlohmann::json error_body(const std::string& code, const std::string& message,
                          const nlohmann::json& extra = nlohmann::json::object());

// Deeper JSON request bodies are refused (HttpError 400 "invalid_json").
inline constexpr int kMaxJsonDepth = 64;

// Parses the request body as JSON; malformed or nested deeper than
// kMaxJsonDepth → HttpError 400 "invalid_json".
// An empty (or all-whitespace) body → HttpError 400 "invalid_json", unless
// allow_empty, in which case it returns a null json.
nlohmann::json parse_json_body(const HttpRequest& req, bool allow_empty = false);

// Serialises j for the wire, never throwing on invalid UTF-8 (replaced).
std::string dump_json(const nlohmann::json& j);

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServiceOptions {
  size_t max_body_bytes = 1024 * 1024;  // larger bodies → 413
  size_t threads = 32;                   // handler threads
  std::chrono::seconds keep_alive_timeout{5};
  std::chrono::seconds read_timeout{10};
  std::chrono::seconds write_timeout{10};
  // Retry-After of a 503 "storage_full": freeing space takes an operator, so
  // clients should not hammer a full disk.
  std::chrono::seconds storage_full_retry_after{5};
  // Retry-After of a 503 "database_unavailable": a restart or a failover
  // takes seconds.
  std::chrono::seconds database_unavailable_retry_after{2};
};

// The answer to a handler's keel::StorageFullError: 503, Retry-After: N, and
// {"error": "storage_full", "message": ..., "retry_after_seconds": N}. The
// failed write did not take effect (keel/errors.hpp), so the client may
// repeat the request (with the same idempotency key) once space is freed.
HttpResponse storage_full_response(std::chrono::seconds retry_after);
// The answer to a handler's keel::DatabaseUnavailableError: 503, Retry-After:
// N, and {"error": "database_unavailable", "message": ...,
// "retry_after_seconds": N}; the request may be repeated as above.
HttpResponse database_unavailable_response(std::chrono::seconds retry_after);

class HttpService {
 public:
  explicit HttpService(std::string name, HttpServiceOptions options = {});
  ~HttpService();
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  // Register before start(). method: "GET", "POST", "PUT", "PATCH", "DELETE".
  // Throws std::invalid_argument on a malformed pattern.
  void route(std::string method, std::string pattern, HttpHandler handler);

  // Binds host:port (port 0: an ephemeral port) and serves on a background
  // thread; returns once the socket listens. Throws std::runtime_error when
  // the address cannot be bound, or when already started.
  void start(const std::string& host, int port);
  // Stops serving and joins the threads. Idempotent.
  void stop();
  bool running() const;

  int port() const;              // the bound port (after start)
  const std::string& host() const;
  std::string base_url() const;  // "http://host:port"
  const std::string& name() const;
  // "METHOD PATTERN" for each route, in registration order.
  std::vector<std::string> routes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
};

struct HttpClientResponse {
  int status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::optional<std::string> header(std::string_view name) const;
  // Parses body as JSON; throws nlohmann::json::parse_error when it is not.
  nlohmann::json json() const;
};

class HttpTransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});

  // POST with Content-Type: application/json (unless given in headers).
  HttpClientResponse post_json(const std::string& url, const std::map<std::string, std::string>& headers,
                               const std::string& body) const;
  HttpClientResponse get(const std::string& url, const std::map<std::string, std::string>& headers = {}) const;
  // Any method; body sent only when non-empty.
  HttpClientResponse request(const std::string& method, const std::string& url,
                             const std::map<std::string, std::string>& headers, const std::string& body,
                             const std::string& content_type = "application/json") const;

  const HttpClientOptions& options() const { return options_; }

 private:
  HttpClientOptions options_;
};

}  // namespace keel::apps
