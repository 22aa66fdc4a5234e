#include "soak_options.hpp"

#include <charconv>
#include <cmath>
#include <map>

namespace keel::soak {

namespace {

int positive_int(const std::string& flag, const std::string& text, int max) {
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 1 || v > max)
    throw OptionsError(flag + ": expected a whole number from 1 to " + std::to_string(max) + ", got '" + text + "'");
  return v;
}

double positive_number(const std::string& flag, const std::string& text) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v) || v <= 0 || v > 1000)
    throw OptionsError(flag + ": expected a number above 0 and at most 1000, got '" + text + "'");
  return v;
}

std::string not_empty(const std::string& flag, const std::string& text) {
  if (text.empty()) throw OptionsError(flag + " must not be empty");
  return text;
}

constexpr int kWeek = 7 * 24 * 3600;

// Every setting: its flag, its variable, and how its text lands in Options.
struct Setting {
  const char* flag;
  const char* env;
  void (*set)(Options&, const std::string& flag, const std::string& text);
};
const Setting kSettings[] = {
    {"--seconds", "KEEL_SOAK_SECONDS", [](Options& o, auto& f, auto& t) { o.seconds = positive_int(f, t, kWeek); }},
    {"--rate", "KEEL_SOAK_RATE", [](Options& o, auto& f, auto& t) { o.rate = positive_number(f, t); }},
    {"--clients", "KEEL_SOAK_CLIENTS", [](Options& o, auto& f, auto& t) { o.clients = positive_int(f, t, 256); }},
    {"--kill-every", "KEEL_SOAK_KILL_EVERY",
     [](Options& o, auto& f, auto& t) { o.kill_every = positive_int(f, t, kWeek); }},
    {"--sample-every", "KEEL_SOAK_SAMPLE_EVERY",
     [](Options& o, auto& f, auto& t) { o.sample_every = positive_int(f, t, 3600); }},
    {"--grace", "KEEL_SOAK_GRACE", [](Options& o, auto& f, auto& t) { o.grace = positive_int(f, t, 3600); }},
    {"--checkout-timeout", "KEEL_SOAK_CHECKOUT_TIMEOUT",
     [](Options& o, auto& f, auto& t) { o.checkout_timeout = positive_int(f, t, 3600); }},
    {"--retention", "KEEL_SOAK_RETENTION", [](Options& o, auto& f, auto& t) { o.retention = positive_int(f, t, kWeek); }},
    {"--retention-interval", "KEEL_SOAK_RETENTION_INTERVAL",
     [](Options& o, auto& f, auto& t) { o.retention_interval = positive_int(f, t, 3600); }},
    {"--csv", "KEEL_SOAK_CSV", [](Options& o, auto& f, auto& t) { o.csv = not_empty(f, t); }},
    {"--log-dir", "KEEL_SOAK_LOG_DIR", [](Options& o, auto& f, auto& t) { o.log_dir = not_empty(f, t); }},
    {"--verdicts", "KEEL_SOAK_VERDICTS",
     [](Options& o, auto& f, auto& t) {
       if (t != "enforce" && t != "report") throw OptionsError(f + ": expected enforce or report, got '" + t + "'");
       o.enforce_verdicts = t == "enforce";
     }},
    {"--pg-port", "KEEL_SOAK_PG_PORT", [](Options& o, auto& f, auto& t) { o.pg_port = positive_int(f, t, 65535); }},
};

}  // namespace

Options parse_options(const std::vector<std::string>& args, const GetEnv& getenv) {
  std::map<std::string, std::string> given;  // flag -> text; a repeated flag: the last wins
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], text;
    if (auto eq = flag.find('='); eq != std::string::npos) {
      text = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (i + 1 < args.size()) {
      text = args[++i];
    } else {
      throw OptionsError(flag + ": missing value\n" + options_usage());
    }
    given[flag] = text;
  }
  Options o;
  for (const Setting& s : kSettings) {
    auto it = given.find(s.flag);
    if (it != given.end()) {
      s.set(o, s.flag, it->second);
      given.erase(it);
    } else if (const char* v = getenv(s.env); v && *v) {
      s.set(o, std::string(s.flag) + " (" + s.env + ")", v);
    }
  }
  if (!given.empty()) throw OptionsError("unknown option " + given.begin()->first + "\n" + options_usage());
  return o;
}

Options& current_options() {
  static Options options;
  return options;
}

std::string options_usage() {
  return "usage: keel_soak [gtest flags] [--seconds N] [--rate R] [--clients N] [--kill-every N]\n"
         "                 [--sample-every N] [--grace N] [--checkout-timeout N] [--retention N]\n"
         "                 [--retention-interval N] [--csv PATH] [--log-dir DIR] [--verdicts enforce|report]\n"
         "                 [--pg-port P]\n"
         "  (durations in seconds; each flag also from KEEL_SOAK_<FLAG> in the environment, see soak_options.hpp)\n";
}

}  // namespace keel::soak
