#include "common/log_context.hpp"

#include "keel/logging.hpp"

namespace keel {
namespace detail {

namespace {
thread_local LogContext t_context;
}  // namespace

const LogContext& current_log_context() { return t_context; }

LogContextScope::LogContextScope(std::string_view workflow_id, std::string_view step, int function_id)
    : outer_(t_context) {
  t_context = LogContext{workflow_id, step, function_id};
}

LogContextScope::~LogContextScope() { t_context = outer_; }

}  // namespace detail

std::string current_workflow_id() { return std::string(detail::current_log_context().workflow_id); }

}  // namespace keel
