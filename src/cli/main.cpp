// `keel`: the management command of a Keel system database.
//
//   keel migrate --db URL
//   keel workflow list [--status S] [--name N] [--version V] [--executor E] [--limit L] --db URL
//   keel workflow get ID --db URL
//   keel workflow steps ID --db URL
//   keel workflow events ID --db URL
//   keel workflow messages ID [--after N] [--limit L] --db URL
//   keel workflow cancel ID --db URL
//   keel workflow resume ID --db URL
//   keel workflow fork ID [--start-step N] [--new-id X] [--version V] --db URL
//   keel workflow restart ID [--new-id X] --db URL
//   keel executors list --db URL
//
// --db defaults to $KEEL_DATABASE_URL. Results are JSON on stdout (the same
// shapes as the admin HTTP API); errors are one line on stderr and a non-zero
// exit status (see ExitCode). The command opens a keel::Runtime under its own
// executor id and version ("keel-cli") and launches it, which migrates the
// schema. It runs no workflow code: a workflow it resumes or forks waits,
// PENDING under no executor, for an executor of its version to claim it
// (or goes back to its queue), as Runtime::resume and fork_workflow do for
// another version's workflow.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "json_views.hpp"
#include "keel/version.hpp"
#include "keel/keel.hpp"

namespace {

enum ExitCode : int {
  kOk = 0,
  kInternal = 1,       // an unexpected error
  kNotFound = 2,       // no workflow with that ID
  kDatabase = 3,       // the database is missing, not a database, incompatible or failing
  // 4 was "not possible from the command line" (resume, before it released).
  kConflict = 5,       // the workflow ID asked for exists (fork)
  kUsage = 64,         // bad arguments (EX_USAGE)
};

constexpr const char* kExecutorId = "keel-cli";
constexpr int kMaxLimit = 10000;

// A failure with its exit code and a one-line message for stderr.
struct Failure {
  int code;
  std::string message;
};

void print(const keel::Json& j) { std::cout << keel::admin::dump(j, 2) << '\n'; }

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// The file behind a sqlite: URL (the same forms keel accepts), if it is one.
std::optional<std::string> sqlite_path(const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.rfind(kSqlite, 0) != 0) return std::nullopt;
  std::string path = url.substr(kSqlite.size());
  if (path.rfind("//", 0) == 0) path = path.substr(2);
  return path;
}

// Opens and launches a Runtime on the database. Only `migrate` may create the
// database: the other commands refuse a file that does not exist rather than
// leave an empty database behind a mistyped path.
std::unique_ptr<keel::Runtime> open_runtime(const std::string& url, bool create) {
  if (!create) {
    if (auto path = sqlite_path(url); path && !path->empty() && !std::filesystem::exists(*path))
      throw Failure{kDatabase, "no database at '" + *path + "' (create one with: keel migrate --db " + url + ")"};
  }
  keel::RuntimeConfig config;
  config.database_url = url;
  config.executor_id = kExecutorId;
  config.executor_lease = false;  // a tool, not an executor: takes over no one's workflows
  // A version of its own: the tool claims no released workflow at launch,
  // and has none of its own to release.
  config.application_version = kExecutorId;
  auto rt = std::make_unique<keel::Runtime>(std::move(config));
  // The launch's notes on other versions' workflows are for executors.
  auto level = spdlog::default_logger()->level();
  spdlog::default_logger()->set_level(std::max(level, spdlog::level::err));
  auto report = rt->launch();
  spdlog::default_logger()->set_level(level);
  for (const auto& f : report.not_recovered)
    spdlog::warn("workflow '{}' is PENDING under executor '{}' and cannot run here: {}", f.workflow_id, kExecutorId,
                 f.reason);
  return rt;
}

keel::WorkflowInfo existing(keel::Runtime& rt, const std::string& id) {
  auto info = rt.get_workflow(id);
  if (!info) throw Failure{kNotFound, "no workflow with ID '" + id + "'"};
  return *info;
}

struct Options {
  std::string db;
  std::string id;
  std::string status;
  std::string name;
  std::string version;
  std::string executor;
  bool executor_given = false;  // "" is a filter too
  int limit = 100;
  int start_step = 0;
  std::string new_id;
  int64_t after = 0;
};

int cmd_migrate(const Options& o) {
  auto rt = open_runtime(o.db, /*create=*/true);
  print(keel::Json{{"migrated", true}, {"database", o.db}});
  return kOk;
}

int cmd_list(const Options& o) {
  keel::ListWorkflowsQuery q;
  if (!o.status.empty()) {
    try {
      q.status = keel::workflow_status_from_string(upper(o.status));
    } catch (const keel::SerializationError&) {
      throw Failure{kUsage, "--status '" + o.status +
                                "' is not one of ENQUEUED, PENDING, SUCCESS, ERROR, CANCELLED, "
                                "MAX_RECOVERY_ATTEMPTS_EXCEEDED"};
    }
  }
  if (!o.name.empty()) q.name = o.name;
  if (!o.version.empty()) q.application_version = o.version;
  if (o.executor_given) q.executor_id = o.executor;
  q.limit = o.limit;
  auto rt = open_runtime(o.db, false);
  print(keel::admin::workflows_to_json(rt->list_workflows(q)));
  return kOk;
}

// The executors' leases: [{executor_id, application_version, holder,
// heartbeat_at_ms, started_at_ms}], sorted by executor id.
int cmd_executors(const Options& o) {
  auto rt = open_runtime(o.db, false);
  keel::Json out = keel::Json::array();
  for (const auto& e : rt->list_executors())
    out.push_back({{"executor_id", e.executor_id},
                   {"application_version", e.application_version},
                   {"holder", e.holder},
                   {"heartbeat_at_ms", e.heartbeat_at_ms},
                   {"started_at_ms", e.started_at_ms}});
  print(out);
  return kOk;
}

int cmd_get(const Options& o) {
  auto rt = open_runtime(o.db, false);
  print(keel::admin::to_json(existing(*rt, o.id)));
  return kOk;
}

int cmd_steps(const Options& o) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  print(keel::admin::steps_to_json(o.id, rt->list_steps(o.id)));
  return kOk;
}

int cmd_events(const Options& o) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  print(keel::admin::events_to_json(o.id, rt->get_all_events(o.id)));
  return kOk;
}

int cmd_messages(const Options& o) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  print(keel::admin::messages_to_json(o.id, rt->list_messages(o.id, o.after, o.limit)));
  return kOk;
}

int cmd_cancel(const Options& o) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  bool cancelled = rt->cancel(o.id);
  auto after = existing(*rt, o.id);
  print(keel::Json{{"workflow_id", o.id}, {"cancelled", cancelled}, {"status", keel::to_string(after.status)}});
  return kOk;
}

// The workflow's version is never "keel-cli": Runtime::resume releases it
// (PENDING under executor "") for an executor of its version, or puts it
// back in its queue.
int cmd_resume(const Options& o) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  bool resumed = rt->resume(o.id);
  auto after = existing(*rt, o.id);
  print(keel::Json{{"workflow_id", o.id},
                   {"resumed", resumed},
                   {"status", keel::to_string(after.status)},
                   {"executor_id", after.executor_id}});
  return kOk;
}

// As the admin server's POST /workflows/:id/fork, with the same output.
int fork_with(const Options& o, const keel::ForkOptions& options) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  std::string fork_id = rt->fork_workflow(o.id, options);
  auto info = existing(*rt, fork_id);
  print(keel::Json{{"workflow_id", fork_id},
                   {"forked_from", o.id},
                   {"start_step", options.start_step},
                   {"status", keel::to_string(info.status)},
                   {"application_version", info.application_version},
                   {"executor_id", info.executor_id}});
  return kOk;
}

int cmd_fork(const Options& o) {
  return fork_with(o, keel::ForkOptions{.start_step = o.start_step, .workflow_id = o.new_id,
                                        .application_version = o.version});
}

int cmd_restart(const Options& o) {
  return fork_with(o, keel::ForkOptions{.workflow_id = o.new_id});
}

void add_db_option(CLI::App* cmd, Options& o) {
  cmd->add_option("--db", o.db, "System database URL, e.g. sqlite:/var/lib/app/keel.db")
      ->envname("KEEL_DATABASE_URL")
      ->required();
}

void add_id_argument(CLI::App* cmd, Options& o) {
  cmd->add_option("id", o.id, "Workflow ID")->required();
}

}  // namespace

int main(int argc, char** argv) {
  // Library logs go to stderr, so that stdout holds only the JSON result.
  auto logger = spdlog::stderr_color_mt("keel-cli");
  logger->set_pattern("keel: %l: %v");
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(logger);

  Options o;
  std::function<int(const Options&)> command;
  bool verbose = false;

  CLI::App app{"keel: inspect and manage the workflows of a Keel system database.\n"
               "Results are JSON on stdout. Exit status: 0 ok, 1 internal error, 2 no such workflow,\n"
               "3 database missing or unusable, 5 the workflow ID exists, 64 usage error."};
  app.name("keel");
  app.set_version_flag("--version", std::string("keel ") + keel::version());
  app.add_flag("-v,--verbose", verbose, "Log the library's informational messages to stderr");
  app.require_subcommand(1);

  auto* migrate = app.add_subcommand("migrate", "Create or upgrade the Keel schema of the database");
  add_db_option(migrate, o);
  migrate->callback([&] { command = cmd_migrate; });

  auto* workflow = app.add_subcommand("workflow", "Inspect and manage workflows");
  workflow->require_subcommand(1);

  auto* list = workflow->add_subcommand("list", "List workflows, newest first");
  list->add_option("--status", o.status, "Only workflows with this status (e.g. PENDING, ERROR)");
  list->add_option("--name", o.name, "Only workflows of this workflow name");
  list->add_option("--version", o.version, "Only workflows of this application version");
  auto* executor = list->add_option(
      "--executor", o.executor,
      "Only workflows held by this executor (\"\": PENDING ones waiting for an executor of their version)");
  list->add_option("--limit", o.limit, "At most this many workflows (default 100)")
      ->check(CLI::Range(1, kMaxLimit));
  add_db_option(list, o);
  list->callback([&, executor] {
    o.executor_given = executor->count() > 0;
    command = cmd_list;
  });

  auto* executors = app.add_subcommand("executors", "Inspect the executors' leases");
  executors->require_subcommand(1);
  auto* executors_list = executors->add_subcommand("list", "List the executors (live, or dead not yet taken over)");
  add_db_option(executors_list, o);
  executors_list->callback([&] { command = cmd_executors; });

  struct ById {
    const char* name;
    const char* help;
    int (*fn)(const Options&);
  };
  for (const ById& c : {ById{"get", "Show one workflow", cmd_get},
                        ById{"steps", "Show the recorded steps of a workflow", cmd_steps},
                        ById{"events", "Show the events of a workflow (the latest value of each key)", cmd_events},
                        ById{"cancel", "Cancel a PENDING or ENQUEUED workflow", cmd_cancel},
                        ById{"resume",
                             "Resume a cancelled or dead-lettered workflow: an executor of its version picks it up",
                             cmd_resume}}) {
    auto* sub = workflow->add_subcommand(c.name, c.help);
    add_id_argument(sub, o);
    add_db_option(sub, o);
    auto fn = c.fn;
    sub->callback([&command, fn] { command = fn; });
  }

  auto* messages = workflow->add_subcommand("messages", "Show the messages sent to a workflow, consumed or not");
  add_id_argument(messages, o);
  messages->add_option("--after", o.after, "Only messages after this message_id (page on with next_after)")
      ->check(CLI::NonNegativeNumber);
  messages->add_option("--limit", o.limit, "At most this many messages (default 100)")->check(CLI::Range(1, kMaxLimit));
  add_db_option(messages, o);
  messages->callback([&] { command = cmd_messages; });

  auto* fork = workflow->add_subcommand(
      "fork", "Fork a workflow: a new one that keeps the records before --start-step and runs from there");
  add_id_argument(fork, o);
  fork->add_option("--start-step", o.start_step, "The first position that runs again (0: restart; default 0)")
      ->check(CLI::NonNegativeNumber);
  fork->add_option("--new-id", o.new_id, "The fork's workflow ID (default: a fresh UUID)");
  fork->add_option("--version", o.version, "The application version that runs the fork (default: the original's)");
  add_db_option(fork, o);
  fork->callback([&] { command = cmd_fork; });
  auto* restart = workflow->add_subcommand("restart", "Restart a workflow from the beginning, as a new workflow");
  add_id_argument(restart, o);
  restart->add_option("--new-id", o.new_id, "The new workflow's ID (default: a fresh UUID)");
  add_db_option(restart, o);
  restart->callback([&] { command = cmd_restart; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // "keel frobnicate" fails as "a subcommand is required"; name the culprit.
    auto extra = app.remaining(/*recurse=*/true);
    if (!extra.empty() && dynamic_cast<const CLI::RequiredError*>(&e)) {
      std::cerr << "keel: unknown command or argument '" << extra.front() << "'\n"
                << "Run with --help for more information.\n";
      return kUsage;
    }
    (void)app.exit(e);
    return kUsage;
  }
  if (verbose) logger->set_level(spdlog::level::info);

  if (!command) {
    std::cerr << app.help();
    return kUsage;
  }
  try {
    return command(o);
  } catch (const Failure& f) {
    std::cerr << "keel: " << f.message << '\n';
    return f.code;
  } catch (const keel::ConfigError& e) {
    std::cerr << "keel: " << e.what() << '\n';
    return kUsage;
  } catch (const keel::DatabaseError& e) {
    std::cerr << "keel: database '" << o.db << "' cannot be used: " << e.what() << '\n';
    return kDatabase;
  } catch (const keel::WorkflowNotFoundError& e) {
    std::cerr << "keel: " << e.what() << '\n';
    return kNotFound;
  } catch (const keel::WorkflowConflictError& e) {
    std::cerr << "keel: " << e.what() << '\n';
    return kConflict;
  } catch (const keel::UsageError& e) {
    std::cerr << "keel: " << e.what() << '\n';
    return kUsage;
  } catch (const std::exception& e) {
    std::cerr << "keel: " << e.what() << '\n';
    return kInternal;
  }
}
