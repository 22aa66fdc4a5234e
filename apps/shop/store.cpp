#include "shop/store.hpp"

#include <ctime>

#include "common/app_locks.hpp"

namespace keel::apps::shop {

using nlohmann::json;

void to_json(json& j, const LineItem& v) { j = json{{"product_id", v.product_id}, {"quantity", v.quantity}}; }
void from_json(const json& j, LineItem& v) {
  v.product_id = j.at("product_id").get<int64_t>();
  v.quantity = j.at("quantity").get<int64_t>();
}
void to_json(json& j, const CheckoutRequest& v) { j = json{{"items", v.items}}; }
void from_json(const json& j, CheckoutRequest& v) { v.items = j.at("items").get<std::vector<LineItem>>(); }
void to_json(json& j, const PricedItem& v) {
  j = json{{"product_id", v.product_id}, {"quantity", v.quantity}, {"price_cents", v.price_cents}, {"name", v.name}};
}
void from_json(const json& j, PricedItem& v) {
  v.product_id = j.at("product_id").get<int64_t>();
  v.quantity = j.at("quantity").get<int64_t>();
  v.price_cents = j.at("price_cents").get<int64_t>();
  v.name = j.value("name", std::string());
}
void to_json(json& j, const Reservation& v) { j = json{{"items", v.items}, {"amount_cents", v.amount_cents}}; }
void from_json(const json& j, Reservation& v) {
  v.items = j.at("items").get<std::vector<PricedItem>>();
  v.amount_cents = j.at("amount_cents").get<int64_t>();
}

std::string iso8601(int64_t epoch_ms) {
  std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(epoch_ms % 1000));
  return buf;
}

json order_json(const Order& o) {
  json j{{"order_id", o.order_id},
         {"status", o.status},
         {"items", o.items},
         {"amount_cents", o.amount_cents},
         {"session_id", o.session_id ? json(*o.session_id) : json(nullptr)},
         {"created_at", iso8601(o.created_at_ms)},
         {"updated_at", iso8601(o.updated_at_ms)}};
  if (o.failure) j["failure"] = *o.failure;
  return j;
}

json product_json(const Product& p) {
  return json{{"product_id", p.product_id}, {"name", p.name}, {"price_cents", p.price_cents}, {"inventory", p.inventory}};
}

bool is_order_status(const std::string& s) {
  return s == kStatusReserving || s == kStatusAwaitingPayment || s == kStatusFulfilled || s == kStatusCancelled ||
         s == kStatusFailed;
}

namespace store {

namespace {

constexpr const char* kStatusCheck =
    "CHECK (status IN ('reserving', 'awaiting_payment', 'fulfilled', 'cancelled', 'failed'))";

std::vector<std::string> migrations(std::string_view dialect) {
  const bool pg = dialect == "postgresql";
  const std::string big = pg ? "BIGINT" : "INTEGER";
  const std::string seq = pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
  return {
      // 1: catalogue and orders.
      "CREATE TABLE IF NOT EXISTS shop_products ("
      " product_id " + big + " PRIMARY KEY,"
      " name TEXT NOT NULL,"
      " price_cents " + big + " NOT NULL CHECK (price_cents >= 0),"
      " inventory " + big + " NOT NULL CHECK (inventory >= 0));"
      "CREATE TABLE IF NOT EXISTS shop_orders ("
      " seq " + seq + ","
      " order_id TEXT NOT NULL UNIQUE,"
      " status TEXT NOT NULL " + kStatusCheck + ","
      " items TEXT NOT NULL,"
      " amount_cents " + big + " NOT NULL,"
      " session_id TEXT,"
      " failure TEXT,"
      " created_at " + big + " NOT NULL,"
      " updated_at " + big + " NOT NULL);"
      "CREATE INDEX IF NOT EXISTS shop_orders_by_status ON shop_orders (status, seq);",
  };
}

Order read_order(const SqlRow& r) {
  Order o;
  o.seq = r.get_int(0);
  o.order_id = r.get_string(1);
  o.status = r.get_string(2);
  o.items = json::parse(r.get_string(3));
  o.amount_cents = r.get_int(4);
  if (!r.is_null(5)) o.session_id = r.get_string(5);
  if (!r.is_null(6)) o.failure = r.get_string(6);
  o.created_at_ms = r.get_int(7);
  o.updated_at_ms = r.get_int(8);
  return o;
}

constexpr const char* kOrderColumns =
    "SELECT seq, order_id, status, items, amount_cents, session_id, failure, created_at, updated_at FROM shop_orders ";

json stored_items(const std::vector<PricedItem>& items) {
  json out = json::array();
  for (const auto& i : items)
    out.push_back({{"product_id", i.product_id}, {"quantity", i.quantity}, {"price_cents", i.price_cents}});
  return out;
}

}  // namespace

void migrate(Sql& sql) {
  keel::apps::lock_app_migrations(sql, "shop");
  sql.execute_script("CREATE TABLE IF NOT EXISTS shop_schema_version (version INTEGER NOT NULL)");
  auto row = sql.query_one("SELECT version FROM shop_schema_version");
  int64_t version = row ? row->get_int(0) : 0;
  auto all = migrations(sql.dialect());
  auto known = static_cast<int64_t>(all.size());
  if (version > known)
    throw keel::IncompatibleDatabaseError("the shop's tables have schema version " + std::to_string(version) +
                                          ", newer than this build understands (" + std::to_string(known) + ")");
  for (int64_t v = version; v < known; ++v) sql.execute_script(all[static_cast<size_t>(v)]);
  if (!row) {
    sql.execute("INSERT INTO shop_schema_version (version) VALUES ($1)", {known});
  } else if (version < known) {
    sql.execute("UPDATE shop_schema_version SET version = $1", {known});
  }
  // The catalogue of the tutorial; existing rows (and their inventory) stay.
  sql.execute(
      "INSERT INTO shop_products (product_id, name, price_cents, inventory) VALUES "
      "(1, 'Pen', 9999, 100000), (2, 'Pencil', 8999, 100000) ON CONFLICT (product_id) DO NOTHING");
}

Reservation reserve(Sql& sql, const std::string& order_id, const CheckoutRequest& request, int64_t now_ms) {
  Reservation r;
  for (const auto& line : request.items) {
    auto p = get_product(sql, line.product_id);
    if (!p) throw UnknownProduct("unknown product " + std::to_string(line.product_id));
    int64_t changed = sql.execute(
        "UPDATE shop_products SET inventory = inventory - $2 WHERE product_id = $1 AND inventory >= $2",
        {line.product_id, line.quantity});
    if (changed != 1) {
      // Earlier lines of this order may have taken some already: the caller's
      // transaction rolls them back when this throws.
      auto now = get_product(sql, line.product_id);
      throw OutOfStock("product " + std::to_string(line.product_id) + " (" + p->name + "): " +
                       std::to_string(line.quantity) + " requested, " +
                       std::to_string(now ? now->inventory : 0) + " available");
    }
    int64_t line_amount = 0;
    if (__builtin_mul_overflow(line.quantity, p->price_cents, &line_amount) ||
        __builtin_add_overflow(r.amount_cents, line_amount, &r.amount_cents))
      throw OutOfStock("the order's amount is too large");
    r.items.push_back(PricedItem{line.product_id, line.quantity, p->price_cents, p->name});
  }
  keel::apps::lock_ledger_for_insert(sql, "shop_orders");
  sql.execute(
      "INSERT INTO shop_orders (order_id, status, items, amount_cents, created_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $5)",
      {order_id, std::string(kStatusReserving), stored_items(r.items).dump(), r.amount_cents, now_ms});
  return r;
}

void record_refused(Sql& sql, const std::string& order_id, const CheckoutRequest& request,
                    const std::string& failure, int64_t now_ms) {
  std::vector<PricedItem> items;
  int64_t amount = 0;
  for (const auto& line : request.items) {
    auto p = get_product(sql, line.product_id);
    int64_t price = p ? p->price_cents : 0;
    items.push_back(PricedItem{line.product_id, line.quantity, price, p ? p->name : ""});
    int64_t line_amount = 0;
    if (__builtin_mul_overflow(line.quantity, price, &line_amount) ||
        __builtin_add_overflow(amount, line_amount, &amount))
      amount = 0;
  }
  keel::apps::lock_ledger_for_insert(sql, "shop_orders");
  sql.execute(
      "INSERT INTO shop_orders (order_id, status, items, amount_cents, failure, created_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (order_id) DO NOTHING",
      {order_id, std::string(kStatusFailed), stored_items(items).dump(), amount, failure, now_ms});
}

bool mark_awaiting_payment(Sql& sql, const std::string& order_id, const std::string& session_id, int64_t now_ms) {
  return sql.execute(
             "UPDATE shop_orders SET status = $2, session_id = $3, updated_at = $4 WHERE order_id = $1 AND status = $5",
             {order_id, std::string(kStatusAwaitingPayment), session_id, now_ms, std::string(kStatusReserving)}) == 1;
}

bool fulfil(Sql& sql, const std::string& order_id, int64_t now_ms) {
  return sql.execute(
             "UPDATE shop_orders SET status = $2, updated_at = $3 WHERE order_id = $1 AND status IN ($4, $5)",
             {order_id, std::string(kStatusFulfilled), now_ms, std::string(kStatusReserving),
              std::string(kStatusAwaitingPayment)}) == 1;
}

bool release(Sql& sql, const std::string& order_id, const std::string& final_status, const std::string& failure,
             int64_t now_ms) {
  auto o = get_order(sql, order_id);
  if (!o || (o->status != kStatusReserving && o->status != kStatusAwaitingPayment)) return false;
  for (const auto& item : o->items)
    sql.execute("UPDATE shop_products SET inventory = inventory + $2 WHERE product_id = $1",
                {item.at("product_id").get<int64_t>(), item.at("quantity").get<int64_t>()});
  sql.execute("UPDATE shop_orders SET status = $2, failure = $3, updated_at = $4 WHERE order_id = $1",
              {order_id, final_status, failure.empty() ? SqlValue(nullptr) : SqlValue(failure), now_ms});
  return true;
}

std::optional<Order> get_order(Sql& sql, const std::string& order_id) {
  auto row = sql.query_one(std::string(kOrderColumns) + "WHERE order_id = $1", {order_id});
  if (!row) return std::nullopt;
  return read_order(*row);
}

std::vector<Order> list_orders(Sql& sql, const std::optional<std::string>& status, int64_t after_seq, int limit) {
  std::vector<SqlRow> rows;
  if (status) {
    rows = sql.query(std::string(kOrderColumns) + "WHERE seq > $1 AND status = $2 ORDER BY seq LIMIT $3",
                     {after_seq, *status, int64_t{limit}});
  } else {
    rows = sql.query(std::string(kOrderColumns) + "WHERE seq > $1 ORDER BY seq LIMIT $2", {after_seq, int64_t{limit}});
  }
  std::vector<Order> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(read_order(r));
  return out;
}

std::vector<Product> list_products(Sql& sql) {
  std::vector<Product> out;
  for (const auto& r : sql.query("SELECT product_id, name, price_cents, inventory FROM shop_products ORDER BY product_id"))
    out.push_back(Product{r.get_int(0), r.get_string(1), r.get_int(2), r.get_int(3)});
  return out;
}

std::optional<Product> get_product(Sql& sql, int64_t product_id) {
  auto r = sql.query_one("SELECT product_id, name, price_cents, inventory FROM shop_products WHERE product_id = $1",
                         {product_id});
  if (!r) return std::nullopt;
  return Product{r->get_int(0), r->get_string(1), r->get_int(2), r->get_int(3)};
}

}  // namespace store
}  // namespace keel::apps::shop
