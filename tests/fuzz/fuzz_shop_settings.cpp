// The shop's command line (shop::parse_settings): one argument per line of
// the input, and CHECKOUT_TIMEOUT / SHOP_PORT from the environment (a line
// "ENV=VALUE" sets one). Documented failure: SettingsError. Accepted
// settings must hold valid ports, a secret and a positive timeout.
#include <iostream>
#include <map>

#include "fuzz_support.hpp"
#include "shop/settings.hpp"

using namespace keel::apps::shop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = keel::fuzz::text(data, size);
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  while (!in.empty() && args.size() < 64) {
    size_t nl = in.find('\n');
    std::string line(in.substr(0, nl));
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    if (line.rfind("CHECKOUT_TIMEOUT=", 0) == 0 || line.rfind("SHOP_PORT=", 0) == 0)
      env[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
    else
      args.push_back(std::move(line));
  }
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  Settings s;
  if (!keel::fuzz::only<SettingsError>([&] { s = parse_settings(args, getenv); },
                                       [](const SettingsError& e) { FUZZ_CHECK(*e.what() != '\0'); }))
    return 0;
  if (s.command == "help") return 0;
  FUZZ_CHECK(s.command == "migrate" || s.command == "start" || s.command == "verify");
  FUZZ_CHECK(!s.db.empty() && !s.webhook_secret.empty() && !s.executor_id.empty());
  FUZZ_CHECK(s.port >= 1 && s.port <= 65535);
  FUZZ_CHECK(s.effective_admin_port() >= 1 && s.effective_admin_port() <= 65535);
  FUZZ_CHECK(s.checkout_timeout.count() > 0);
  FUZZ_CHECK(s.payments_url.rfind("http://", 0) == 0);
  return 0;
}
