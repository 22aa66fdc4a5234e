// The small set of workflows the admin server and CLI tests inspect: one that
// succeeds with a step, one that fails in a step, one that waits in recv
// ("go", 60 s) after a step. Plus eventually(), their polling helper.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "keel/keel.hpp"
#include "support/eventually.hpp"

namespace keel::testing {

struct SampleWorkflows {
  explicit SampleWorkflows(Runtime& rt)
      : greet(rt.register_workflow("greet",
                                   [](Context& ctx, std::string who) {
                                     return ctx.step("make_greeting", [&] { return "hello " + who; });
                                   })),
        waiter(rt.register_workflow("waiter",
                                    [](Context& ctx) {
                                      ctx.step("before_recv", [] { return 1; });
                                      return ctx.recv<std::string>("go", std::chrono::seconds(60))
                                          .value_or("timed out");
                                    })),
        failing(rt.register_workflow("failing", [](Context& ctx) {
          return ctx.step("explode", []() -> int { throw std::runtime_error("boom in step"); });
        })) {}

  Workflow<std::string, std::string> greet;
  Workflow<std::string> waiter;
  Workflow<int> failing;
};

}  // namespace keel::testing
