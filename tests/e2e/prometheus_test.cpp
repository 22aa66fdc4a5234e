// A real Prometheus (Debian `prometheus`) on loopback scrapes the real shop's
// admin server (GET /metrics, with the admin token) every second; after some
// paid checkouts, a PromQL query over its HTTP API must count as many
// successful checkout workflows as the shop reports orders. Everything it
// starts is stopped by the Process destructors. Skipped when prometheus is
// not installed (scripts/install-deps.sh installs it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/http_service.hpp"
#include "e2e_support.hpp"
#include "support/temp_dir.hpp"
#include "support/test_databases.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using keel::apps::HttpClient;
using keel::e2e::eventually;
using keel::e2e::free_port;
using keel::e2e::Process;

namespace {

constexpr int kCheckouts = 4;
constexpr const char* kToken = "metrics-test-token";
constexpr const char* kSucceeded =
    R"(sum(keel_workflows_finished_total{job="shop",workflow="checkout",status="SUCCESS"}))";

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class ShopPrometheus : public ::testing::Test {
 protected:
  keel::testing::TempDir dir;
  const int pay_port = free_port();
  const int shop_port = free_port(/*pair=*/true);  // the admin server on shop_port + 1
  const int prom_port = free_port();
  std::unique_ptr<Process> payments, shop, prometheus;
  HttpClient http{{.connect_timeout = 2000ms, .read_timeout = 30000ms, .write_timeout = 10000ms}};

  void TearDown() override {
    if (HasFailure()) {
      for (auto* p : {shop.get(), payments.get(), prometheus.get()})
        if (p) std::cerr << "---- log ----\n" << tail(p->log()) << "\n";
    }
    prometheus.reset();
    shop.reset();
    payments.reset();
  }

  static std::string tail(const std::string& s, size_t n = 4000) { return s.size() > n ? s.substr(s.size() - n) : s; }
  std::string url(int port) const { return "http://127.0.0.1:" + std::to_string(port); }

  bool ready(const std::string& u) {
    return eventually(
        [&] {
          try { return http.get(u).status == 200; } catch (const std::exception&) { return false; }
        },
        20s);
  }

  void start_services() {
    payments = std::make_unique<Process>(
        std::vector<std::string>{PAYMENTS_BIN, "start", "--db", keel::testing::named_test_db_url(dir, "payments"),
                                 "--port", std::to_string(pay_port), "--admin-port", "-1"},
        dir.file("payments.log"));
    ASSERT_TRUE(ready(url(pay_port) + "/healthz")) << tail(payments->log());
    shop = std::make_unique<Process>(
        std::vector<std::string>{SHOP_BIN, "start", "--db", keel::testing::named_test_db_url(dir, "shop"), "--port",
                                 std::to_string(shop_port), "--payments-url", url(pay_port), "--admin-token", kToken},
        dir.file("shop.log"));
    ASSERT_TRUE(ready(url(shop_port) + "/products")) << tail(shop->log());
  }

  void start_prometheus() {
    const std::string config = dir.file("prometheus.yml");
    std::ofstream(config) << "global:\n"
                             "  scrape_interval: 1s\n"
                             "  scrape_timeout: 1s\n"
                             "scrape_configs:\n"
                             "  - job_name: shop\n"
                             "    authorization:\n"
                             "      credentials: "
                          << kToken << "\n    static_configs:\n      - targets: ['127.0.0.1:" << shop_port + 1
                          << "']\n";
    prometheus = std::make_unique<Process>(
        std::vector<std::string>{PROMETHEUS_BIN, "--config.file=" + config, "--storage.tsdb.path=" + dir.file("tsdb"),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
        dir.file("prometheus.log"));
    ASSERT_TRUE(ready(url(prom_port) + "/-/ready")) << tail(prometheus->log());
  }

  // A paid checkout: the order, then its payment; the workflow ends fulfilled.
  void paid_checkout(const std::string& key) {
    auto r = http.request("POST", url(shop_port) + "/checkout/" + key, {{"Accept", "application/json"}}, "");
    ASSERT_EQ(r.status, 200) << r.body;
    auto paid = http.post_json(url(pay_port) + "/api/submit_payment", {},
                               json{{"session_id", r.json().at("session_id")}}.dump());
    ASSERT_EQ(paid.status, 200) << paid.body;
  }

  std::vector<json> orders() { return http.get(url(shop_port) + "/orders?limit=500").json().at("orders"); }

  // The single value of an instant PromQL query, or none (no sample yet).
  std::optional<double> query(const std::string& promql) {
    auto r = http.get(url(prom_port) + "/api/v1/query?query=" + url_encode(promql));
    if (r.status != 200) return std::nullopt;
    const json result = r.json().at("data").at("result");
    if (result.size() != 1) return std::nullopt;
    return std::stod(result[0].at("value").at(1).get<std::string>());
  }
};

TEST_F(ShopPrometheus, FinishedCheckoutsInPrometheusMatchTheOrders) {
  if (std::string(PROMETHEUS_BIN).empty() || !std::filesystem::exists(PROMETHEUS_BIN))
    GTEST_SKIP() << "prometheus is not installed";
  ASSERT_NO_FATAL_FAILURE(start_services());
  ASSERT_NO_FATAL_FAILURE(start_prometheus());
  for (int i = 0; i < kCheckouts; ++i) ASSERT_NO_FATAL_FAILURE(paid_checkout("prom-" + std::to_string(i)));
  ASSERT_TRUE(eventually(
      [&] {
        auto all = orders();
        return all.size() == kCheckouts &&
               std::all_of(all.begin(), all.end(), [](const json& o) { return o.at("status") == "fulfilled"; });
      },
      20s));
  const size_t reported = orders().size();

  // The target is up and scraped with the token; the count catches up within a few scrapes.
  std::optional<double> succeeded;
  bool matched = eventually(
      [&] {
        succeeded = query(kSucceeded);
        return succeeded && *succeeded == static_cast<double>(reported);
      },
      15s);
  EXPECT_TRUE(matched) << "Prometheus says " << (succeeded ? std::to_string(*succeeded) : "nothing")
                       << " successful checkouts; the shop reports " << reported << " orders";
  EXPECT_EQ(query(R"(up{job="shop"})"), 1.0);
  EXPECT_EQ(query(R"(sum(keel_workflows_started_total{job="shop",workflow="checkout"}))"),
            static_cast<double>(reported));
  // A histogram goes through too: the checkouts' steps were timed.
  EXPECT_GT(query(R"(sum(keel_operation_duration_seconds_count{job="shop",kind="step"}))").value_or(0), 0.0);
}

}  // namespace
