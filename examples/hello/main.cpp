// hello: three steps, checkpointed in a SQLite file. Kill it with kill -9
// while step 2 runs, start it again: step 1 is not repeated (its result is
// recorded), step 2 runs again (it never finished), step 3 runs once.
//
//   ./hello hello.db        # prints "running step 1", "running step 2", ...
#include <keel/keel.hpp>

#include <chrono>
#include <iostream>
#include <thread>

int main(int argc, char** argv) {
  std::string db = argc > 1 ? argv[1] : "hello.db";
  keel::Runtime rt({.database_url = "sqlite:" + db, .executor_id = "hello"});

  auto hello = rt.register_workflow("hello", [](keel::Context& ctx) {
    int a = ctx.step("step 1", [] {
      std::cout << "running step 1" << std::endl;
      return 1;
    });
    int b = ctx.step("step 2", [] {
      std::cout << "running step 2 (slow: kill me now)" << std::endl;
      std::this_thread::sleep_for(std::chrono::seconds(3));
      return 2;
    });
    int c = ctx.step("step 3", [] {
      std::cout << "running step 3" << std::endl;
      return 3;
    });
    return a + b + c;
  });

  // launch() resumes a workflow a crash interrupted; start() with the same
  // ID then returns a handle to it instead of starting another.
  rt.launch();
  int sum = rt.start(hello, {.workflow_id = "hello-1"}).result();
  std::cout << "done: " << sum << std::endl;
}
