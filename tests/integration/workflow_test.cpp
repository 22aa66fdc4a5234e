// Starting workflows: results, handles, workflow IDs as idempotency keys.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "support/runtime_fixture.hpp"

using namespace std::chrono_literals;
using keel::testing::RuntimeTest;

namespace {

using WorkflowTest = RuntimeTest;

TEST_F(WorkflowTest, RunsStepsAndReturnsTheResult) {
  auto wf = rt->register_workflow("add", [](keel::Context& ctx, int a, int b) {
    int x = ctx.step("double_a", [&] { return a * 2; });
    return ctx.step("add_b", [&] { return x + b; });
  });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "w1"}, 3, 4);
  EXPECT_EQ(h.result_for(10s), 10);
  EXPECT_EQ(h.status(), keel::WorkflowStatus::Success);
  auto steps = rt->list_steps("w1");
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].name, "double_a");
  EXPECT_EQ(*steps[0].output, 6);
  EXPECT_EQ(steps[1].function_id, 2);
  auto info = h.info();
  EXPECT_EQ(info.inputs, keel::Json::array({3, 4}));
  EXPECT_EQ(info.executor_id, "test");
}

TEST_F(WorkflowTest, StructuredValuesRoundTripAsJson) {
  auto wf = rt->register_workflow("echo", [](keel::Context& ctx, std::map<std::string, int> m) {
    return ctx.step("sum", [&] {
      int total = 0;
      for (auto& [k, v] : m) total += v;
      return std::make_pair(static_cast<int>(m.size()), total);
    });
  });
  rt->launch();
  auto r = rt->start(wf, {}, std::map<std::string, int>{{"a", 1}, {"b", 2}}).result_for(10s);
  EXPECT_EQ(r, std::make_pair(2, 3));
}

TEST_F(WorkflowTest, GeneratedIdIsAUuid) {
  auto wf = rt->register_workflow("noop", [](keel::Context&) { return 1; });
  rt->launch();
  auto h = rt->start(wf, {});
  EXPECT_EQ(h.id().size(), 36u);
  EXPECT_EQ(h.result_for(10s), 1);
}

TEST_F(WorkflowTest, StartingAnExistingIdRunsNothingTwice) {
  auto wf = rt->register_workflow("once", [this](keel::Context& ctx, int x) {
    ctx.step("effect", [&] { effects.hit("effect"); });
    return x;
  });
  rt->launch();
  EXPECT_EQ(rt->start(wf, {.workflow_id = "k"}, 1).result_for(10s), 1);
  // Same ID again, even with another argument: the recorded workflow answers.
  EXPECT_EQ(rt->start(wf, {.workflow_id = "k"}, 2).result_for(10s), 1);
  EXPECT_EQ(effects.count("effect"), 1);
}

TEST_F(WorkflowTest, SameIdUnderAnotherNameIsAConflict) {
  auto a = rt->register_workflow("a", [](keel::Context&) { return 1; });
  auto b = rt->register_workflow("b", [](keel::Context&) { return 2; });
  rt->launch();
  rt->start(a, {.workflow_id = "shared"}).result_for(10s);
  EXPECT_THROW(rt->start(b, {.workflow_id = "shared"}), keel::WorkflowConflictError);
  EXPECT_EQ(rt->get_workflow("shared")->name, "a");
}

TEST_F(WorkflowTest, ConcurrentStartsOfOneIdRunItOnce) {
  auto wf = rt->register_workflow("contended", [this](keel::Context& ctx) {
    ctx.step("effect", [&] { effects.hit("effect"); });
    return ctx.workflow_id();
  });
  rt->launch();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&] {
      if (rt->start(wf, {.workflow_id = "race"}).result_for(20s) == "race") ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(effects.count("effect"), 1);
  EXPECT_EQ(rt->list_steps("race").size(), 1u);
}

TEST_F(WorkflowTest, ManyWorkflowsRunConcurrently) {
  auto wf = rt->register_workflow("square", [](keel::Context& ctx, int i) {
    int a = ctx.step("a", [&] { return i; });
    return ctx.step("b", [&] { return a * a; });
  });
  rt->launch();
  std::vector<keel::Handle<int>> handles;
  for (int i = 0; i < 100; ++i) handles.push_back(rt->start(wf, {.workflow_id = "sq-" + std::to_string(i)}, i));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(handles[static_cast<size_t>(i)].result_for(30s), i * i);
}

TEST_F(WorkflowTest, ErrorsOfTheWorkflowAreRecorded) {
  auto wf = rt->register_workflow("boom", [](keel::Context&) -> int { throw std::invalid_argument("bad thing"); });
  rt->launch();
  auto h = rt->start(wf, {.workflow_id = "boom-1"});
  try {
    h.result_for(10s);
    FAIL() << "expected an error";
  } catch (const keel::RecordedError& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_STREQ(e.what(), "bad thing");
  }
  auto info = rt->get_workflow("boom-1");
  EXPECT_EQ(info->status, keel::WorkflowStatus::Error);
  EXPECT_EQ(info->error->type_name, "std::invalid_argument");
}

TEST_F(WorkflowTest, RetrieveUnknownIdThrows) {
  rt->launch();
  EXPECT_THROW(rt->retrieve("nope"), keel::WorkflowNotFoundError);
  EXPECT_FALSE(rt->get_workflow("nope").has_value());
}

TEST_F(WorkflowTest, StartBeforeLaunchOrUnknownNameIsRefused) {
  auto wf = rt->register_workflow("w", [](keel::Context&) { return 1; });
  EXPECT_THROW(rt->start(wf, {}), keel::RuntimeStateError);
  rt->launch();
  keel::Workflow<int> ghost("ghost");
  EXPECT_THROW(rt->start(ghost, {}), keel::UnknownWorkflowError);
  EXPECT_THROW(rt->register_workflow("late", [](keel::Context&) { return 1; }), keel::UsageError);
}

TEST_F(WorkflowTest, ListWorkflowsFiltersByStatusAndName) {
  auto ok = rt->register_workflow("ok", [](keel::Context&) { return 1; });
  auto bad = rt->register_workflow("bad", [](keel::Context&) -> int { throw std::runtime_error("x"); });
  rt->launch();
  rt->start(ok, {.workflow_id = "o1"}).result_for(10s);
  rt->start(ok, {.workflow_id = "o2"}).result_for(10s);
  EXPECT_ANY_THROW(rt->start(bad, {.workflow_id = "b1"}).result_for(10s));
  EXPECT_EQ(rt->list_workflows({.statuses = {keel::WorkflowStatus::Success}}).size(), 2u);
  EXPECT_EQ(rt->list_workflows({.statuses = {keel::WorkflowStatus::Error}}).size(), 1u);
  EXPECT_EQ(rt->list_workflows({.name = "ok", .limit = 1}).size(), 1u);
}

}  // namespace
