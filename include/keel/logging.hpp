/// @file
/// keel/logging.hpp — Keel's log lines: their format, and the workflow each
/// belongs to (docs/operations.md, "Logs").
///
/// Contract:
///  * Keel logs through spdlog's default logger. While a workflow runs on a
///    thread, every line logged on that thread — by Keel or by the
///    workflow's own code through that logger — carries the workflow's ID;
///    while a step's or a transaction's body runs, also the step's name and
///    position (`StepInfo::function_id`). Keel's lines about one workflow
///    logged elsewhere (recovery, parking, queues) carry its ID too. Lines
///    logged outside any workflow carry none.
///  * configure_logging(format) gives spdlog's default logger (every sink of
///    it) the format that shows those fields:
///    - LogFormat::Text: `[2026-12-06 05:20:01.123] [warning] [wf=order-3
///      step=charge#2] workflow failed: no` (local time; the bracket with
///      the workflow is absent outside a workflow);
///    - LogFormat::JsonLines: one JSON object per line: `ts` (RFC 3339, UTC,
///      milliseconds), `level`, `msg`, `logger`, `thread`, and, when
///      present, `workflow_id`, `step` and `function_id`. Bytes of the
///      message that are not UTF-8 are replaced by U+FFFD: a line is always
///      one valid JSON object.
///    Without a call, spdlog's own format applies and lines show no
///    workflow.
///  * The fields are read on the thread that logs: a logger that formats on
///    another thread (spdlog's async loggers) would show none.
///
/// Thread-safety: call configure_logging at start-up, before other threads
/// log; current_workflow_id and parse_log_format from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keel {

/// The two formats of log lines (see the contract above).
enum class LogFormat {
  Text,  ///< one human-readable line per record
  JsonLines,  ///< one JSON object per line (JSON Lines), for log pipelines
};

/// Installs the format on spdlog's default logger.
void configure_logging(LogFormat format);

/// "text" or "json" (the value of the apps' `--log-format`); nullopt otherwise.
std::optional<LogFormat> parse_log_format(std::string_view text);

/// The ID of the workflow the calling thread runs code of; "" outside any.
std::string current_workflow_id();

}  // namespace keel
