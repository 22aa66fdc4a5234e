/// @file
/// keel/admin_server.hpp — the admin HTTP server of a Keel application.
///
/// Contract:
///  * Serves, on its own host:port (127.0.0.1 by default), JSON over HTTP:
///    ~~~{.unparsed}
///      GET  /healthz                      -> 200 {"status":"healthy"}
///      GET  /metrics                      -> the Prometheus text format 0.0.4 (text/plain; version=0.0.4);
///                                            every metric: docs/operations.md, "Metrics"
///      GET  /workflows?status=S&name=N&limit=L
///      GET  /workflows/:id                -> the workflow, 404 when unknown
///      GET  /workflows/:id/steps
///      GET  /workflows/:id/events         -> every event, its latest value
///      GET  /workflows/:id/messages?after=N&limit=L -> its inbox, consumed or not, oldest first
///      POST /workflows/:id/cancel         -> {"cancelled": bool}
///      POST /workflows/:id/resume         -> {"resumed": bool}
///      POST /workflows/:id/fork           body {"start_step", "workflow_id", "application_version"}, all optional
///                                         -> {"workflow_id": the fork, "forked_from", "status", ...}
///      POST /workflows/:id/restart        body {"workflow_id"}, optional: a fork from the beginning
///      GET  /executors                    -> the executors' leases: live, dead or stopped, ages, workflows held
///      GET  /queues                       -> the queues registered in this process: depth, running, limits
///      GET  /  and  /console/*            -> the web console (HTML, CSS, JavaScript compiled into the library)
///    ~~~
///    (Runtime::fork_workflow; an ID that exists is 409 workflow_conflict.)
///    Errors are {"error": code, "message": sentence} with a 4xx/5xx status;
///    a StorageFullError (the system database's disk is full) is 503
///    "storage_full" with a Retry-After header.
///  * Security (docs/operations.md): it binds loopback by default. With a
///    token (AdminServerOptions::token), every route but /healthz and the
///    console's static files (GET only; they hold no data, and the page
///    asks for the token) requires `Authorization: Bearer <token>` (401
///    otherwise; compared in constant time); binding any address that is
///    not loopback requires a token (start() throws ConfigError). A request that changes state (any method
///    but GET and HEAD) sent by a browser from another site is refused (403
///    cross_site): `Sec-Fetch-Site` other than same-origin or none, or an
///    `Origin` whose host is not the request's `Host`.
///  * Every answer carries `Content-Security-Policy: default-src 'self'; ...`
///    and `X-Content-Type-Options: nosniff`.
///  * start() returns once the socket listens (throws keel::Error when the port
///    cannot be bound); stop() (and the destructor) stop it and join its threads.
///
/// Thread-safety: start/stop from one thread; requests are served concurrently.
#pragma once

#include <memory>
#include <string>

namespace keel {

class Runtime;

/// Where and how an AdminServer serves.
struct AdminServerOptions {
  std::string host = "127.0.0.1";  ///< the address to bind; empty: 127.0.0.1
  int port = 0;                     ///< 0: a free port
  /// When not empty, every route but /healthz requires `Authorization:
  /// Bearer <token>`. Required to bind an address that is not loopback.
  std::string token;
};

/// The admin HTTP server of one Runtime (its routes: keel/admin_server.hpp).
class AdminServer {
 public:
  /// Serves `rt` (which must outlive it) as `options` say once start() is called.
  AdminServer(Runtime& rt, AdminServerOptions options);
  /// Serves `rt` on host:port without a token (so on loopback only); port 0
  /// picks a free port.
  AdminServer(Runtime& rt, std::string host = "127.0.0.1", int port = 0);
  /// Stops the server (as stop()).
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Serves on a thread of its own; returns once the socket listens. Throws
  /// keel::Error when the port cannot be bound, ConfigError for a port outside
  /// 0..65535 or an address that is not loopback without a token, UsageError
  /// when already started.
  void start();
  /// Stops serving and joins the server's thread; does nothing when not started.
  void stop();
  int port() const;  ///< the bound port (useful when constructed with port 0)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel
