// The shop's command line (apps/shop/settings): parse_settings with an
// injected environment, and the exit codes of the real `shop` binary
// (SHOP_BIN): 0 for help and success, 2 for a bad command line, 1 for a
// failure once running.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "e2e_support.hpp"
#include "keel/keel.hpp"
#include "shop/checkout.hpp"
#include "shop/settings.hpp"
#include "support/temp_dir.hpp"

namespace {

using keel::apps::shop::parse_duration;
using keel::apps::shop::parse_settings;
using keel::apps::shop::Settings;
using keel::apps::shop::SettingsError;
using std::chrono::milliseconds;
using Env = std::map<std::string, std::string>;

Settings parse(const std::vector<std::string>& args, const Env& env = {}) {
  return parse_settings(args, [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

// The message of the SettingsError that parsing throws ("" when it throws none).
std::string error_of(const std::vector<std::string>& args, const Env& env = {}) {
  try {
    parse(args, env);
  } catch (const SettingsError& e) {
    return e.what();
  }
  return "";
}

// Every setting through its flag and its variable: the text given, and the
// Settings field it lands in, as text.
struct Setting {
  std::string flag;
  std::string env;
  std::string text;
  std::string (*read)(const Settings&);
  std::string expected;
};
const std::vector<Setting>& all_settings() {
  static const std::vector<Setting> settings{
      {"--db", "SHOP_DB", "sqlite:/tmp/x.db", [](const Settings& s) { return s.db; }, "sqlite:/tmp/x.db"},
      {"--port", "SHOP_PORT", "9000", [](const Settings& s) { return std::to_string(s.port); }, "9000"},
      {"--host", "SHOP_HOST", "0.0.0.0", [](const Settings& s) { return s.host; }, "0.0.0.0"},
      {"--admin-port", "SHOP_ADMIN_PORT", "9100",
       [](const Settings& s) { return std::to_string(s.effective_admin_port()); }, "9100"},
      {"--admin-token", "SHOP_ADMIN_TOKEN", "t0ken", [](const Settings& s) { return s.admin_token; }, "t0ken"},
      {"--public-url", "SHOP_PUBLIC_URL", "http://shop.test:1/", [](const Settings& s) { return s.public_url; },
       "http://shop.test:1"},
      {"--payments-url", "PAYMENTS_URL", "http://pay.test:2//", [](const Settings& s) { return s.payments_url; },
       "http://pay.test:2"},
      {"--webhook-secret", "WEBHOOK_SECRET", "s3cret", [](const Settings& s) { return s.webhook_secret; },
       "s3cret"},
      {"--checkout-timeout", "CHECKOUT_TIMEOUT", "2m",
       [](const Settings& s) { return std::to_string(s.checkout_timeout.count()); }, "120000"},
      {"--executor-id", "SHOP_EXECUTOR_ID", "shop-2", [](const Settings& s) { return s.executor_id; }, "shop-2"},
      {"--log-format", "SHOP_LOG_FORMAT", "json",
       [](const Settings& s) { return std::string(s.log_format == keel::LogFormat::JsonLines ? "json" : "text"); },
       "json"},
      {"--retention", "SHOP_RETENTION", "2h",
       [](const Settings& s) { return s.retention ? std::to_string(s.retention->count()) : "unset"; }, "7200000"},
      {"--retention-interval", "SHOP_RETENTION_INTERVAL", "5s",
       [](const Settings& s) { return std::to_string(s.retention_interval.count()); }, "5000"},
  };
  return settings;
}

TEST(ShopSettings, Defaults) {
  Settings s = parse({"start"});
  EXPECT_EQ(s.command, "start");
  EXPECT_EQ(s.db, "sqlite:shop.db");
  EXPECT_EQ(s.host, "127.0.0.1");
  EXPECT_EQ(s.port, 8082);
  EXPECT_EQ(s.effective_admin_port(), 8083);
  EXPECT_EQ(s.payments_url, "http://127.0.0.1:8086");
  EXPECT_EQ(s.webhook_secret, "whsec_dev");
  EXPECT_EQ(s.checkout_timeout, milliseconds(60'000));
  EXPECT_EQ(s.public_url, "");
  EXPECT_EQ(s.effective_public_url(), "http://127.0.0.1:8082");
  EXPECT_EQ(s.executor_id, "shop");
  EXPECT_EQ(s.log_format, keel::LogFormat::Text);
  EXPECT_FALSE(s.retention.has_value());
  EXPECT_EQ(s.retention_interval, milliseconds(60'000));
  EXPECT_EQ(parse({"migrate"}).command, "migrate");
}

TEST(ShopSettings, EachFlagInBothForms) {
  for (const Setting& setting : all_settings()) {
    EXPECT_EQ(setting.read(parse({"start", setting.flag, setting.text})), setting.expected) << setting.flag;
    EXPECT_EQ(setting.read(parse({"start", setting.flag + "=" + setting.text})), setting.expected) << setting.flag;
    // migrate takes every flag too
    EXPECT_EQ(setting.read(parse({"migrate", setting.flag, setting.text})), setting.expected) << setting.flag;
  }
}

TEST(ShopSettings, EachEnvironmentVariable) {
  for (const Setting& setting : all_settings())
    EXPECT_EQ(setting.read(parse({"start"}, {{setting.env, setting.text}})), setting.expected) << setting.env;
}

TEST(ShopSettings, FlagWinsOverItsVariable) {
  Env env;
  for (const Setting& setting : all_settings()) env[setting.env] = setting.text;
  Settings s = parse({"start", "--port", "9001", "--db=sqlite:flag.db", "--checkout-timeout", "5s"}, env);
  EXPECT_EQ(s.port, 9001);
  EXPECT_EQ(s.db, "sqlite:flag.db");
  EXPECT_EQ(s.checkout_timeout, milliseconds(5000));
  EXPECT_EQ(s.executor_id, "shop-2");  // from its variable
}

TEST(ShopSettings, EmptyVariableCountsAsUnsetAndARepeatedFlagTakesTheLast) {
  Settings s = parse({"start", "--port", "9000", "--port=9002"}, {{"SHOP_DB", ""}, {"WEBHOOK_SECRET", ""}});
  EXPECT_EQ(s.port, 9002);
  EXPECT_EQ(s.db, "sqlite:shop.db");
  EXPECT_EQ(s.webhook_secret, "whsec_dev");
}

TEST(ShopSettings, EmptyValues) {
  Settings s = parse({"start", "--host="});  // an empty host: the public URL says 127.0.0.1
  EXPECT_EQ(s.host, "");
  EXPECT_EQ(s.effective_public_url(), "http://127.0.0.1:8082");
  EXPECT_NE(error_of({"start", "--db="}).find("--db must not be empty"), std::string::npos);
  EXPECT_NE(error_of({"start", "--webhook-secret", ""}).find("--webhook-secret must not be empty"), std::string::npos);
  EXPECT_NE(error_of({"start", "--executor-id="}).find("--executor-id must not be empty"), std::string::npos);
}

TEST(ShopSettings, Durations) {
  EXPECT_EQ(parse_duration("60s"), milliseconds(60'000));
  EXPECT_EQ(parse_duration("1500ms"), milliseconds(1500));
  EXPECT_EQ(parse_duration("2m"), milliseconds(120'000));
  EXPECT_EQ(parse_duration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parse_duration("45"), milliseconds(45'000));  // bare seconds
  for (const char* bad : {"", "abc", "1.5s", "5 s", "ms", "3d", "s"})
    EXPECT_THROW(parse_duration(bad), SettingsError) << bad;
  for (const char* out_of_range : {"0s", "0", "-5s", "9000h"})
    EXPECT_THROW(parse_duration(out_of_range), SettingsError) << out_of_range;
  EXPECT_EQ(parse({"start", "--checkout-timeout", "1500ms"}).checkout_timeout, milliseconds(1500));
  EXPECT_NE(error_of({"start", "--checkout-timeout", "soon"}).find("not a duration: 'soon'"), std::string::npos);
  EXPECT_NE(error_of({"start"}, {{"CHECKOUT_TIMEOUT", "0s"}}).find("duration out of range"), std::string::npos);
  EXPECT_NE(error_of({"start", "--retention", "forever"}).find("not a duration: 'forever'"), std::string::npos);
  EXPECT_NE(error_of({"start", "--retention-interval", "0s"}).find("duration out of range"), std::string::npos);
}

TEST(ShopSettings, BadValuesNameTheirFlag) {
  EXPECT_NE(error_of({"start", "--port", "abc"}).find("--port: not an integer"), std::string::npos);
  EXPECT_NE(error_of({"start", "--port", "0"}).find("--port: not a port number"), std::string::npos);
  EXPECT_NE(error_of({"start", "--port", "65536"}).find("--port: not a port number"), std::string::npos);
  EXPECT_NE(error_of({"start"}, {{"SHOP_PORT", "x"}}).find("--port: not an integer"), std::string::npos);
  EXPECT_NE(error_of({"start", "--admin-port", "-1"}).find("--admin-port: not a port number"), std::string::npos);
  EXPECT_NE(error_of({"start", "--port", "65535"}).find("leaves no port for the admin server"), std::string::npos);
  EXPECT_EQ(parse({"start", "--port", "65535", "--admin-port", "1"}).port, 65535);
  EXPECT_NE(error_of({"start", "--public-url", "ftp://x"}).find("--public-url: expected an http:// URL"),
            std::string::npos);
  EXPECT_NE(error_of({"start", "--payments-url", "http://"}).find("--payments-url: expected an http:// URL"),
            std::string::npos);
  EXPECT_NE(error_of({"start", "--log-format", "xml"}).find("--log-format: expected text or json, got 'xml'"),
            std::string::npos);
  EXPECT_NE(error_of({"start"}, {{"SHOP_LOG_FORMAT", "JSON"}}).find("--log-format: expected text or json"),
            std::string::npos);
}

TEST(ShopSettings, HelpInEveryForm) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"help"}, {"--help"}, {"-h"}, {"help", "whatever"}, {"start", "--help"}, {"migrate", "-h"},
           {"start", "--port", "1", "-h"}})
    EXPECT_EQ(parse(args).command, "help") << args.size();
  // Asking for help reads no setting: a bad variable does not matter.
  EXPECT_EQ(parse({"start", "--help"}, {{"SHOP_PORT", "x"}}).command, "help");
}

TEST(ShopSettings, BadCommandLines) {
  EXPECT_NE(error_of({}).find("missing command"), std::string::npos);
  EXPECT_NE(error_of({"frobnicate"}).find("unknown command 'frobnicate'"), std::string::npos);
  EXPECT_NE(error_of({"start", "--no-such-flag", "1"}).find("--no-such-flag"), std::string::npos);
  EXPECT_NE(error_of({"start", "stray"}).find("stray"), std::string::npos);
  EXPECT_NE(error_of({"start", "--db"}).find("--db"), std::string::npos);  // no value
  // An unknown flag's message shows the usage.
  EXPECT_NE(error_of({"start", "--no-such-flag", "1"}).find("usage:"), std::string::npos);
}

// The real binary: what main makes of each outcome.
class ShopExitCodes : public ::testing::Test {
 protected:
  int run(const std::vector<std::string>& args, const Env& env = {}) {
    std::vector<std::string> argv{SHOP_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    keel::e2e::Process shop(argv, dir.file("shop.log"), env);
    int code = shop.wait_exit();
    output = shop.log();
    return code;
  }
  keel::testing::TempDir dir;
  std::string output;
};

TEST_F(ShopExitCodes, HelpIsZeroAndPrintsTheUsage) {
  for (const char* help : {"help", "--help", "-h"}) {
    EXPECT_EQ(run({help}), 0) << help;
    EXPECT_NE(output.find("usage:"), std::string::npos) << output;
  }
  EXPECT_EQ(run({"start", "--help"}), 0);
}

TEST_F(ShopExitCodes, BadCommandLineIsTwo) {
  EXPECT_EQ(run({}), 2);
  EXPECT_NE(output.find("shop: missing command"), std::string::npos) << output;
  EXPECT_EQ(run({"frobnicate"}), 2);
  EXPECT_EQ(run({"start", "--no-such-flag", "1"}), 2);
  EXPECT_EQ(run({"start", "--port", "not-a-port"}), 2);
  EXPECT_EQ(run({"migrate", "--checkout-timeout", "0s"}), 2);
  EXPECT_EQ(run({"migrate"}, {{"SHOP_PORT", "x"}}), 2);
  EXPECT_EQ(run({"start", "--log-format", "yaml"}), 2);
  EXPECT_NE(output.find("shop: --log-format: expected text or json, got 'yaml'"), std::string::npos) << output;
}

// `shop verify`: the upgrade check on the shop's own database. A checkout
// recorded by other code (here: one whose first operation is a step the
// shop's checkout never calls) fails it with exit 1 and names it; with
// nothing in flight it passes.
TEST_F(ShopExitCodes, VerifyGatesOnCheckoutsThisBuildWouldNotReplay) {
  const std::string db = dir.db_url("shop.db");
  ASSERT_EQ(run({"migrate", "--db", db}), 0) << output;
  EXPECT_EQ(run({"verify", "--db", db}), 0) << output;
  EXPECT_NE(output.find("0 workflow(s) checked"), std::string::npos) << output;
  {
    keel::Runtime other({.database_url = db, .executor_id = "old-build"});
    other.register_workflow(keel::apps::shop::kCheckoutWorkflow, [](keel::Context& ctx) {
      ctx.step("an_old_step", [] {});
      return ctx.recv<bool>("never", std::chrono::hours(1)).value_or(false);
    });
    other.launch();
    (void)other.start(keel::Workflow<bool>(keel::apps::shop::kCheckoutWorkflow), {.workflow_id = "in-flight"});
    while (other.list_steps("in-flight").empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(run({"verify", "--db", db}), 1) << output;
  EXPECT_NE(output.find("MISMATCH in-flight"), std::string::npos) << output;
}

TEST_F(ShopExitCodes, MigrateIsZeroAndAFailureOnceRunningIsOne) {
  EXPECT_EQ(run({"migrate", "--db", dir.db_url("shop.db")}), 0) << output;
  EXPECT_EQ(run({"migrate"}, {{"SHOP_DB", "sqlite:" + dir.file("no-such-dir/shop.db")}}), 1) << output;
}

}  // namespace
