// quickstart: the README's "A workflow in a few lines", complete. A checkout
// reserves inventory (exactly once, in the same commit as its checkpoint),
// creates a payment session (a step: retried, at least once, idempotent by
// key), publishes it as an event and waits for the payment with a durable
// timeout; without payment it gives the inventory back.
//
//   ./quickstart shop.db
#include <keel/keel.hpp>

#include <iostream>
#include <string>

using namespace std::chrono_literals;

// Stands in for a payment provider's API (see apps/payments for a real one):
// the idempotency key makes a retried call create one session, not two.
std::string payments_create(const std::string& idempotency_key) { return "cs_" + idempotency_key; }

int main(int argc, char** argv) {
  std::string db = argc > 1 ? argv[1] : "shop.db";
  keel::Runtime rt({.database_url = "sqlite:" + db, .executor_id = "shop-1"});

  auto checkout = rt.register_workflow("checkout", [](keel::Context& ctx, int quantity) {
    ctx.transaction("reserve", [&](keel::Sql& sql) {  // app SQL + checkpoint: exactly once
      sql.execute("UPDATE products SET inventory = inventory - $1 WHERE id = 1", {int64_t{quantity}});
    });
    std::string session = ctx.step("create_session", {.max_attempts = 5}, [&] {
      return payments_create(ctx.idempotency_key());  // at least once, idempotent by key
    });
    ctx.set_event("session", session);        // seen by get_event from outside
    auto paid = ctx.recv<bool>("payment", 60s);  // durable timeout
    if (!paid.value_or(false)) {
      ctx.transaction("release", [&](keel::Sql& sql) {
        sql.execute("UPDATE products SET inventory = inventory + $1 WHERE id = 1", {int64_t{quantity}});
      });
    }
    return paid.value_or(false);
  });

  rt.launch();  // migrate, then recover PENDING workflows
  rt.run_sql_write([](keel::Sql& sql) {
    sql.execute("CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, inventory INTEGER NOT NULL)");
    sql.execute("INSERT INTO products (id, inventory) VALUES (1, 100) ON CONFLICT (id) DO NOTHING");
  });

  auto h = rt.start(checkout, {.workflow_id = "order-42"}, 2);  // the ID is an idempotency key
  auto session = rt.get_event<std::string>(h.id(), "session", 10s);
  std::cout << "payment session: " << session.value_or("none") << std::endl;
  rt.send(h.id(), true, "payment", /*idempotency_key=*/"evt_1");
  bool ok = h.result();

  int64_t left = 0;
  rt.run_sql_read([&](keel::Sql& sql) { left = sql.query_one("SELECT inventory FROM products WHERE id = 1")->get_int(0); });
  std::cout << "order-42 " << (ok ? "paid" : "not paid") << ", " << left << " left in stock" << std::endl;
}
