#include "common/log_format.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "common/log_context.hpp"

namespace keel {
namespace detail {

namespace {

// "%*": "[wf=ID step=NAME#N] " inside a workflow, nothing outside.
class ContextFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    const LogContext& c = current_log_context();
    if (c.workflow_id.empty()) return;
    if (c.step.empty()) {
      fmt::format_to(std::back_inserter(dest), "[wf={}] ", c.workflow_id);
    } else {
      fmt::format_to(std::back_inserter(dest), "[wf={} step={}#{}] ", c.workflow_id, c.step, c.function_id);
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<ContextFlag>(); }
};

// RFC 3339 in UTC with milliseconds: "2026-12-06T05:20:01.123Z".
std::string rfc3339_utc(spdlog::log_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  if (ms % 1000 < 0) --secs;  // before 1970: floor, not truncation
  std::tm utc{};
  gmtime_r(&secs, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec, ((ms % 1000) + 1000) % 1000);
}

// spdlog's string views (fmt's or std's, as spdlog was built) as std's.
std::string_view view(spdlog::string_view_t s) { return {s.data(), s.size()}; }

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    // Ordered: ts, level and msg first, as a person reading the line expects.
    nlohmann::ordered_json line = {
        {"ts", rfc3339_utc(msg.time)},
        {"level", view(spdlog::level::to_string_view(msg.level))},
        {"msg", view(msg.payload)},
        {"logger", view(msg.logger_name)},
        {"thread", msg.thread_id},
    };
    const LogContext& c = current_log_context();
    if (!c.workflow_id.empty()) line["workflow_id"] = c.workflow_id;
    if (!c.step.empty()) {
      line["step"] = c.step;
      line["function_id"] = c.function_id;
    }
    // Invalid UTF-8 (a message may hold any bytes) becomes U+FFFD instead
    // of an exception: the line stays one valid JSON object.
    std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    text.push_back('\n');
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format) {
  if (format == LogFormat::JsonLines) return std::make_unique<JsonFormatter>();
  auto text = std::make_unique<spdlog::pattern_formatter>();
  text->add_flag<ContextFlag>('*').set_pattern(kTextLogPattern);
  return text;
}

}  // namespace detail

void configure_logging(LogFormat format) { spdlog::default_logger()->set_formatter(detail::make_log_formatter(format)); }

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::Text;
  if (text == "json") return LogFormat::JsonLines;
  return std::nullopt;
}

}  // namespace keel
