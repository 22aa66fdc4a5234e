// The formatters of keel::configure_logging (keel/logging.hpp): the text
// pattern with the log context's bracket, and the JSON lines. Separate from
// configure_logging so that tests can format a record without touching the
// default logger.
// Thread-safety: a formatter is used under its sink's lock (spdlog); each
// reads the log context of the thread that logs.
#pragma once

#include <spdlog/formatter.h>

#include <memory>

#include "keel/logging.hpp"

namespace keel::detail {

// The text pattern: spdlog's default one, the context's bracket before the message.
inline constexpr const char* kTextLogPattern = "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %*%v";

std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format);

}  // namespace keel::detail
