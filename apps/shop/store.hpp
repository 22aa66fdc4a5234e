// shop/store.hpp — the shop's own tables and every SQL statement on them.
//
// Tables (in the same database as Keel's system tables, so that a workflow
// transaction commits its SQL and its checkpoint together):
//   shop_schema_version(version)
//   shop_products(product_id, name, price_cents, inventory)
//   shop_orders(seq, order_id = workflow id, status, items (JSON text),
//               amount_cents, session_id, failure, created_at, updated_at)
//
// Contract:
//  * Every function takes the keel::Sql of the caller's transaction and does
//    all its work through it; none commits on its own.
//  * The inventory of a product never goes below 0 (CHECK constraint and the
//    guarded UPDATE in reserve()).
//  * Status changes are guarded by the current status, so that applying one
//    twice is a no-op (the workflow's transactions are exactly-once anyway;
//    the guards are a second line).
//  * Inventory is held exactly by orders in reserving / awaiting_payment /
//    fulfilled: reserve() takes it together with inserting the order row,
//    release() gives it back together with the move to cancelled / failed.
// Thread-safety: stateless functions; a Sql belongs to one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "keel/sql.hpp"

namespace keel::apps::shop {

// Registered with keel::register_error_type, so that a recorded failure of
// the reserve transaction rethrows as the same type on replay.
class OutOfStock : public std::runtime_error {
 public:
  explicit OutOfStock(const std::string& message) : std::runtime_error(message) {}
};
class UnknownProduct : public std::runtime_error {
 public:
  explicit UnknownProduct(const std::string& message) : std::runtime_error(message) {}
};

struct LineItem {
  int64_t product_id = 0;
  int64_t quantity = 0;
  bool operator==(const LineItem&) const = default;
};

// The checkout workflow's input: the normalized request.
struct CheckoutRequest {
  std::vector<LineItem> items;
  bool operator==(const CheckoutRequest&) const = default;
};

struct PricedItem {
  int64_t product_id = 0;
  int64_t quantity = 0;
  int64_t price_cents = 0;
  std::string name;  // for the payment session's descriptions; not stored with the order
};

struct Reservation {
  std::vector<PricedItem> items;
  int64_t amount_cents = 0;
};

struct Product {
  int64_t product_id = 0;
  std::string name;
  int64_t price_cents = 0;
  int64_t inventory = 0;
};

struct Order {
  int64_t seq = 0;
  std::string order_id;
  std::string status;
  nlohmann::json items;  // [{product_id, quantity, price_cents}]
  int64_t amount_cents = 0;
  std::optional<std::string> session_id;
  std::optional<std::string> failure;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

void to_json(nlohmann::json& j, const LineItem& v);
void from_json(const nlohmann::json& j, LineItem& v);
void to_json(nlohmann::json& j, const CheckoutRequest& v);
void from_json(const nlohmann::json& j, CheckoutRequest& v);
void to_json(nlohmann::json& j, const PricedItem& v);
void from_json(const nlohmann::json& j, PricedItem& v);
void to_json(nlohmann::json& j, const Reservation& v);
void from_json(const nlohmann::json& j, Reservation& v);

// The order as GET /orders/:id shows it.
nlohmann::json order_json(const Order& o);
nlohmann::json product_json(const Product& p);
// ISO 8601 UTC with milliseconds, e.g. 2024-05-01T12:00:00.123Z.
std::string iso8601(int64_t epoch_ms);

inline constexpr const char* kStatusReserving = "reserving";
inline constexpr const char* kStatusAwaitingPayment = "awaiting_payment";
inline constexpr const char* kStatusFulfilled = "fulfilled";
inline constexpr const char* kStatusCancelled = "cancelled";
inline constexpr const char* kStatusFailed = "failed";
bool is_order_status(const std::string& s);

namespace store {

// Creates or upgrades the shop's tables and seeds the catalogue (idempotent).
void migrate(Sql& sql);

// Takes the inventory of every line and inserts the order row (reserving).
// Throws OutOfStock / UnknownProduct, leaving the rollback to the caller's
// transaction (Keel rolls back the body's writes when it throws).
Reservation reserve(Sql& sql, const std::string& order_id, const CheckoutRequest& request, int64_t now_ms);

// An order refused before anything was reserved: recorded as failed, holding
// nothing. Does nothing when the order row exists.
void record_refused(Sql& sql, const std::string& order_id, const CheckoutRequest& request,
                    const std::string& failure, int64_t now_ms);

// reserving -> awaiting_payment with its session id. False when not reserving.
bool mark_awaiting_payment(Sql& sql, const std::string& order_id, const std::string& session_id, int64_t now_ms);

// reserving | awaiting_payment -> fulfilled. False otherwise.
bool fulfil(Sql& sql, const std::string& order_id, int64_t now_ms);

// reserving | awaiting_payment -> final_status (cancelled or failed), giving
// back every line's inventory in the same transaction. False otherwise.
bool release(Sql& sql, const std::string& order_id, const std::string& final_status, const std::string& failure,
             int64_t now_ms);

std::optional<Order> get_order(Sql& sql, const std::string& order_id);
// Orders by creation (seq), after the cursor seq, at most limit.
std::vector<Order> list_orders(Sql& sql, const std::optional<std::string>& status, int64_t after_seq, int limit);
std::vector<Product> list_products(Sql& sql);
std::optional<Product> get_product(Sql& sql, int64_t product_id);

}  // namespace store
}  // namespace keel::apps::shop
