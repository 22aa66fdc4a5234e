// Crash-test your own workflow: keel::testing::sweep_crashes kills a child
// process (SIGKILL) at every checkpoint commit of a money transfer, recovers
// it, and checks the books after each crash. Exit status 0 when every crash
// point keeps the invariants.
//
//   crash-sweep              sweeps the transfer below
#include <iostream>
#include <stdexcept>
#include <string>

#include "keel/crash_sweep.hpp"
#include "keel/keel.hpp"

namespace {

// Moves `amount` from alice to bob in two transactions and sends a receipt
// (an outside effect: at least once, so it is idempotent on the receiving end).
void register_transfer(keel::Runtime& rt) {
  rt.register_workflow("transfer", [](keel::Context& ctx, int amount) {
    ctx.transaction("debit", [&](keel::Sql& sql) {
      sql.execute("CREATE TABLE IF NOT EXISTS accounts (owner TEXT PRIMARY KEY, balance INTEGER)");
      sql.execute("INSERT INTO accounts VALUES ('alice', 100), ('bob', 0) ON CONFLICT DO NOTHING");
      sql.execute("UPDATE accounts SET balance = balance - $1 WHERE owner = 'alice'", {int64_t{amount}});
    });
    ctx.transaction("credit", [&](keel::Sql& sql) {
      sql.execute("UPDATE accounts SET balance = balance + $1 WHERE owner = 'bob'", {int64_t{amount}});
    });
    ctx.step("send_receipt", [] {});
    return amount;
  });
}

int balance(keel::Runtime& rt, const std::string& owner) {
  int64_t b = 0;
  rt.run_sql_read([&](keel::Sql& sql) {
    b = sql.query_one("SELECT balance FROM accounts WHERE owner = $1", {owner})->get_int(0);
  });
  return static_cast<int>(b);
}

}  // namespace

int main() {
  keel::testing::CrashSweep sweep;
  sweep.setup = register_transfer;
  sweep.start = [](keel::Runtime& rt) {
    // A fixed ID: the retried start of a recovering process starts nothing new.
    (void)rt.start(keel::Workflow<int, int>("transfer"), {.workflow_id = "transfer-1"}, 30);
  };
  sweep.check = [](keel::Runtime& rt, const keel::testing::CrashCase& c) {
    if (balance(rt, "alice") != 70 || balance(rt, "bob") != 30) throw std::runtime_error("the books do not balance");
    if (c.runs_of("send_receipt") < 1) throw std::runtime_error("no receipt was sent");
  };
  keel::testing::CrashSweepReport report = keel::testing::sweep_crashes(sweep);
  std::cout << report.summary();
  std::cout << (report.ok() ? "every crash point held\n" : "SOME CRASH POINT BROKE AN INVARIANT\n");
  return report.ok() ? 0 : 1;
}
