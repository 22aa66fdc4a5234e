// The payment service's command line (payments::parse_settings, on CLI11):
// one argument per line of the input. Documented failure: an exit code
// (CLI11 printed why). Nothing may throw; accepted durations obey their
// flags' bounds.
#include <iostream>

#include "fuzz_support.hpp"
#include "payments/settings.hpp"

using namespace keel::payments;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // CLI11 prints every refusal (and --help) on std::cout/std::cerr; a
  // silenced stream keeps the fuzzer's own log (stdio) readable and fast.
  std::cout.setstate(std::ios::badbit);
  std::cerr.setstate(std::ios::badbit);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = keel::fuzz::text(data, size);
  std::vector<std::string> args{"payments"};
  while (!in.empty() && args.size() < 64) {
    size_t nl = in.find('\n');
    args.emplace_back(in.substr(0, nl));
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::variant<Settings, int> parsed;
  keel::fuzz::only<std::exception>([&] { parsed = parse_settings(static_cast<int>(args.size()), argv.data()); },
                                   [](const std::exception& e) {
                                     std::fprintf(stderr, "parse_settings threw: %s\n", e.what());
                                     std::abort();
                                   });
  if (auto* s = std::get_if<Settings>(&parsed)) {
    const ServiceConfig& c = s->service;
    FUZZ_CHECK(c.port >= 0 && c.port <= 65535);
    FUZZ_CHECK(c.webhook_initial_backoff.count() >= 1 && c.webhook_timeout.count() >= 1);
    FUZZ_CHECK(c.webhook_max_backoff.count() >= 0 && c.webhook_give_up_after.count() >= 0);
  }
  return 0;
}
