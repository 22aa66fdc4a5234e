// Workflows, steps and transactions on a real SQLite file.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "keel/keel.hpp"
#include "support/temp_dir.hpp"

using namespace std::chrono_literals;

namespace {

keel::RuntimeConfig config_for(const keel::testing::TempDir& dir) {
  keel::RuntimeConfig c;
  c.database_url = dir.db_url();
  c.executor_id = "test";
  c.poll_interval = 50ms;
  return c;
}

TEST(Workflow, RunsStepsAndReturnsTheResult) {
  keel::testing::TempDir dir;
  keel::Runtime rt(config_for(dir));
  auto wf = rt.register_workflow("add", [](keel::Context& ctx, int a, int b) {
    int x = ctx.step("double_a", [&] { return a * 2; });
    return ctx.step("add_b", [&] { return x + b; });
  });
  rt.launch();
  auto h = rt.start(wf, {.workflow_id = "w1"}, 3, 4);
  EXPECT_EQ(h.result_for(10s), 10);
  EXPECT_EQ(h.status(), keel::WorkflowStatus::Success);
  auto steps = rt.list_steps("w1");
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].name, "double_a");
  EXPECT_EQ(*steps[0].output, 6);
}

}  // namespace
