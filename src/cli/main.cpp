// `keel`: the management command of a Keel system database.
//
//   keel migrate --db URL
//   keel workflow list [FILTER] [--order newest|oldest] [--limit L] [--cursor C] [--count] --db URL
//   keel workflow cancel|resume|delete (ID | FILTER [--yes]) --db URL
//   keel workflow get ID --db URL
//   keel workflow steps ID --db URL
//   keel workflow events ID --db URL
//   keel workflow messages ID [--after N] [--limit L] --db URL
//   keel workflow fork ID [--start-step N] [--new-id X] [--version V] --db URL
//   keel workflow restart ID [--new-id X] --db URL
//   keel executors list --db URL
//   keel schedule list --db URL
//   keel schedule pause|resume|delete NAME --db URL
// (No "trigger": a manual run starts the schedule's workflow, whose code this
// command does not have; use Runtime::trigger_schedule or the admin API.)
// Every command also takes --json (JSON even on a terminal).
//
// FILTER: --status S[,S...] --name N --id-prefix P --queue Q --version V
// --executor E --parent ID --created-after T --created-before T
// --updated-after T --updated-before T (delete: --finished-before T), the
// parameters of the admin API's GET /workflows (admin/workflow_filter.hpp:
// one parser, the same errors). A bulk cancel/resume/delete without --yes
// only counts what it would change (a dry run).
//
// --db defaults to $KEEL_DATABASE_URL. Results go to stdout: readable tables
// when it is a terminal (views.hpp), JSON otherwise or with --json (the same
// shapes as the admin HTTP API), so scripts that pipe it read JSON as they
// always did. Errors are one line on stderr and a non-zero exit status (see
// ExitCode). The command opens a keel::Runtime under its own
// executor id and version ("keel-cli") and launches it, which migrates the
// schema. It runs no workflow code: a workflow it resumes or forks waits,
// PENDING under no executor, for an executor of its version to claim it
// (or goes back to its queue), as Runtime::resume and fork_workflow do for
// another version's workflow.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cctype>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <unistd.h>
#include <string>

#include "json_views.hpp"
#include "table.hpp"
#include "views.hpp"
#include "workflow_filter.hpp"
#include "keel/version.hpp"
#include "keel/keel.hpp"

namespace {

enum ExitCode : int {
  kOk = 0,
  kInternal = 1,       // an unexpected error
  kNotFound = 2,       // no workflow with that ID (or schedule with that name)
  kDatabase = 3,       // the database is missing, not a database, incompatible or failing
  // 4 was "not possible from the command line" (resume, before it released).
  kConflict = 5,       // the workflow ID asked for exists (fork), or is not finished (delete)
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
  std::string version;
  std::string finished_before;
  int limit = 100;
  int start_step = 0;
  std::string new_id;
  int64_t after = 0;
  keel::admin::FilterParams filter;  // by the admin API's parameter names
  std::map<std::string, std::string> flag_of;  // admin API parameter -> the flag that gave it
  std::string clash;  // two flags of one parameter (delete's --finished-before and --updated-before)
  bool count = false;
  bool yes = false;
  bool json = false;   // --json: JSON even on a terminal
  bool table = false;  // --table (hidden): tables even into a pipe, for tests
};

// Tables for a person at a terminal, JSON for everything else.
bool tables(const Options& o) {
  if (o.json) return false;
  return o.table || ::isatty(STDOUT_FILENO) != 0;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A result: its human view on a terminal, its JSON otherwise. The view is
// built only when shown.
void show(const Options& o, const keel::Json& j, const std::function<std::string(int64_t now, int width)>& view) {
  if (tables(o))
    std::cout << view(now_ms(), keel::cli::terminal_width()) << std::flush;
  else
    print(j);
}

// A filter flag of the CLI and the admin API parameter it sets.
struct FilterFlag {
  const char* flag;
  const char* param;
  const char* help;
};

const std::vector<FilterFlag>& filter_flags() {
  static const std::vector<FilterFlag> flags{
      {"--status", "status", "Only these statuses, comma-separated (e.g. PENDING,ENQUEUED)"},
      {"--name", "name", "Only workflows of this workflow name"},
      {"--id-prefix", "id_prefix", "Only workflow IDs that start with this"},
      {"--queue", "queue_name", "Only workflows of this queue"},
      {"--version", "application_version", "Only workflows of this application version"},
      {"--executor", "executor_id",
       "Only workflows held by this executor (\"\": PENDING ones waiting for an executor of their version)"},
      {"--parent", "parent_id", "Only the child workflows of this workflow"},
      {"--created-after", "created_after", "Created at or after T (epoch ms, RFC 3339, or a duration ago: 2h, 30d)"},
      {"--created-before", "created_before", "Created before T"},
      {"--updated-after", "updated_after", "Last changed at or after T"},
      {"--updated-before", "updated_before", "Last changed before T"},
  };
  return flags;
}

// The filter parser's messages name the admin API's parameters
// ("queue_name 'x' ..."); a person at the command line typed a flag.
std::string in_flag_terms(const std::string& message, const std::map<std::string, std::string>& flag_of) {
  for (const auto& [param, flag] : flag_of) {
    const std::string value_lead = param + " '";                 // "queue_name 'x' is not ..."
    const std::string param_lead = "parameter '" + param + "'";  // "parameter 'name' must not be empty"
    if (message.rfind(value_lead, 0) == 0) return flag + message.substr(param.size());
    if (message.rfind(param_lead, 0) == 0) return flag + message.substr(param_lead.size());
  }
  return message;
}

keel::ListWorkflowsQuery parse_filter(const Options& o, bool paging) {
  if (!o.clash.empty()) throw Failure{kUsage, o.clash};
  try {
    return keel::admin::parse_workflow_filter(o.filter, now_ms(), paging);
  } catch (const keel::admin::FilterError& e) {
    throw Failure{kUsage, in_flag_terms(e.message, o.flag_of)};
  }
}

int cmd_migrate(const Options& o) {
  auto rt = open_runtime(o.db, /*create=*/true);
  show(o, keel::Json{{"migrated", true}, {"database", o.db}},
       [&](int64_t, int) { return "the schema of " + o.db + " is up to date\n"; });
  return kOk;
}

int cmd_list(const Options& o) {
  keel::ListWorkflowsQuery q = parse_filter(o, /*paging=*/true);
  auto rt = open_runtime(o.db, false);
  keel::WorkflowPage page = rt->list_workflows_page(q);
  show(o, keel::admin::page_to_json(page),
       [&](int64_t now, int width) { return keel::cli::list_view(page, now, width); });
  if (!page.next_cursor.empty()) std::cerr << "keel: more: --cursor " << page.next_cursor << '\n';
  return kOk;
}

// The executors' leases: [{executor_id, application_version, holder,
// heartbeat_at_ms, started_at_ms}], sorted by executor id.
int cmd_executors(const Options& o) {
  auto rt = open_runtime(o.db, false);
  const auto executors = rt->list_executors();
  keel::Json out = keel::Json::array();
  for (const auto& e : executors)
    out.push_back({{"executor_id", e.executor_id},
                   {"application_version", e.application_version},
                   {"holder", e.holder},
                   {"heartbeat_at_ms", e.heartbeat_at_ms},
                   {"started_at_ms", e.started_at_ms}});
  show(o, out, [&](int64_t now, int width) { return keel::cli::executors_view(executors, now, width); });
  return kOk;
}

int cmd_schedules(const Options& o) {
  auto rt = open_runtime(o.db, false);
  const auto schedules = rt->list_schedules();
  show(o, keel::admin::schedules_to_json(schedules),
       [&](int64_t, int width) { return keel::cli::schedules_view(schedules, width); });
  return kOk;
}

int set_schedule_paused(const Options& o, bool paused) {
  auto rt = open_runtime(o.db, false);
  if (paused) rt->pause_schedule(o.id);
  else rt->resume_schedule(o.id);
  show(o, keel::Json{{"name", o.id}, {"paused", paused}}, [&](int64_t, int) {
    return "schedule " + o.id + (paused ? " paused\n" : " resumed\n");
  });
  return kOk;
}
int cmd_schedule_delete(const Options& o) {
  auto rt = open_runtime(o.db, false);
  rt->delete_schedule(o.id);
  show(o, keel::Json{{"name", o.id}, {"deleted", true}}, [&](int64_t, int) { return "schedule " + o.id + " deleted\n"; });
  return kOk;
}
int cmd_schedule_pause(const Options& o) { return set_schedule_paused(o, true); }
int cmd_schedule_resume(const Options& o) { return set_schedule_paused(o, false); }

int cmd_get(const Options& o) {
  auto rt = open_runtime(o.db, false);
  const auto info = existing(*rt, o.id);
  show(o, keel::admin::to_json(info),
       [&](int64_t now, int width) { return keel::cli::workflow_view(info, now, width); });
  return kOk;
}

int cmd_steps(const Options& o) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  const auto steps = rt->list_steps(o.id);
  show(o, keel::admin::steps_to_json(o.id, steps),
       [&](int64_t, int width) { return keel::cli::steps_view(o.id, steps, width); });
  return kOk;
}

int cmd_events(const Options& o) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  const auto events = rt->get_all_events(o.id);
  show(o, keel::admin::events_to_json(o.id, events),
       [&](int64_t now, int width) { return keel::cli::events_view(events, now, width); });
  return kOk;
}

int cmd_messages(const Options& o) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  const auto messages = rt->list_messages(o.id, o.after, o.limit);
  show(o, keel::admin::messages_to_json(o.id, messages),
       [&](int64_t now, int width) { return keel::cli::messages_view(messages, now, width); });
  return kOk;
}

// What a workflow the command released waits for: the command runs none.
std::string waiting_for(const keel::WorkflowInfo& w) {
  if (!w.queue_name.empty()) return " in queue " + w.queue_name;
  return ", waiting for an executor of version " + w.application_version;
}

int cmd_cancel_one(const Options& o) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  bool cancelled = rt->cancel(o.id);
  auto after = existing(*rt, o.id);
  const std::string status = keel::to_string(after.status);
  show(o, keel::Json{{"workflow_id", o.id}, {"cancelled", cancelled}, {"status", status}}, [&](int64_t, int) {
    return (cancelled ? "cancelled " + o.id : o.id + " not cancelled: it is " + status) + "\n";
  });
  return kOk;
}

// The workflow's version is never "keel-cli": Runtime::resume releases it
// (PENDING under executor "") for an executor of its version, or puts it
// back in its queue.
int cmd_resume_one(const Options& o) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  bool resumed = rt->resume(o.id);
  auto after = existing(*rt, o.id);
  const std::string status = keel::to_string(after.status);
  show(o,
       keel::Json{{"workflow_id", o.id}, {"resumed", resumed}, {"status", status}, {"executor_id", after.executor_id}},
       [&](int64_t, int) {
         if (!resumed) return o.id + " not resumed: it is " + status + "\n";
         return "resumed " + o.id + ": " + status + waiting_for(after) + "\n";
       });
  return kOk;
}

int cmd_delete_one(const Options& o) {
  auto rt = open_runtime(o.db, false);
  rt->delete_workflow(o.id);
  show(o, keel::Json{{"workflow_id", o.id}, {"deleted", true}}, [&](int64_t, int) { return "deleted " + o.id + "\n"; });
  return kOk;
}

enum class Bulk { Cancel, Resume, Delete };

// A bulk operation: without --yes, a dry run that counts the matches; with
// it, the operation, with a progress line on stderr when that is a terminal.
int run_bulk(const Options& o, Bulk op) {
  keel::ListWorkflowsQuery q = parse_filter(o, /*paging=*/false);
  auto rt = open_runtime(o.db, false);
  const std::string verb = op == Bulk::Cancel ? "cancel" : op == Bulk::Resume ? "resume" : "delete";
  const std::string past = op == Bulk::Cancel ? "cancelled" : op == Bulk::Resume ? "resumed" : "deleted";
  auto act = [&](const keel::BulkOptions& options) {
    if (op == Bulk::Cancel) return rt->cancel_workflows(q, options);
    if (op == Bulk::Resume) return rt->resume_workflows(q, options);
    return rt->delete_workflows(q, options);
  };
  keel::BulkResult counted = act({.dry_run = true, .on_progress = {}});
  if (!o.yes) {
    show(o, keel::admin::bulk_to_json(counted, /*dry_run=*/true),
         [&](int64_t, int width) { return keel::cli::bulk_view(counted, true, verb, past, width); });
    // A table says it on stdout already; beside JSON, stderr is the place.
    if (!tables(o))
      std::cerr << "keel: dry run: " << counted.matched << " workflow(s) match; run again with --yes to " << verb
                << " them\n";
    return kOk;
  }
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  keel::BulkOptions options;
  if (tty)
    options.on_progress = [&](const keel::BulkProgress& p) {
      std::cerr << "\rkeel: " << verb << ": " << p.matched << " of about " << counted.matched << " walked, "
                << p.changed << " changed" << std::flush;
    };
  keel::BulkResult r = act(options);
  if (tty) std::cerr << '\n';
  show(o, keel::admin::bulk_to_json(r, /*dry_run=*/false),
       [&](int64_t, int width) { return keel::cli::bulk_view(r, false, verb, past, width); });
  return kOk;
}

// An ID or a filter: one workflow, or all that match. Checked here rather
// than in CLI11's callbacks so that the refusal is one line like the others.
int one_or_bulk(const Options& o, int (*one)(const Options&), Bulk op) {
  if (!o.id.empty() && !o.filter.empty())
    throw Failure{kUsage, "give a workflow ID or a filter, not both"};
  if (o.id.empty() && o.filter.empty())
    throw Failure{kUsage, "give a workflow ID, or a filter (--status, --name, --id-prefix, ...) to act on every match"};
  return o.id.empty() ? run_bulk(o, op) : one(o);
}

int cmd_cancel(const Options& o) { return one_or_bulk(o, cmd_cancel_one, Bulk::Cancel); }
int cmd_resume(const Options& o) { return one_or_bulk(o, cmd_resume_one, Bulk::Resume); }
int cmd_delete(const Options& o) { return one_or_bulk(o, cmd_delete_one, Bulk::Delete); }

// As the admin server's POST /workflows/:id/fork, with the same output.
int fork_with(const Options& o, const keel::ForkOptions& options) {
  auto rt = open_runtime(o.db, false);
  (void)existing(*rt, o.id);
  std::string fork_id = rt->fork_workflow(o.id, options);
  auto info = existing(*rt, fork_id);
  const std::string status = keel::to_string(info.status);
  show(o,
       keel::Json{{"workflow_id", fork_id},
                  {"forked_from", o.id},
                  {"start_step", options.start_step},
                  {"status", status},
                  {"application_version", info.application_version},
                  {"executor_id", info.executor_id}},
       [&](int64_t, int) {
         return "forked " + o.id + " from step " + std::to_string(options.start_step) + " as " + fork_id + ": " +
                status + waiting_for(info) + "\n";
       });
  return kOk;
}

int cmd_fork(const Options& o) {
  return fork_with(o, keel::ForkOptions{.start_step = o.start_step, .workflow_id = o.new_id,
                                        .application_version = o.version});
}

int cmd_restart(const Options& o) {
  return fork_with(o, keel::ForkOptions{.workflow_id = o.new_id});
}

// Every command's: the database, and the output's form.
void add_common_options(CLI::App* cmd, Options& o) {
  cmd->add_option("--db", o.db, "System database URL, e.g. sqlite:/var/lib/app/keel.db")
      ->envname("KEEL_DATABASE_URL")
      ->required();
  cmd->add_flag("--json", o.json, "Print JSON even on a terminal (the default when stdout is not one)");
  cmd->add_flag("--table", o.table, "Print tables even when stdout is not a terminal")->group("");  // hidden: for tests
}

void add_id_argument(CLI::App* cmd, Options& o) {
  cmd->add_option("id", o.id, "Workflow ID")->required();
}

// Adds the filter flags; each one given lands in o.filter under its admin
// API name when the command runs (see collect_filter).
std::vector<std::pair<CLI::Option*, std::string>> add_filter_options(CLI::App* cmd, std::vector<std::string>& values) {
  std::vector<std::pair<CLI::Option*, std::string>> added;
  values.resize(filter_flags().size() + 1);
  for (size_t i = 0; i < filter_flags().size(); ++i) {
    const FilterFlag& f = filter_flags()[i];
    added.emplace_back(cmd->add_option(f.flag, values[i], f.help), f.param);
  }
  return added;
}

void collect_filter(const std::vector<std::pair<CLI::Option*, std::string>>& options, Options& o) {
  for (const auto& [opt, param] : options) {
    if (opt->count() == 0) continue;
    o.filter.emplace(param, opt->as<std::string>());
    auto [it, fresh] = o.flag_of.emplace(param, opt->get_name());
    if (!fresh) o.clash = "give " + it->second + " or " + opt->get_name() + ", not both";
  }
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
               "Results are tables on a terminal, JSON otherwise (or with --json).\n"
               "Exit status: 0 ok, 1 internal error, 2 no such workflow, 3 database missing or unusable,\n"
               "5 the workflow ID exists or is not finished (delete), 64 usage error."};
  app.name("keel");
  app.set_version_flag("--version", std::string("keel ") + keel::version());
  app.add_flag("-v,--verbose", verbose, "Log the library's informational messages to stderr");
  app.require_subcommand(1);

  auto* migrate = app.add_subcommand("migrate", "Create or upgrade the Keel schema of the database");
  add_common_options(migrate, o);
  migrate->callback([&] { command = cmd_migrate; });

  auto* workflow = app.add_subcommand("workflow", "Inspect and manage workflows");
  workflow->require_subcommand(1);

  auto* list = workflow->add_subcommand("list", "List workflows, newest first");
  std::vector<std::string> list_values;
  auto list_filter = add_filter_options(list, list_values);
  std::string order, limit, cursor;
  list_filter.emplace_back(list->add_option("--order", order, "newest (default) or oldest first"), "order");
  list_filter.emplace_back(list->add_option("--limit", limit, "At most this many workflows (default 100)"), "limit");
  list_filter.emplace_back(list->add_option("--cursor", cursor, "Continue after the page that printed this next_cursor"),
                           "cursor");
  list->add_flag("--count", o.count, "Also count every match (\"total\")");
  add_common_options(list, o);
  list->callback([&] {
    collect_filter(list_filter, o);
    if (o.count) o.filter.emplace("count", "true");
    command = cmd_list;
  });

  // cancel, resume, delete: one workflow by ID, or every match of a filter.
  struct Managed {
    const char* name;
    const char* help;
    int (*fn)(const Options&);
  };
  std::vector<std::vector<std::string>> managed_values(3);
  int managed_index = 0;
  for (const Managed& m :
       {Managed{"cancel", "Cancel a PENDING or ENQUEUED workflow, or every match of a filter", cmd_cancel},
        Managed{"resume",
                "Resume a cancelled or dead-lettered workflow (an executor of its version picks it up), or every "
                "match of a filter",
                cmd_resume},
        Managed{"delete", "Delete a finished workflow and all it recorded, or every finished match of a filter",
                cmd_delete}}) {
    auto* sub = workflow->add_subcommand(m.name, m.help);
    sub->add_option("id", o.id, "Workflow ID (or give a filter)");
    auto flags = add_filter_options(sub, managed_values[managed_index++]);
    if (std::string(m.name) == "delete")
      flags.emplace_back(sub->add_option("--finished-before", o.finished_before,
                                         "Finished before T (e.g. 30d): --updated-before of a finished workflow"),
                         "updated_before");
    sub->add_flag("--yes", o.yes, "Act on every match (without it, a bulk operation only counts them)");
    add_common_options(sub, o);
    auto fn = m.fn;
    sub->callback([&command, &o, fn, flags] {
      collect_filter(flags, o);
      command = fn;
    });
  }

  auto* executors = app.add_subcommand("executors", "Inspect the executors' leases");
  executors->require_subcommand(1);
  auto* executors_list = executors->add_subcommand("list", "List the executors (live, or dead not yet taken over)");
  add_common_options(executors_list, o);
  executors_list->callback([&] { command = cmd_executors; });

  auto* schedule = app.add_subcommand("schedule", "Inspect, pause, resume and delete schedules");
  schedule->require_subcommand(1);
  auto* schedule_list = schedule->add_subcommand("list", "List the schedules stored in the database");
  add_common_options(schedule_list, o);
  schedule_list->callback([&] { command = cmd_schedules; });
  struct ByName {
    const char* name;
    const char* help;
    int (*fn)(const Options&);
  };
  for (const ByName& c : {ByName{"pause", "Pause a schedule: no tick starts until resumed", cmd_schedule_pause},
                          ByName{"resume", "Resume a schedule (the ticks of the pause do not run)",
                                 cmd_schedule_resume},
                          ByName{"delete", "Forget a schedule no process declares any more", cmd_schedule_delete}}) {
    auto* sub = schedule->add_subcommand(c.name, c.help);
    sub->add_option("name", o.id, "Schedule name")->required();
    add_common_options(sub, o);
    auto fn = c.fn;
    sub->callback([&command, fn] { command = fn; });
  }

  struct ById {
    const char* name;
    const char* help;
    int (*fn)(const Options&);
  };
  for (const ById& c : {ById{"get", "Show one workflow", cmd_get},
                        ById{"steps", "Show the recorded steps of a workflow", cmd_steps},
                        ById{"events", "Show the events of a workflow (the latest value of each key)", cmd_events}}) {
    auto* sub = workflow->add_subcommand(c.name, c.help);
    add_id_argument(sub, o);
    add_common_options(sub, o);
    auto fn = c.fn;
    sub->callback([&command, fn] { command = fn; });
  }

  auto* messages = workflow->add_subcommand("messages", "Show the messages sent to a workflow, consumed or not");
  add_id_argument(messages, o);
  messages->add_option("--after", o.after, "Only messages after this message_id (page on with next_after)")
      ->check(CLI::NonNegativeNumber);
  messages->add_option("--limit", o.limit, "At most this many messages (default 100)")->check(CLI::Range(1, kMaxLimit));
  add_common_options(messages, o);
  messages->callback([&] { command = cmd_messages; });

  auto* fork = workflow->add_subcommand(
      "fork", "Fork a workflow: a new one that keeps the records before --start-step and runs from there");
  add_id_argument(fork, o);
  fork->add_option("--start-step", o.start_step, "The first position that runs again (0: restart; default 0)")
      ->check(CLI::NonNegativeNumber);
  fork->add_option("--new-id", o.new_id, "The fork's workflow ID (default: a fresh UUID)");
  fork->add_option("--version", o.version, "The application version that runs the fork (default: the original's)");
  add_common_options(fork, o);
  fork->callback([&] { command = cmd_fork; });
  auto* restart = workflow->add_subcommand("restart", "Restart a workflow from the beginning, as a new workflow");
  add_id_argument(restart, o);
  restart->add_option("--new-id", o.new_id, "The new workflow's ID (default: a fresh UUID)");
  add_common_options(restart, o);
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
  } catch (const keel::UnknownScheduleError& e) {
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
