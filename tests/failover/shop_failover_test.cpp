// PostgreSQL failover under the checkout's load (issue 18, "PostgreSQL
// failover").
//
// The real shop and payment service run on two PostgreSQL databases of a
// synchronous primary/standby pair (scripts/pg-failover-cluster.sh), through
// the multi-host URL (target_session_attrs=read-write). Clients run checkouts
// without pause (pay, cancel or abandon; every request retried with the same
// idempotency key on connection errors and 5xx answers) while the test, KEEL_FAILOVER_COUNT
// times (default 1; `make failover-long`: 10), SIGKILLs the primary's
// postmaster, promotes the standby and rebuilds the old primary as the new
// standby. The apps are never restarted. Asserted:
//   - both apps are still the processes started at the beginning, and after
//     every failover new checkouts are acknowledged again (Keel found the new
//     primary by itself);
//   - every acknowledged answer survives: a 200 checkout's order with its
//     session, a 200 payment's charge and fulfilled order, a 200 cancel's
//     cancelled order;
//   - the three rules (checkout_rules.hpp);
//   - nothing stays stuck: every order final and no workflow PENDING within a
//     bound after the last failover.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "checkout_client.hpp"
#include "checkout_rules.hpp"
#include "common/http_service.hpp"
#include "e2e_support.hpp"
#include "failover_pair.hpp"
#include "support/temp_dir.hpp"
#include "support/test_databases.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using keel::apps::HttpClient;
using keel::apps::HttpClientResponse;
using keel::e2e::eventually;
using keel::e2e::free_port;
using keel::e2e::Process;
using keel::e2e::until_definitive;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kSeedInventory = 100000;

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : fallback;
}

int64_t seconds_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t).count();
}

enum class Action { Pay, Cancel, Abandon };

// What one client saw of one checkout.
struct Outcome {
  std::string key;
  Action action = Action::Abandon;
  std::string session_id;     // set when the checkout was acknowledged (200)
  std::string action_result;  // "paid", "cancelled", "rejected", "gave_up", "unexpected ..."
  std::string charge_id;
  std::string checkout;       // "ok", "payment_unavailable", "gave_up", "unexpected ..."
};

class ShopFailover : public ::testing::Test {
 protected:
  keel::testing::FailoverPair pair;
  keel::testing::TempDir dir;
  std::string shop_db_url, payments_db_url;
  const int pay_port = free_port(/*pair=*/true);
  const int shop_port = free_port(/*pair=*/true);
  std::unique_ptr<Process> payments, shop;
  HttpClient http{{.connect_timeout = 1000ms, .read_timeout = 60000ms, .write_timeout = 10000ms}};
  std::mutex log_mu;

  void SetUp() override {
    // The per-service databases (support/test_databases.hpp) on the pair.
    ::setenv("KEEL_TEST_DATABASE_URL", pair.url().c_str(), 1);
    shop_db_url = keel::testing::named_test_db_url(dir, "shop");
    payments_db_url = keel::testing::named_test_db_url(dir, "payments");
  }
  void TearDown() override {
    if (HasFailure()) {
      if (shop) std::cerr << "---- shop log (tail) ----\n" << tail(shop->log()) << "\n";
      if (payments) std::cerr << "---- payments log (tail) ----\n" << tail(payments->log()) << "\n";
    }
    shop.reset();
    payments.reset();
  }

  static std::string tail(const std::string& s, size_t n = 6000) { return s.size() > n ? s.substr(s.size() - n) : s; }
  void say(const std::string& line) {
    std::lock_guard lk(log_mu);
    std::cout << "[failover] " << line << std::endl;
  }
  std::string pay_url() const { return "http://127.0.0.1:" + std::to_string(pay_port); }
  std::string shop_url() const { return "http://127.0.0.1:" + std::to_string(shop_port); }

  bool wait_ready(Process& p, const std::string& url) {
    return eventually(
               [&] {
                 if (!p.alive()) return true;
                 try {
                   return http.get(url).status == 200;
                 } catch (const std::exception&) {
                   return false;
                 }
               },
               30s) &&
           p.alive();
  }

  void run_checkout(Outcome& o, const std::string& body) {
    auto r = until_definitive(
        [&] {
          return http.request("POST", shop_url() + "/checkout/" + o.key, {{"Accept", "application/json"}}, body);
        },
        120s, "payment_unavailable");
    if (!r) {
      o.checkout = "gave_up";
      return;
    }
    if (r->status == 503) {
      o.checkout = "payment_unavailable";
      return;
    }
    if (r->status != 200) {
      o.checkout = "unexpected " + std::to_string(r->status) + " " + r->body;
      return;
    }
    o.checkout = "ok";
    o.session_id = r->json().at("session_id").get<std::string>();
    if (o.action == Action::Abandon) return;
    const bool pay = o.action == Action::Pay;
    auto a = until_definitive(
        [&] {
          return http.post_json(pay_url() + (pay ? "/api/submit_payment" : "/api/cancel_payment"), {},
                                json{{"session_id", o.session_id}}.dump());
        },
        120s);
    if (!a) {
      o.action_result = "gave_up";
    } else if (a->status == 200) {
      o.action_result = pay ? "paid" : "cancelled";
      if (pay) o.charge_id = a->json().value("charge_id", "");
    } else if (a->status == 409) {
      o.action_result = "rejected";  // the session expired meanwhile (checkout timeout)
    } else {
      o.action_result = "unexpected " + std::to_string(a->status) + " " + a->body;
    }
  }

  json get_json(const std::string& url) { return keel::e2e::get_json(http, url, 60s); }
  std::vector<json> pages(const std::string& url, const char* field) { return keel::e2e::all_pages(http, url, field); }
  std::vector<json> pending_workflows(int admin_port) {
    return keel::e2e::pending_workflows(http, "http://127.0.0.1:" + std::to_string(admin_port));
  }
  static bool terminal(const std::string& s) { return keel::e2e::is_terminal_order(s); }
};

TEST_F(ShopFailover, CheckoutsSurviveKillsOfThePrimaryAndPromotions) {
  const int failovers = static_cast<int>(env_int("KEEL_FAILOVER_COUNT", 1));
  const int clients = static_cast<int>(env_int("KEEL_FAILOVER_CLIENTS", 4));
  const auto load_between = std::chrono::milliseconds(env_int("KEEL_FAILOVER_LOAD_MS", 3000));
  const auto t0 = Clock::now();
  say(std::to_string(failovers) + " failovers, " + std::to_string(clients) + " clients, URL " + pair.url());

  payments = std::make_unique<Process>(
      std::vector<std::string>{PAYMENTS_BIN, "start", "--db", payments_db_url, "--port", std::to_string(pay_port),
                               "--admin-port", std::to_string(pay_port + 1), "--webhook-max-backoff", "1s"},
      dir.file("payments.log"));
  ASSERT_TRUE(wait_ready(*payments, pay_url() + "/healthz")) << tail(payments->log());
  shop = std::make_unique<Process>(
      std::vector<std::string>{SHOP_BIN, "start", "--db", shop_db_url, "--port", std::to_string(shop_port),
                               "--payments-url", pay_url(), "--checkout-timeout", "5s"},
      dir.file("shop.log"));
  ASSERT_TRUE(wait_ready(*shop, shop_url() + "/products")) << tail(shop->log());
  const pid_t shop_pid = shop->pid(), pay_pid = payments->pid();

  // --- the load: every client runs checkouts until told to stop ---
  std::atomic<bool> stop_load{false};
  std::atomic<int> acknowledged{0};  // checkouts answered 200 so far
  std::mutex outcomes_mu;
  std::vector<Outcome> outcomes;
  std::vector<std::thread> workers;
  for (int c = 0; c < clients; ++c)
    workers.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(c) * 7919u + 17u);
      for (int i = 0; !stop_load; ++i) {
        Outcome o;
        o.key = "f" + std::to_string(c) + "-" + std::to_string(i);
        int a = std::uniform_int_distribution<int>(0, 9)(rng);
        o.action = a < 6 ? Action::Pay : a < 8 ? Action::Cancel : Action::Abandon;
        int product = std::uniform_int_distribution<int>(1, 2)(rng);
        int quantity = std::uniform_int_distribution<int>(1, 3)(rng);
        std::string body = json{{"items", {{{"product_id", product}, {"quantity", quantity}}}}}.dump();
        run_checkout(o, body);
        if (o.checkout == "ok") ++acknowledged;
        std::lock_guard lk(outcomes_mu);
        outcomes.push_back(std::move(o));
      }
    });

  // --- the failovers ---
  std::string first_primary = pair.primary_port();
  for (int f = 1; f <= failovers; ++f) {
    std::this_thread::sleep_for(load_between);
    const int before = acknowledged.load();
    const auto start = Clock::now();
    ASSERT_TRUE(keel::testing::FailoverPair::run("kill")) << "failover " << f;
    ASSERT_TRUE(keel::testing::FailoverPair::run("promote")) << "failover " << f;
    const auto promoted = Clock::now();
    ASSERT_TRUE(keel::testing::FailoverPair::run("rebuild")) << "failover " << f;
    const auto rebuilt = Clock::now();
    // Keel found the new primary by itself: new checkouts are acknowledged
    // again by the same two processes.
    const int after_rebuild = acknowledged.load();
    bool resumed = eventually([&] { return acknowledged.load() >= after_rebuild + clients; }, 60s);
    ASSERT_TRUE(resumed) << "no checkout acknowledged within 60 s of failover " << f;
    ASSERT_TRUE(shop->alive() && payments->alive()) << "an app exited during failover " << f;
    auto ms = [](auto a, auto b) { return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count(); };
    say("failover " + std::to_string(f) + "/" + std::to_string(failovers) + ": primary now :" + pair.primary_port() +
        "; kill+promote " + std::to_string(ms(start, promoted)) + " ms, rebuild " +
        std::to_string(ms(promoted, rebuilt)) + " ms, " + std::to_string(clients) +
        " more checkouts acknowledged " + std::to_string(ms(rebuilt, Clock::now())) + " ms later (" +
        std::to_string(after_rebuild - before) + " during the failover)");
  }
  EXPECT_EQ(failovers % 2 == 1, pair.primary_port() != first_primary) << "the primary did not move";
  std::this_thread::sleep_for(load_between);
  stop_load = true;
  for (auto& w : workers) w.join();
  const auto load_end = Clock::now();
  EXPECT_EQ(shop->pid(), shop_pid);
  EXPECT_EQ(payments->pid(), pay_pid);
  ASSERT_TRUE(shop->alive()) << "the shop exited: " << shop->describe_exit();
  ASSERT_TRUE(payments->alive()) << "the payment service exited: " << payments->describe_exit();

  // --- nothing stays stuck: the abandoned ones expire after 5 s ---
  std::vector<json> orders;
  bool settled = eventually(
      [&] {
        try {
          orders = pages(shop_url() + "/orders", "orders");
        } catch (const std::exception&) {
          return false;
        }
        for (const auto& o : orders)
          if (!terminal(o.at("status").get<std::string>())) return false;
        return true;
      },
      60s);
  if (!settled) {
    std::string stuck;
    for (const auto& o : orders)
      if (!terminal(o.at("status").get<std::string>())) stuck += "  " + o.dump() + "\n";
    ADD_FAILURE() << "orders not final 60 s after the load:\n" << stuck;
  }
  std::vector<json> shop_pending, pay_pending;
  bool drained = eventually(
      [&] {
        try {
          shop_pending = pending_workflows(shop_port + 1);
          pay_pending = pending_workflows(pay_port + 1);
        } catch (const std::exception&) {
          return false;
        }
        return shop_pending.empty() && pay_pending.empty();
      },
      60s);
  std::string list;
  for (const auto& w : shop_pending) list += "  shop: " + w.dump() + "\n";
  for (const auto& w : pay_pending) list += "  payments: " + w.dump() + "\n";
  EXPECT_TRUE(drained) << "workflows left PENDING:\n" << list;
  const auto settle_s = seconds_since(load_end);

  // --- the three rules ---
  keel::e2e::ShopSnapshot snap;
  snap.orders = pages(shop_url() + "/orders", "orders");
  for (int64_t p : {1, 2})
    for (const auto& pr : get_json(shop_url() + "/products"))
      if (pr.at("product_id") == p) snap.inventory[p] = pr.at("inventory").get<int64_t>();
  snap.charges = pages(pay_url() + "/api/charges", "charges");
  snap.sessions_per_order = keel::e2e::sessions_per_order(payments_db_url);
  auto by_id = keel::e2e::check_checkout_rules(snap, kSeedInventory, " (after failovers)");
  std::map<std::string, std::string> charge_of_session;
  for (const auto& c : snap.charges)
    charge_of_session[c.at("session_id").get<std::string>()] = c.at("charge_id").get<std::string>();

  // --- every acknowledged answer survived ---
  std::map<std::string, int> tally;
  for (const auto& o : outcomes) {
    SCOPED_TRACE("checkout " + o.key);
    EXPECT_EQ(o.checkout.rfind("unexpected", 0), std::string::npos) << o.checkout;
    EXPECT_NE(o.checkout, "gave_up") << "no definitive answer in 120 s";
    EXPECT_EQ(o.action_result.rfind("unexpected", 0), std::string::npos) << o.action_result;
    EXPECT_NE(o.action_result, "gave_up");
    std::string status = by_id.count(o.key) ? by_id[o.key].at("status").get<std::string>() : "missing";
    ++tally[o.checkout == "ok" ? status + (o.action_result.empty() ? "" : "/" + o.action_result) : o.checkout];
    if (o.checkout == "payment_unavailable") {
      EXPECT_EQ(status, "failed");
      continue;
    }
    if (o.checkout != "ok") continue;
    ASSERT_TRUE(by_id.count(o.key)) << "an acknowledged checkout is gone";
    EXPECT_EQ(by_id[o.key].value("session_id", ""), o.session_id) << "the acknowledged session is not the order's";
    if (o.action_result == "paid") {
      EXPECT_EQ(status, "fulfilled") << "an acknowledged payment " << o.charge_id;
      EXPECT_EQ(charge_of_session[o.session_id], o.charge_id) << "the acknowledged charge is gone";
    } else if (o.action_result == "cancelled" || o.action_result == "rejected" || o.action == Action::Abandon) {
      EXPECT_EQ(status, "cancelled");
    }
  }
  std::string figures;
  for (const auto& [s, n] : tally) figures += " " + s + "=" + std::to_string(n);
  say("done in " + std::to_string(seconds_since(t0)) + " s: " + std::to_string(failovers) + " failovers, " +
      std::to_string(outcomes.size()) + " checkouts (" + std::to_string(acknowledged.load()) +
      " acknowledged), " + std::to_string(snap.charges.size()) + " charges; settled in " + std::to_string(settle_s) +
      " s;" + figures);
}

}  // namespace
