// Test support: the lines spdlog's default logger writes while a LogCapture
// lives, read back under the sink's own lock (workflow threads may log while
// the test reads). The previous default logger is restored at the end.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "keel/logging.hpp"

namespace keel::testing {

class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    std::istringstream in(text_);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    text_.append(buf.data(), buf.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

class LogCapture {
 public:
  explicit LogCapture(LogFormat format)
      : previous_(spdlog::default_logger()), sink_(std::make_shared<LineSink>()) {
    auto logger = std::make_shared<spdlog::logger>("", sink_);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
    configure_logging(format);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> lines() { return sink_->lines(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<LineSink> sink_;
};

}  // namespace keel::testing
