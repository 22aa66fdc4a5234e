// The checkout's reliability rules (spec/http.md), checked from outside
// against both services' state; shared by the end-to-end and torture tests.
//   1. every charged order is fulfilled (and charged its amount, on its session);
//   2. at most one payment session per order, at most one charge per session;
//   3. inventory + what held orders (reserving, awaiting_payment, fulfilled)
//      hold == the seeded inventory, for every product.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/sql_probe.hpp"

namespace keel::e2e {

struct ShopSnapshot {
  std::vector<nlohmann::json> orders;         // GET /orders, every page
  std::map<int64_t, int64_t> inventory;       // product -> GET /products inventory
  bool payments_known = true;                 // false: skip rules 1-2 (service down)
  std::vector<nlohmann::json> charges;        // GET /api/charges, every page
  std::map<std::string, int> sessions_per_order;
};

// Payment sessions per client_reference_id, read from the payment service's
// database (read-only): its API has no list of sessions.
inline std::map<std::string, int> sessions_per_order(const std::string& payments_db_url) {
  std::map<std::string, int> out;
  try {
    for (const auto& row : keel::testing::query_rows(
             payments_db_url, "SELECT client_reference_id, COUNT(*) FROM pay_sessions GROUP BY client_reference_id"))
      out[row.at(0)] = std::stoi(row.at(1));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot read pay_sessions: " << e.what();
  }
  return out;
}

// Checks the three rules (gtest failures carry `context`, e.g. the seed);
// returns the orders by ID.
inline std::map<std::string, nlohmann::json> check_checkout_rules(const ShopSnapshot& s, int64_t seed_inventory,
                                                                  const std::string& context = "") {
  std::map<std::string, nlohmann::json> by_id;
  std::map<int64_t, int64_t> held;
  for (const auto& o : s.orders) {
    by_id[o.at("order_id").get<std::string>()] = o;
    std::string st = o.at("status").get<std::string>();
    if (st == "reserving" || st == "awaiting_payment" || st == "fulfilled")
      for (const auto& i : o.at("items")) held[i.at("product_id").get<int64_t>()] += i.at("quantity").get<int64_t>();
  }
  for (const auto& [product, left] : s.inventory)
    EXPECT_EQ(left + held[product], seed_inventory) << "rule 3: inventory of product " << product << context;
  if (!s.payments_known) return by_id;
  std::map<std::string, int> charges_per_order;
  std::set<std::string> charged_sessions;
  for (const auto& c : s.charges) {
    std::string order_id = c.at("client_reference_id").get<std::string>();
    ++charges_per_order[order_id];
    EXPECT_TRUE(charged_sessions.insert(c.at("session_id").get<std::string>()).second)
        << "rule 2: two charges for session " << c.at("session_id") << context;
    auto it = by_id.find(order_id);
    if (it == by_id.end()) {
      ADD_FAILURE() << "a charge for an order the shop does not know: " << order_id << context;
      continue;
    }
    EXPECT_EQ(it->second.at("status"), "fulfilled") << "rule 1: charged order " << order_id << context;
    EXPECT_EQ(it->second.at("amount_cents"), c.at("amount_cents")) << order_id << context;
    EXPECT_EQ(it->second.value("session_id", nlohmann::json()), c.at("session_id"))
        << "charged session is not the order's: " << order_id << context;
  }
  for (const auto& [id, n] : charges_per_order) EXPECT_LE(n, 1) << "rule 2: charges of order " << id << context;
  for (const auto& [id, n] : s.sessions_per_order) EXPECT_LE(n, 1) << "rule 2: sessions of order " << id << context;
  return by_id;
}

}  // namespace keel::e2e
