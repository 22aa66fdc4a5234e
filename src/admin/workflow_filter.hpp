// The workflow filter of the admin API and the CLI, one parser for both:
// `GET /workflows?status=ERROR&created_after=2h` and
// `keel workflow list --status ERROR --created-after 2h` name the same
// parameters (the CLI's dashes are the API's underscores) and fail with the
// same code and message.
//
// Parameters (each at most once; status may list several, comma-separated):
//   status, name, id_prefix, queue_name, application_version, executor_id,
//   parent_id, created_after, created_before, updated_after, updated_before,
//   order (newest | oldest), limit (1..kMaxListLimit), cursor, count (true | false)
// A time is epoch milliseconds, an RFC 3339 UTC time or offset
// ("2026-12-06T04:00:00Z", "...+01:00", with optional fractional seconds),
// or a duration before now ("90s", "15m", "2h", "30d", "500ms").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keel/status.hpp"

namespace keel::admin {

// A parameter that is unknown or malformed; code is the API's error code.
struct FilterError {
  std::string code;
  std::string message;
};

using FilterParams = std::multimap<std::string, std::string>;

// The parameters every list and bulk operation accepts, and those only a
// list (paging) accepts.
const std::vector<std::string>& filter_parameter_names();
const std::vector<std::string>& page_parameter_names();
// filter_parameter_names() as "status, name, ..." for messages.
std::string filter_parameter_list();

// Throws FilterError. With paging false, order/limit/cursor/count are
// unknown parameters (bulk operations act on every match).
ListWorkflowsQuery parse_workflow_filter(const FilterParams& params, int64_t now_ms, bool paging);

// A time as above, in epoch milliseconds; nullopt when malformed.
std::optional<int64_t> parse_time(const std::string& text, int64_t now_ms);
// A duration ("90s", "15m", "2h", "30d", "500ms") in milliseconds; nullopt
// when malformed or not positive.
std::optional<int64_t> parse_duration(const std::string& text);

}  // namespace keel::admin
