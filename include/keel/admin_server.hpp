/// @file
/// keel/admin_server.hpp — the admin HTTP server of a Keel application.
///
/// Contract:
///  * Serves, on its own host:port (127.0.0.1 by default), JSON over HTTP:
///    ~~~{.unparsed}
///      GET  /healthz                      -> 200 {"status":"healthy"}
///      GET  /workflows?status=S&name=N&limit=L
///      GET  /workflows/:id                -> the workflow, 404 when unknown
///      GET  /workflows/:id/steps
///      POST /workflows/:id/cancel         -> {"cancelled": bool}
///      POST /workflows/:id/resume         -> {"resumed": bool}
///      POST /workflows/:id/fork           body {"start_step", "workflow_id", "application_version"}, all optional
///                                         -> {"workflow_id": the fork, "forked_from", "status", ...}
///      POST /workflows/:id/restart        body {"workflow_id"}, optional: a fork from the beginning
///    ~~~
///    (Runtime::fork_workflow; an ID that exists is 409 workflow_conflict.)
///    Errors are {"error": code, "message": sentence} with a 4xx/5xx status.
///  * start() returns once the socket listens (throws keel::Error when the port
///    cannot be bound); stop() (and the destructor) stop it and join its threads.
///
/// Thread-safety: start/stop from one thread; requests are served concurrently.
#pragma once

#include <memory>
#include <string>

namespace keel {

class Runtime;

/// The admin HTTP server of one Runtime (its routes: keel/admin_server.hpp).
class AdminServer {
 public:
  /// Serves `rt` (which must outlive it) on host:port once start() is called;
  /// port 0 picks a free port.
  AdminServer(Runtime& rt, std::string host = "127.0.0.1", int port = 0);
  /// Stops the server (as stop()).
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Serves on a thread of its own; returns once the socket listens. Throws
  /// keel::Error when the port cannot be bound, ConfigError for a port outside
  /// 0..65535, UsageError when already started.
  void start();
  /// Stops serving and joins the server's thread; does nothing when not started.
  void stop();
  int port() const;  ///< the bound port (useful when constructed with port 0)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel
