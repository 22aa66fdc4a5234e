// A durable workflow from outside Keel's tree: two steps and a transaction on
// SQLite. Run twice on the same file, the second run starts nothing new (the
// workflow ID is an idempotency key) and prints the same result.
#include <keel/keel.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer DB_FILE\n";
    return 2;
  }
  keel::Runtime rt({.database_url = std::string("sqlite:") + argv[1], .executor_id = "consumer"});
  auto greet = rt.register_workflow("greet", [](keel::Context& ctx, std::string name) {
    auto hello = ctx.step("hello", [&] { return "hello " + name; });
    ctx.transaction("count", [](keel::Sql& sql) {
      sql.execute("CREATE TABLE IF NOT EXISTS greetings (n INTEGER)");
      sql.execute("INSERT INTO greetings (n) VALUES (1)");
    });
    return ctx.step("shout", [&] { return hello + "!"; });
  });
  rt.launch();
  std::string out = rt.start(greet, {.workflow_id = "greet-1"}, std::string("keel")).result();
  int64_t rows = 0;
  rt.run_sql_read([&](keel::Sql& sql) { rows = sql.query_one("SELECT count(*) FROM greetings")->get_int(0); });
  std::cout << out << " (keel " << keel::version() << ", headers " << KEEL_VERSION_STRING << ", " << rows
            << " greeting)" << std::endl;
  return 0;
}
