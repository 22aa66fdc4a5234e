// The soak driver's settings (tests/soak): each from a flag, else its
// environment variable (`make soak` passes the variables), else its default.
//   --seconds N            KEEL_SOAK_SECONDS            length of the load (3600)
//   --rate R               KEEL_SOAK_RATE               checkouts started per second (2)
//   --clients N            KEEL_SOAK_CLIENTS            concurrent clients (32): a client
//                                                       waits out a victim's downtime
//   --kill-every N         KEEL_SOAK_KILL_EVERY         seconds between two kills (90); the
//                                                       victims alternate, shop first
//   --sample-every N       KEEL_SOAK_SAMPLE_EVERY       seconds between two samples (5)
//   --grace N              KEEL_SOAK_GRACE              seconds for every checkout to end
//                                                       once the load stops (120)
//   --checkout-timeout N   KEEL_SOAK_CHECKOUT_TIMEOUT   the shop's --checkout-timeout (10)
//   --retention N          KEEL_SOAK_RETENTION          both services' --retention (60)
//   --retention-interval N KEEL_SOAK_RETENTION_INTERVAL both services' --retention-interval (15)
//   --csv PATH             KEEL_SOAK_CSV                the samples (soak.csv)
//   --log-dir DIR          KEEL_SOAK_LOG_DIR            keep the services' logs there
//                                                       (default: a temporary directory, removed)
//   --verdicts enforce|report  KEEL_SOAK_VERDICTS       does a growing series fail the run (enforce)
//   --pg-port P            KEEL_SOAK_PG_PORT            port of the cluster the driver starts when
//                                                       KEEL_TEST_DATABASE_URL is unset
// Durations are whole seconds. Thread-safety: plain values and pure functions.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace keel::soak {

// A bad command line or variable; the message names the flag.
class OptionsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Options {
  int seconds = 3600;
  double rate = 2;
  int clients = 32;
  int kill_every = 90;
  int sample_every = 5;
  int grace = 120;
  int checkout_timeout = 10;
  int retention = 60;
  int retention_interval = 15;
  std::string csv = "soak.csv";
  std::string log_dir;
  bool enforce_verdicts = true;
  int pg_port = 0;  // 0: the default compiled in (KEEL_SOAK_PG_PORT)
};

using GetEnv = std::function<const char*(const char*)>;

// args: the command line without the program name (gtest's flags already
// taken out). Throws OptionsError.
Options parse_options(const std::vector<std::string>& args, const GetEnv& getenv);

std::string options_usage();

// The options of this run, set once by main before the tests run.
Options& current_options();

}  // namespace keel::soak
