// Crash torture test of the checkout (spec/http.md, "Rules the checkout keeps").
//
// Concurrent clients run checkouts, each with its own fixed idempotency key,
// and retry every request with the same key on connection errors and 5xx
// answers; per checkout they pay, cancel, abandon, or pay twice (sometimes
// with a second, concurrent click on the same key). Meanwhile a killer thread
// SIGKILLs the shop or the payment service at random instants and restarts it
// on the same port and database. After the storm both services are restarted,
// every order must reach a terminal status within a bounded wait, no workflow
// may be left PENDING, and the three rules are checked from outside: the
// charge ledger against the orders against the inventory.
//
// Everything the test decides (keys, bodies, actions, think times, the kill
// schedule) comes from one std::mt19937 seeded by KEEL_TORTURE_SEED, printed
// at the start and in every failure, so a run can be repeated:
//   KEEL_TORTURE_SEED=7 KEEL_TORTURE_CHECKOUTS=40 KEEL_TORTURE_KILLS=12
//   KEEL_TORTURE_CLIENTS=4 build/bin/shop_torture
// (thread interleavings are of course not reproducible, the plan is).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>

#include "checkout_client.hpp"
#include "checkout_rules.hpp"
#include "common/http_service.hpp"
#include "e2e_support.hpp"
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

#ifdef KEEL_TORTURE_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  try {
    return std::stoll(v);
  } catch (const std::exception&) {
    return fallback;
  }
}

enum class Action { Pay, Cancel, Abandon, PayTwice };
const char* to_string(Action a) {
  switch (a) {
    case Action::Pay: return "pay";
    case Action::Cancel: return "cancel";
    case Action::Abandon: return "abandon";
    case Action::PayTwice: return "pay-twice";
  }
  return "?";
}

// One planned checkout: all drawn from the seeded generator before the storm.
struct Plan {
  std::string key;
  std::string body;
  Action action;
  bool double_click;                     // a second, concurrent POST with the same key
  std::chrono::milliseconds think;       // before the checkout
  std::chrono::milliseconds act_delay;   // between the checkout's answer and the action
};

// What the client saw, to be checked against the final state.
struct Outcome {
  std::string session_id;
  std::string checkout;          // "ok", "payment_unavailable", "gave_up", "unexpected"
  std::string action_result;     // "paid", "cancelled", "rejected" (409), "gave_up", ""
  std::string charge_id;
  std::string note;
};

struct KillEvent {
  std::chrono::milliseconds gap;       // after the previous event
  bool shop;                           // else payments
  std::chrono::milliseconds downtime;  // before the restart
};

class ShopTorture : public ::testing::Test {
 protected:
  keel::testing::TempDir dir;
  // SQLite files, or PostgreSQL databases when KEEL_TEST_DATABASE_URL is set.
  const std::string shop_db_url = keel::testing::named_test_db_url(dir, "shop");
  const std::string payments_db_url = keel::testing::named_test_db_url(dir, "payments");
  const int pay_port = free_port(/*pair=*/true);
  const int shop_port = free_port(/*pair=*/true);
  std::unique_ptr<Process> payments;
  std::unique_ptr<Process> shop;
  HttpClient http{{.connect_timeout = 1000ms, .read_timeout = 30000ms, .write_timeout = 10000ms}};

  uint32_t seed = static_cast<uint32_t>(env_int("KEEL_TORTURE_SEED", 20240607));
  int checkouts = static_cast<int>(env_int("KEEL_TORTURE_CHECKOUTS", kSanitized ? 16 : 40));
  int kills = static_cast<int>(env_int("KEEL_TORTURE_KILLS", kSanitized ? 4 : 12));
  int clients = static_cast<int>(env_int("KEEL_TORTURE_CLIENTS", kSanitized ? 3 : 4));
  std::string checkout_timeout = "4s";

  std::atomic<int> shop_kills{0}, pay_kills{0};
  std::mutex log_mu;

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "---- torture seed " << seed << " failed; repeat with KEEL_TORTURE_SEED=" << seed
                << " KEEL_TORTURE_CHECKOUTS=" << checkouts << " KEEL_TORTURE_KILLS=" << kills
                << " KEEL_TORTURE_CLIENTS=" << clients << "\n";
      if (shop) std::cerr << "---- shop log (tail) ----\n" << tail(shop->log()) << "\n";
      if (payments) std::cerr << "---- payments log (tail) ----\n" << tail(payments->log()) << "\n";
      if (const char* keep = std::getenv("KEEL_TORTURE_KEEP_LOGS"); keep && *keep) {
        std::error_code ec;
        std::filesystem::copy(dir.path(), keep, std::filesystem::copy_options::recursive, ec);
        std::cerr << "logs and databases copied to " << keep << (ec ? " (failed: " + ec.message() + ")" : "") << "\n";
      }
    }
    shop.reset();
    payments.reset();
  }

  static std::string tail(const std::string& s, size_t n = 6000) { return s.size() > n ? s.substr(s.size() - n) : s; }
  void say(const std::string& line) {
    std::lock_guard lk(log_mu);
    std::cout << "[torture seed=" << seed << "] " << line << std::endl;
  }

  std::string pay_url() const { return "http://127.0.0.1:" + std::to_string(pay_port); }
  std::string shop_url() const { return "http://127.0.0.1:" + std::to_string(shop_port); }
  std::string shop_admin_url() const { return "http://127.0.0.1:" + std::to_string(shop_port + 1); }
  std::string pay_admin_url() const { return "http://127.0.0.1:" + std::to_string(pay_port + 1); }

  // Readiness; returns false (with the log) instead of asserting: used from the killer thread.
  bool wait_ready(Process& p, const std::string& url, std::chrono::milliseconds timeout = 30s) {
    bool ok = eventually(
        [&] {
          if (!p.alive()) return true;
          try {
            return http.get(url).status == 200;
          } catch (const std::exception&) {
            return false;
          }
        },
        timeout);
    return ok && p.alive();
  }

  bool start_payments() {
    payments = std::make_unique<Process>(
        std::vector<std::string>{PAYMENTS_BIN, "start", "--db", payments_db_url, "--port",
                                 std::to_string(pay_port), "--admin-port", std::to_string(pay_port + 1),
                                 "--webhook-max-backoff", "1s"},
        dir.file("payments.log"));
    return wait_ready(*payments, pay_url() + "/healthz");
  }
  bool start_shop() {
    shop = std::make_unique<Process>(
        std::vector<std::string>{SHOP_BIN, "start", "--db", shop_db_url, "--port",
                                 std::to_string(shop_port), "--payments-url", pay_url(), "--checkout-timeout",
                                 checkout_timeout},
        dir.file("shop.log"));
    return wait_ready(*shop, shop_url() + "/products");
  }

  // --- clients: retry with the same key until a definitive answer (checkout_client.hpp) ---

  std::optional<HttpClientResponse> checkout(const Plan& p) {
    return until_definitive(
        [&] {
          return http.request("POST", shop_url() + "/checkout/" + p.key, {{"Accept", "application/json"}}, p.body);
        },
        90s, "payment_unavailable");
  }
  std::optional<HttpClientResponse> pay_action(const std::string& action, const std::string& sid) {
    return until_definitive(
        [&] { return http.post_json(pay_url() + "/api/" + action, {}, json{{"session_id", sid}}.dump()); }, 60s);
  }

  void run_checkout(const Plan& p, Outcome& out) {
    std::this_thread::sleep_for(p.think);
    std::optional<HttpClientResponse> second;
    std::thread twin;
    if (p.double_click) twin = std::thread([&] { second = checkout(p); });
    auto r = checkout(p);
    if (twin.joinable()) twin.join();
    if (!r) {
      out.checkout = "gave_up";
      return;
    }
    if (r->status == 503) {
      out.checkout = "payment_unavailable";
      return;
    }
    if (r->status != 200) {
      out.checkout = "unexpected";
      out.note = "checkout " + std::to_string(r->status) + " " + r->body;
      return;
    }
    out.checkout = "ok";
    out.session_id = r->json().at("session_id").get<std::string>();
    if (second && second->status == 200 && second->json().value("session_id", "") != out.session_id)
      out.note = "double click got another session: " + second->body;
    else if (second && second->status != 200)
      out.note = "double click got " + std::to_string(second->status) + " " + second->body;

    // The same key again, after the answer: the same checkout.
    if (auto again = checkout(p); again && again->status == 200 &&
                                  again->json().value("session_id", "") != out.session_id)
      out.note += " retry got another session: " + again->body;

    std::this_thread::sleep_for(p.act_delay);
    if (p.action == Action::Abandon) return;
    const bool pay = p.action == Action::Pay || p.action == Action::PayTwice;
    auto a = pay_action(pay ? "submit_payment" : "cancel_payment", out.session_id);
    if (!a) {
      out.action_result = "gave_up";
      return;
    }
    if (a->status == 200) {
      out.action_result = pay ? "paid" : "cancelled";
      if (pay) out.charge_id = a->json().value("charge_id", "");
    } else if (a->status == 409) {
      out.action_result = "rejected";
      try {
        if (a->json().value("payment_status", "") == "paid") out.action_result = "rejected_paid";
      } catch (const std::exception&) {
      }
    } else {
      out.action_result = "unexpected " + std::to_string(a->status) + " " + a->body;
    }
    if (p.action == Action::PayTwice && out.action_result == "paid") {
      auto b = pay_action("submit_payment", out.session_id);
      if (b && b->status == 200 && b->json().value("charge_id", "") != out.charge_id)
        out.note += " second payment made another charge: " + b->body;
      else if (b && b->status != 200)
        out.note += " second payment got " + std::to_string(b->status) + " " + b->body;
    }
  }

  // --- reading state from outside -------------------------------------------

  std::vector<json> all_orders() { return keel::e2e::all_pages(http, shop_url() + "/orders", "orders"); }
  std::vector<json> charges() { return keel::e2e::all_pages(http, pay_url() + "/api/charges", "charges"); }
  int64_t inventory(int64_t product_id) {
    for (const auto& p : keel::e2e::get_json(http, shop_url() + "/products"))
      if (p.at("product_id") == product_id) return p.at("inventory").get<int64_t>();
    ADD_FAILURE() << "no product " << product_id;
    return -1;
  }
  std::vector<json> pending_workflows(const std::string& admin_url) {
    return keel::e2e::pending_workflows(http, admin_url);
  }
  static bool terminal(const std::string& s) { return keel::e2e::is_terminal_order(s); }

  // The three rules (checkout_rules.hpp) against both services' state;
  // returns the orders by ID.
  std::map<std::string, json> check_rules() {
    keel::e2e::ShopSnapshot snap;
    snap.orders = all_orders();
    for (int64_t p : {1, 2}) snap.inventory[p] = inventory(p);
    snap.charges = charges();
    snap.sessions_per_order = keel::e2e::sessions_per_order(payments_db_url);
    auto by_id = keel::e2e::check_checkout_rules(snap, kSeedInventory, " (seed " + std::to_string(seed) + ")");
    say("rules checked: " + std::to_string(snap.orders.size()) + " orders, " + std::to_string(snap.charges.size()) +
        " charges");
    return by_id;
  }
};

TEST_F(ShopTorture, CheckoutsSurviveRandomKillsOfBothServices) {
  ASSERT_GT(checkouts, 0);
  ASSERT_GT(clients, 0);
  say("seed " + std::to_string(seed) + ": " + std::to_string(checkouts) + " checkouts, " + std::to_string(kills) +
      " kills, " + std::to_string(clients) + " clients, checkout timeout " + checkout_timeout +
      (kSanitized ? " (sanitized build)" : "") + "; repeat with KEEL_TORTURE_SEED=" + std::to_string(seed));
  const auto t0 = Clock::now();

  // --- the plan, all from the seed ---
  std::mt19937 rng(seed);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<KillEvent> schedule;
  std::chrono::milliseconds storm{0};
  for (int i = 0; i < kills; ++i) {
    // Alternate-ish but random: each service gets about half the kills.
    bool kill_shop = (i % 2 == 0) == (uni(0, 3) != 0);
    KillEvent e{std::chrono::milliseconds(uni(800, 3500)), kill_shop, std::chrono::milliseconds(uni(0, 1500))};
    storm += e.gap + e.downtime;
    schedule.push_back(e);
  }
  // Spread the checkouts over the storm: mean think time per client.
  const int mean_think = static_cast<int>(storm.count() * clients / std::max(1, checkouts));
  std::vector<Plan> plans;
  for (int i = 0; i < checkouts; ++i) {
    Plan p;
    p.key = "t" + std::to_string(seed) + "-" + std::to_string(i);
    json items = json::array();
    int lines = uni(1, 2);
    for (int l = 0; l < lines; ++l) items.push_back({{"product_id", l == 0 ? uni(1, 2) : 3 - items[0].at("product_id").get<int>()},
                                                     {"quantity", uni(1, 5)}});
    p.body = json{{"items", items}}.dump();
    int a = uni(0, 99);
    p.action = a < 35 ? Action::Pay : a < 55 ? Action::Cancel : a < 80 ? Action::Abandon : Action::PayTwice;
    p.double_click = uni(0, 3) == 0;
    p.think = std::chrono::milliseconds(uni(0, 2 * mean_think));
    p.act_delay = std::chrono::milliseconds(uni(0, 3000));
    plans.push_back(std::move(p));
  }

  ASSERT_TRUE(start_payments()) << tail(payments->log());
  ASSERT_TRUE(start_shop()) << tail(shop->log());

  // --- the storm ---
  std::atomic<bool> killer_failed{false};
  std::string killer_error;
  std::thread killer([&] {
    for (size_t i = 0; i < schedule.size(); ++i) {
      const auto& e = schedule[i];
      std::this_thread::sleep_for(e.gap);
      auto& proc = e.shop ? shop : payments;
      proc->kill9();
      (e.shop ? shop_kills : pay_kills)++;
      std::this_thread::sleep_for(e.downtime);
      bool ok = e.shop ? start_shop() : start_payments();
      if (i % 10 == 9 || i + 1 == schedule.size())
        say("kill " + std::to_string(i + 1) + "/" + std::to_string(schedule.size()) + " (" +
            (e.shop ? "shop" : "payments") + ")");
      if (!ok) {
        killer_error = std::string(e.shop ? "shop" : "payments") + " did not restart after kill " +
                       std::to_string(i + 1) + ":\n" + tail(proc->log());
        killer_failed = true;
        return;
      }
    }
  });
  std::vector<Outcome> outcomes(plans.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int c = 0; c < clients; ++c)
    workers.emplace_back([&] {
      for (size_t i; (i = next++) < plans.size();) run_checkout(plans[i], outcomes[i]);
    });
  for (auto& w : workers) w.join();
  killer.join();
  ASSERT_FALSE(killer_failed) << killer_error;
  const auto storm_end = Clock::now();
  say("storm over after " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(storm_end - t0).count()) +
      " s: " + std::to_string(shop_kills) + " shop kills, " + std::to_string(pay_kills) + " payments kills");

  // --- settle: restart both, everything must reach an end ---
  shop->stop();
  payments->stop();
  ASSERT_TRUE(start_payments()) << tail(payments->log());
  ASSERT_TRUE(start_shop()) << tail(shop->log());

  std::vector<json> orders;
  bool settled = eventually(
      [&] {
        try {
          orders = all_orders();
        } catch (const std::exception&) {
          return false;
        }
        for (const auto& o : orders)
          if (!terminal(o.at("status").get<std::string>())) return false;
        return true;
      },
      120s);
  if (!settled) {
    std::string stuck;
    for (const auto& o : orders)
      if (!terminal(o.at("status").get<std::string>()))
        stuck += "  " + o.at("order_id").get<std::string>() + " " + o.at("status").get<std::string>() + "\n";
    ADD_FAILURE() << "orders stuck after 120 s (seed " << seed << "):\n" << stuck;
  }
  // No workflow left PENDING, in either service (webhook deliveries may need a
  // moment to drain once the shop is back).
  std::vector<json> shop_pending, pay_pending;
  bool drained = eventually(
      [&] {
        try {
          shop_pending = pending_workflows(shop_admin_url());
          pay_pending = pending_workflows(pay_admin_url());
        } catch (const std::exception&) {
          return false;
        }
        return shop_pending.empty() && pay_pending.empty();
      },
      60s);
  if (!drained) {
    std::string list;
    for (const auto& w : shop_pending) list += "  shop: " + w.dump() + "\n";
    for (const auto& w : pay_pending) list += "  payments: " + w.dump() + "\n";
    ADD_FAILURE() << "workflows left PENDING (seed " << seed << "):\n" << list;
  }

  // --- the rules, from outside ---
  auto by_id = check_rules();

  // --- and what each client saw agrees with the end state ---
  std::map<std::string, int> tally;
  for (size_t i = 0; i < plans.size(); ++i) {
    const auto& p = plans[i];
    const auto& o = outcomes[i];
    SCOPED_TRACE("checkout " + p.key + " (" + to_string(p.action) + ", seed " + std::to_string(seed) + ")");
    EXPECT_TRUE(o.note.empty()) << o.note;
    EXPECT_NE(o.checkout, "unexpected") << o.note;
    EXPECT_NE(o.checkout, "gave_up") << "the client never got a definitive answer";
    EXPECT_EQ(o.action_result.rfind("unexpected", 0), std::string::npos) << o.action_result;
    std::string status = by_id.count(p.key) ? by_id[p.key].at("status").get<std::string>() : "unknown";
    ++tally[status];
    if (o.checkout == "payment_unavailable") {
      EXPECT_EQ(status, "failed");
      continue;
    }
    if (o.checkout != "ok") continue;
    EXPECT_EQ(by_id[p.key].value("session_id", ""), o.session_id);
    if (o.action_result == "paid" || o.action_result == "rejected_paid") {
      EXPECT_EQ(status, "fulfilled") << "rule 1: the client was charged " << o.charge_id;
    } else if (o.action_result == "cancelled" || p.action == Action::Abandon) {
      EXPECT_EQ(status, "cancelled") << "never paid";
    } else if (o.action_result == "rejected") {
      EXPECT_EQ(status, "cancelled") << "payment refused (session expired or cancelled)";
    }
  }
  std::string figures;
  for (const auto& [s, n] : tally) figures += " " + s + "=" + std::to_string(n);
  say("done in " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t0).count()) +
      " s: " + std::to_string(checkouts) + " checkouts," + figures + "; " + std::to_string(shop_kills) +
      " shop kills, " + std::to_string(pay_kills) + " payments kills");
}

}  // namespace
