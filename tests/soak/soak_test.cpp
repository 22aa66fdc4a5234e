// The soak (issue 18): the checkout at a steady rate for a long time (an hour
// by `make soak`) on PostgreSQL, through SIGKILLs of both services, with
// retention on; does anything grow without bound, does any checkout stay
// stuck?
//
// Four processes (soak_services.hpp): a steady and a victim shop, a steady
// and a victim payment service, on two databases. Each shop talks to the
// other kind of payment service (steady shop -> victim payments), so the
// steady shop lives through the payment service's kills too. Clients start
// checkouts at --rate per second, each at a random shop, and pay (60 %),
// cancel (20 %) or abandon (20 %, expired by the shop after
// --checkout-timeout) through a random payment service, retrying every
// request with the same idempotency key. Every --kill-every seconds a victim
// is SIGKILLed, shop and payments in turn; every other time it stays down
// longer than the lease (10 s), so the steady process takes its workflows
// over, else it recovers them itself at its restart.
//
// Every --sample-every seconds: each process's RSS, threads and descriptors
// (/proc), each database's size, Keel's share of it, its workflow rows and
// its connections (pg_stat_activity), into the CSV. At the end:
//   - the load stops; within --grace every order is final and no workflow is
//     PENDING (nothing stuck), the three rules hold (checkout_rules.hpp), and
//     every acknowledged payment is a fulfilled order;
//   - the growth test (slope.hpp) over each judged series; with --verdicts
//     enforce (the default) a growing series fails the run, with report the
//     table only says so (the short run of `make test`, too short for a
//     warm-up to be over).
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "checkout_client.hpp"
#include "checkout_rules.hpp"
#include "e2e_support.hpp"
#include "keel/config.hpp"
#include "pg_metrics.hpp"
#include "proc_metrics.hpp"
#include "sample_table.hpp"
#include "soak_cluster.hpp"
#include "soak_options.hpp"
#include "soak_services.hpp"
#include "support/temp_dir.hpp"
#include "support/test_databases.hpp"
#include "sysdb/postgres/connection_budget.hpp"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using keel::soak::Column;
using keel::soak::Service;
using Clock = std::chrono::steady_clock;

constexpr int64_t kSeedInventory = 100000;  // what the shop seeds per product
// A victim down this long outlives its lease (RuntimeConfig::lease_timeout,
// 10 s): a steady process takes its workflows over. The short downtime ends
// before, and the victim recovers its own workflows at its restart.
constexpr auto kLongDowntime = 15s;
constexpr auto kShortDowntime = 1s;
constexpr auto kStartTimeout = 60s;
constexpr auto kRequestBudget = 120s;  // a client's retries of one request

enum class Action { Pay, Cancel, Abandon };

// What one client saw of one checkout.
struct Outcome {
  std::string key;
  Action action = Action::Abandon;
  std::string checkout;       // "ok", "payment_unavailable", "gave_up", "unexpected ..."
  std::string session_id;     // of an acknowledged (200) checkout
  std::string action_result;  // "paid", "cancelled", "rejected", "gave_up", "unexpected ..."
  std::string charge_id;
};

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

class Soak : public ::testing::Test {
 protected:
  const keel::soak::Options& opt = keel::soak::current_options();
  keel::soak::SoakCluster cluster{opt.pg_port ? opt.pg_port : KEEL_SOAK_PG_PORT};
  keel::testing::TempDir dir;
  const std::string log_dir = opt.log_dir.empty() ? dir.path().string() : opt.log_dir;
  const std::string shop_db = keel::testing::named_test_db_url(dir, "shop");
  const std::string pay_db = keel::testing::named_test_db_url(dir, "payments");
  keel::apps::HttpClient http{{.connect_timeout = 1000ms, .read_timeout = 60000ms, .write_timeout = 10000ms}};
  std::unique_ptr<Service> pay_steady, pay_victim, shop_steady, shop_victim;
  std::mutex log_mu;

  void SetUp() override {
    std::filesystem::create_directories(log_dir);
    const int ps = keel::e2e::free_port(true), pv = keel::e2e::free_port(true);
    const int ss = keel::e2e::free_port(true), sv = keel::e2e::free_port(true);
    pay_steady = payments("pay_steady", "payments-1-steady", ps);
    pay_victim = payments("pay_victim", "payments-2-victim", pv);
    shop_steady = shop("shop_steady", "shop-1-steady", ss, pay_victim->url());
    shop_victim = shop("shop_victim", "shop-2-victim", sv, pay_steady->url());
  }
  void TearDown() override {
    if (HasFailure())
      for (Service* s : all())
        std::cerr << "---- " << s->name() << " log (tail) ----\n" << s->log_tail() << "\n";
    for (Service* s : all()) s->stop();
  }

  std::vector<Service*> all() { return {shop_steady.get(), shop_victim.get(), pay_steady.get(), pay_victim.get()}; }
  std::string seconds_flag(int s) const { return std::to_string(s) + "s"; }

  // Each service's executor ID and database URL, by its name.
  struct Identity {
    std::string executor_id;
    std::string db;
  };
  std::map<std::string, Identity> identity;

  std::unique_ptr<Service> payments(const std::string& name, const std::string& executor, int port) {
    identity[name] = {executor, pay_db};
    std::vector<std::string> argv{PAYMENTS_BIN, "start", "--db", pay_db, "--port", std::to_string(port),
                                  "--admin-port", std::to_string(port + 1), "--webhook-max-backoff", "1s",
                                  "--executor-id", executor, "--retention", seconds_flag(opt.retention),
                                  "--retention-interval", seconds_flag(opt.retention_interval)};
    return std::make_unique<Service>(name, argv, log_dir + "/" + name + ".log", port, "/healthz");
  }
  std::unique_ptr<Service> shop(const std::string& name, const std::string& executor, int port,
                                const std::string& payments_url) {
    identity[name] = {executor, shop_db};
    std::vector<std::string> argv{SHOP_BIN, "start", "--db", shop_db, "--port", std::to_string(port),
                                  "--payments-url", payments_url, "--checkout-timeout",
                                  seconds_flag(opt.checkout_timeout), "--executor-id", executor, "--retention",
                                  seconds_flag(opt.retention), "--retention-interval",
                                  seconds_flag(opt.retention_interval)};
    return std::make_unique<Service>(name, argv, log_dir + "/" + name + ".log", port, "/products");
  }

  void say(const std::string& line) {
    std::lock_guard lk(log_mu);
    std::cout << "[soak] " << line << std::endl;
  }

  // The series, their units and what counts as growth. Memory: 20 % of the
  // level per run length, at least 8 MB (allocator noise); counts: 25 %, at
  // least a few; Keel's tables: 25 %, at least 4 MB / 500 workflows. A
  // process's connections (by its application_name) never above the bound
  // docs/postgres.md promises; a database's total mixes the steady process
  // with the victim's pool, which warms up again after every kill.
  std::vector<Column> columns() {
    std::vector<Column> c;
    // The apps keep the default writer count.
    const double bound =
        keel::sysdb::postgres::max_connections_per_process(keel::RuntimeConfig{}.postgres_writer_connections);
    for (Service* s : all()) {
      const bool steady = s->name().find("steady") != std::string::npos;
      const std::string why = "restarted at every kill (per-life values)";
      c.push_back({s->name() + "_rss_kb", steady, {0.20, 8192}, steady ? "" : why, "kB"});
      c.push_back({s->name() + "_threads", steady, {0.25, 4}, steady ? "" : why, ""});
      c.push_back({s->name() + "_fds", steady, {0.25, 8}, steady ? "" : why, ""});
      c.push_back({s->name() + "_pg_conns", steady, {0.25, 4}, steady ? "" : why, "", bound});
    }
    for (const char* db : {"shop", "pay"}) {
      const std::string d = db;
      c.push_back({d + "_connections", false, {}, "the steady and the victim's: judged per process", ""});
      // Backends no live service names: a killed victim's, until the server
      // notices its client is gone; they must not pile up.
      c.push_back({d + "_unowned_conns", true, {0.25, 4}, "", ""});
      c.push_back({d + "_keel_bytes", true, {0.25, 4 << 20}, "", "B"});
      c.push_back({d + "_workflows", true, {0.25, 500}, "", ""});
      c.push_back({d + "_db_bytes", false, {}, "includes the app's orders, sessions, charges: grow by design", "B"});
    }
    for (const char* counter : {"checkouts_started", "checkouts_acknowledged", "kills"})
      c.push_back({counter, false, {}, "a counter", ""});
    return c;
  }

  std::map<std::string, std::optional<double>> sample() {
    std::map<std::string, std::optional<double>> v;
    for (Service* s : all())
      if (auto p = keel::soak::sample_process(s->pid())) {
        v[s->name() + "_rss_kb"] = p->rss_kb;
        v[s->name() + "_threads"] = p->threads;
        v[s->name() + "_fds"] = p->fds;
      }
    for (const auto& [prefix, url] : {std::pair{"shop", shop_db}, std::pair{"pay", pay_db}}) {
      auto by_app = keel::soak::connections_by_application(url);
      if (!by_app) continue;
      double total = 0, owned = 0;
      for (const auto& [app, n] : *by_app) total += n;
      for (Service* s : all()) {
        const Identity& who = identity.at(s->name());
        if (who.db != url || s->pid() == 0) continue;  // down: an empty cell, not a zero
        const double mine = keel::soak::connections_of(*by_app, who.executor_id);
        v[s->name() + "_pg_conns"] = mine;
        owned += mine;
      }
      v[std::string(prefix) + "_unowned_conns"] = total - owned;
    }
    for (const auto& [name, url] : {std::pair{"shop", shop_db}, std::pair{"pay", pay_db}})
      if (auto d = keel::soak::sample_database(url)) {
        v[std::string(name) + "_connections"] = d->connections;
        v[std::string(name) + "_keel_bytes"] = d->keel_bytes;
        v[std::string(name) + "_workflows"] = d->workflows;
        v[std::string(name) + "_db_bytes"] = d->db_bytes;
      }
    v["checkouts_started"] = started;
    v["checkouts_acknowledged"] = acknowledged;
    v["kills"] = shop_kills + pay_kills;
    return v;
  }

  // One checkout, as a customer with a retrying browser would do it.
  void run_checkout(Outcome& o, const std::string& body, const Service& at_shop, const Service& at_payments) {
    auto r = keel::e2e::until_definitive(
        [&] {
          return http.request("POST", at_shop.url() + "/checkout/" + o.key, {{"Accept", "application/json"}}, body);
        },
        kRequestBudget, "payment_unavailable");
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
    auto a = keel::e2e::until_definitive(
        [&] {
          return http.post_json(at_payments.url() + (pay ? "/api/submit_payment" : "/api/cancel_payment"), {},
                                json{{"session_id", o.session_id}}.dump());
        },
        kRequestBudget);
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

  // Every order final and no workflow PENDING in either database, within
  // the grace; a failure lists what is stuck.
  void expect_nothing_stuck(Clock::time_point deadline) {
    std::vector<json> orders, shop_pending, pay_pending;
    auto left = [&] { return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()); };
    bool settled = keel::e2e::eventually(
        [&] {
          try {
            orders = keel::e2e::all_pages(http, shop_steady->url() + "/orders", "orders");
          } catch (const std::exception&) {
            return false;
          }
          for (const auto& o : orders)
            if (!keel::e2e::is_terminal_order(o.at("status").get<std::string>())) return false;
          return true;
        },
        std::max(left(), 0ms));
    std::string stuck;
    for (const auto& o : orders)
      if (!keel::e2e::is_terminal_order(o.at("status").get<std::string>())) stuck += "  " + o.dump() + "\n";
    EXPECT_TRUE(settled) << "orders not final " << opt.grace << " s after the load:\n" << stuck;
    bool drained = keel::e2e::eventually(
        [&] {
          try {
            shop_pending = keel::e2e::pending_workflows(http, shop_steady->admin_url());
            pay_pending = keel::e2e::pending_workflows(http, pay_steady->admin_url());
          } catch (const std::exception&) {
            return false;
          }
          return shop_pending.empty() && pay_pending.empty();
        },
        std::max(left(), 1000ms));
    std::string list;
    for (const auto& w : shop_pending) list += "  shop: " + w.dump() + "\n";
    for (const auto& w : pay_pending) list += "  payments: " + w.dump() + "\n";
    EXPECT_TRUE(drained) << "workflows still PENDING " << opt.grace << " s after the load:\n" << list;
  }

  // A counter of a steady process's GET /metrics (admin server), summed over
  // its labels; -1 when it cannot be read.
  double metric(const Service& s, const std::string& name) {
    try {
      auto r = http.get(s.admin_url() + "/metrics");
      if (r.status != 200) return -1;
      std::istringstream lines(r.body);
      double sum = 0;
      for (std::string line; std::getline(lines, line);)
        if (line.rfind(name, 0) == 0 && (line[name.size()] == ' ' || line[name.size()] == '{'))
          sum += std::stod(line.substr(line.rfind(' ') + 1));
      return sum;
    } catch (const std::exception&) {
      return -1;
    }
  }

  // The steady processes took over a victim that stayed down past its lease
  // (the first kill of each is one): the takeover path ran in them.
  void expect_takeovers() {
    for (auto [steady, kills] : {std::pair{shop_steady.get(), shop_kills.load()}, std::pair{pay_steady.get(), pay_kills.load()}}) {
      const double takeovers = metric(*steady, "keel_executor_takeovers_total");
      const double recovered = metric(*steady, "keel_workflow_recoveries_total");
      say(steady->name() + ": " + std::to_string(static_cast<int>(takeovers)) + " takeover(s), " +
          std::to_string(static_cast<int>(recovered)) + " workflow(s) recovered");
      if (kills >= 1) {
        EXPECT_GE(takeovers, 1) << steady->name() << " never took its victim over";
      }
    }
  }

  // The three rules, and every acknowledged answer kept; returns a tally.
  std::string expect_rules() {
    keel::e2e::ShopSnapshot snap;
    snap.orders = keel::e2e::all_pages(http, shop_steady->url() + "/orders", "orders");
    for (const auto& p : keel::e2e::get_json(http, shop_steady->url() + "/products"))
      snap.inventory[p.at("product_id").get<int64_t>()] = p.at("inventory").get<int64_t>();
    snap.charges = keel::e2e::all_pages(http, pay_steady->url() + "/api/charges", "charges");
    snap.sessions_per_order = keel::e2e::sessions_per_order(pay_db);
    auto by_id = keel::e2e::check_checkout_rules(snap, kSeedInventory, " (soak)");
    std::map<std::string, int> tally;
    for (const auto& o : outcomes) {
      SCOPED_TRACE("checkout " + o.key);
      EXPECT_EQ(o.checkout.rfind("unexpected", 0), std::string::npos) << o.checkout;
      EXPECT_NE(o.checkout, "gave_up") << "no definitive answer within the client's budget";
      EXPECT_EQ(o.action_result.rfind("unexpected", 0), std::string::npos) << o.action_result;
      EXPECT_NE(o.action_result, "gave_up");
      const std::string status = by_id.count(o.key) ? by_id[o.key].at("status").get<std::string>() : "missing";
      ++tally[o.checkout == "ok" ? status : o.checkout];
      if (o.checkout == "payment_unavailable") {
        EXPECT_EQ(status, "failed");
      }
      if (o.checkout != "ok") continue;
      EXPECT_EQ(by_id[o.key].value("session_id", ""), o.session_id) << "the acknowledged session is not the order's";
      if (o.action_result == "paid") {
        EXPECT_EQ(status, "fulfilled") << "an acknowledged payment " << o.charge_id;
      } else if (o.action_result == "cancelled" || o.action_result == "rejected" || o.action == Action::Abandon) {
        EXPECT_EQ(status, "cancelled");
      }
    }
    std::string figures;
    for (const auto& [s, n] : tally) figures += " " + s + "=" + std::to_string(n);
    return figures;
  }
  // --- the run: load, kills and samples, each on its own thread ---
  Clock::time_point t0, load_end;
  std::atomic<int> started{0}, acknowledged{0}, shop_kills{0}, pay_kills{0};
  std::atomic<bool> killer_failed{false};
  std::string killer_error;  // written by the killer before killer_failed
  std::atomic<int64_t> next_checkout{0};
  std::mutex outcomes_mu;
  std::vector<Outcome> outcomes;

  // One client: checkout i is due at t0 + i / rate, whichever client is free.
  void client_loop(int c) {
    std::mt19937 rng(static_cast<unsigned>(c) * 7919u + 17u);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    for (;;) {
      const int64_t i = next_checkout++;
      const auto due = t0 + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(static_cast<double>(i) / opt.rate));
      if (due >= load_end || killer_failed) return;
      std::this_thread::sleep_until(due);
      Outcome o;
      o.key = "soak-" + std::to_string(i);
      const int a = pick(0, 9);
      o.action = a < 6 ? Action::Pay : a < 8 ? Action::Cancel : Action::Abandon;
      const std::string body = json{{"items", {{{"product_id", pick(1, 2)}, {"quantity", pick(1, 3)}}}}}.dump();
      ++started;
      run_checkout(o, body, pick(0, 1) ? *shop_steady : *shop_victim, pick(0, 1) ? *pay_steady : *pay_victim);
      if (o.checkout == "ok") ++acknowledged;
      std::lock_guard lk(outcomes_mu);
      outcomes.push_back(std::move(o));
    }
  }

  // Kill k at k * kill_every: odd ones the shop, even ones the payment
  // service; kills 1-2, 5-6, 9-10... keep the victim down past its lease.
  void killer_loop() {
    for (int k = 1;; ++k) {
      const auto at = t0 + std::chrono::seconds(static_cast<int64_t>(k) * opt.kill_every);
      if (at >= load_end) return;
      std::this_thread::sleep_until(at);
      const bool is_shop = k % 2 == 1;
      const bool past_lease = ((k - 1) / 2) % 2 == 0;
      Service& victim = is_shop ? *shop_victim : *pay_victim;
      victim.kill9();
      ++(is_shop ? shop_kills : pay_kills);
      std::this_thread::sleep_for(past_lease ? kLongDowntime : kShortDowntime);
      if (!victim.start(http, kStartTimeout)) {
        killer_error = victim.name() + " did not restart after kill " + std::to_string(k) + ":\n" + victim.log_tail();
        killer_failed = true;
        return;
      }
      say("kill " + std::to_string(k) + " at " + std::to_string(static_cast<int>(seconds_between(t0, at))) +
          " s: " + victim.name() + (past_lease ? ", down past its lease" : ", restarted at once") + "; " +
          std::to_string(acknowledged.load()) + " checkouts acknowledged so far");
    }
  }

  // A sample every sample_every seconds until the load ends.
  void sample_loop(keel::soak::SampleTable& table) {
    for (int n = 0;; ++n) {
      const auto at = t0 + std::chrono::seconds(static_cast<int64_t>(n) * opt.sample_every);
      if (at > load_end || killer_failed) return;
      std::this_thread::sleep_until(at);
      table.add(seconds_between(t0, Clock::now()), sample());
    }
  }
};

TEST_F(Soak, CheckoutAtASteadyRateThroughKillsWithRetention) {
  say(std::to_string(opt.seconds) + " s at " + std::to_string(opt.rate) + " checkouts/s from " +
      std::to_string(opt.clients) + " clients; a kill every " + std::to_string(opt.kill_every) + " s; samples every " +
      std::to_string(opt.sample_every) + " s to " + opt.csv + "; retention " + std::to_string(opt.retention) +
      " s (every " + std::to_string(opt.retention_interval) + " s); PostgreSQL " + cluster.url() +
      (cluster.owned() ? " (started here)" : "") + "; logs in " + log_dir);
  for (Service* s : {pay_steady.get(), pay_victim.get(), shop_steady.get(), shop_victim.get()})
    ASSERT_TRUE(s->start(http, kStartTimeout)) << s->name() << " did not start:\n" << s->log_tail();
  keel::soak::SampleTable table(columns(), opt.csv);

  t0 = Clock::now();
  load_end = t0 + std::chrono::seconds(opt.seconds);
  std::vector<std::thread> clients;
  for (int c = 0; c < opt.clients; ++c) clients.emplace_back([this, c] { client_loop(c); });
  std::thread killer([this] { killer_loop(); });
  sample_loop(table);
  killer.join();
  for (auto& c : clients) c.join();
  ASSERT_FALSE(killer_failed) << killer_error;
  const auto load_over = Clock::now();
  say("load over after " + std::to_string(static_cast<int>(seconds_between(t0, load_over))) + " s: " +
      std::to_string(started.load()) + " checkouts started (" +
      std::to_string(static_cast<double>(started.load()) / opt.seconds) + "/s), " +
      std::to_string(acknowledged.load()) + " acknowledged; " + std::to_string(shop_kills.load()) + " shop kills, " +
      std::to_string(pay_kills.load()) + " payments kills; " + std::to_string(table.rows()) + " samples");

  if (opt.seconds >= 2 * opt.kill_every) {
    EXPECT_GE(shop_kills.load(), 1);
    EXPECT_GE(pay_kills.load(), 1);
  }
  for (Service* s : all()) ASSERT_TRUE(s->alive()) << s->name() << " is not running: " << s->log_tail();

  expect_takeovers();

  // --- nothing stuck, the rules ---
  expect_nothing_stuck(load_over + std::chrono::seconds(opt.grace));
  say("settled " + std::to_string(static_cast<int>(seconds_between(load_over, Clock::now()))) +
      " s after the load");
  const std::string figures = expect_rules();
  say("orders:" + figures);

  // --- growth ---
  std::cout << table.summary() << std::flush;
  const auto growing = table.growing();
  std::string names;
  for (const auto& g : growing) names += " " + g;
  const auto above = table.above_ceiling();
  std::string above_names;
  for (const auto& a : above) above_names += " " + a;
  EXPECT_TRUE(above.empty()) << "above their bound:" << above_names << " (curves in " << opt.csv << ")";
  if (opt.enforce_verdicts)
    EXPECT_TRUE(growing.empty()) << "growing without bound:" << names << " (curves in " << opt.csv << ")";
  else
    say(growing.empty() ? "no series grows (verdicts reported only)"
                        : "growing (reported only, --verdicts report):" + names);
}

}  // namespace
