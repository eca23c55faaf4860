// The "what it must show", as assertions: every real policy is free
// of violations under exhaustive search at 3 tasks / 2 CPUs / bound 2 and
// under 10,000 PCT schedules at larger sizes; every seeded mutant fails on at
// least one workload with a shrunk counterexample of at most 30 events; the
// conformance suite runs exactly that matrix.
#include <gtest/gtest.h>

#include <set>

#include "runners/backends/backend.h"
#include "runners/backends/model/shrink.h"
#include "suites/workload/suite.h"
#include "tests/cpp/model_test_util.h"

namespace pasidbench::model {
namespace {

using namespace testing;

std::string describe(const SearchResult& s) {
  std::string out = std::to_string(s.schedules) + " schedules";
  for (int k = 0; k < kViolationKinds; ++k)
    if (s.failing_schedules[k] > 0)
      out += ", " + std::string(to_string(static_cast<Violation>(k))) + " in " +
             std::to_string(s.failing_schedules[k]);
  return out;
}

class RealPolicy : public ::testing::TestWithParam<std::string> {};

TEST_P(RealPolicy, PassesExhaustiveBound2AtThreeTasksTwoCpus) {
  for (const auto& size : small_sizes()) {
    SearchResult s = search(canonical(size), policy(GetParam()), Strategy::kExhaustive, 0, 2);
    EXPECT_TRUE(s.complete) << size.workload;
    EXPECT_GT(s.schedules, 1000) << size.workload << ": the search should branch";
    EXPECT_EQ(s.found.violation, -1)
        << GetParam() << " on " << size.workload << ": " << describe(s);
    EXPECT_EQ(s.step_limit_runs, 0) << size.workload;
    EXPECT_GT(s.outcomes[static_cast<int>(SubmitOutcome::kOk)], 0) << size.workload;
  }
}

TEST_P(RealPolicy, PassesTenThousandPctSchedulesAtLargerSizes) {
  for (const auto& size : large_sizes()) {
    SearchResult s = search(canonical(size), policy(GetParam()), Strategy::kPct, 10000);
    EXPECT_EQ(s.schedules, 10000) << size.workload;
    EXPECT_EQ(s.found.violation, -1)
        << GetParam() << " on " << size.workload << ": " << describe(s);
    EXPECT_EQ(s.step_limit_runs, 0) << size.workload;
  }
}

INSTANTIATE_TEST_SUITE_P(Model, RealPolicy, ::testing::ValuesIn(real_policies()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

class SeededMutant : public ::testing::TestWithParam<std::string> {};

// The suite's matrix, small exhaustive first; the mutant must fail in at
// least one cell with a safety violation and a short shrunk trace.
TEST_P(SeededMutant, FailsOnSomeWorkloadWithAShortTrace) {
  const PolicyInfo& p = policy(GetParam());
  ASSERT_FALSE(p.parent.empty());
  struct Cell {
    CanonicalSize size;
    Strategy strategy;
  };
  std::vector<Cell> cells;
  for (const auto& s : small_sizes()) cells.push_back({s, Strategy::kExhaustive});
  for (const auto& s : large_sizes()) cells.push_back({s, Strategy::kPct});
  bool failed = false;
  for (const auto& cell : cells) {
    Scenario sc = canonical(cell.size);
    SearchResult s = search(sc, p, cell.strategy, cell.strategy == Strategy::kPct ? 10000 : 0);
    if (s.found.violation < 0) continue;
    failed = true;
    const auto v = static_cast<Violation>(s.found.violation);
    // A stale PASID in a running task is the latent form of the other two.
    EXPECT_TRUE(v == Violation::kIsolation || v == Violation::kUseAfterFree ||
                v == Violation::kStalePasidHeld)
        << GetParam() << " on " << cell.size.workload << " failed with " << to_string(v);
    ShrinkResult shrunk = shrink_counterexample(sc, p, MachineConfig{}, s.found, 30);
    EXPECT_EQ(shrunk.violation, s.found.violation);
    EXPECT_LE(shrunk.events, 30) << GetParam() << " on " << cell.size.workload;
    EXPECT_LE(shrunk.events, s.found.event);
    // The shrunk schedule reproduces exactly.
    Machine m(shrunk.scenario, p, MachineConfig{});
    std::string divergence;
    ScheduleResult again = replay_schedule(m, shrunk.deviations, true, true, &divergence);
    EXPECT_EQ(divergence, "");
    EXPECT_EQ(again.violation_kind, shrunk.violation);
    EXPECT_EQ(again.violation_event, shrunk.events);
    // And the parent policy does not fail on the shrunk scenario.
    SearchResult parent = search(shrunk.scenario, policy(p.parent), Strategy::kExhaustive, 0, 2);
    EXPECT_EQ(parent.found.violation, -1) << p.parent << " on the shrunk scenario";
    break;
  }
  EXPECT_TRUE(failed) << GetParam() << " passed every workload";
}

INSTANTIATE_TEST_SUITE_P(Model, SeededMutant, ::testing::ValuesIn(mutants()), [](const auto& info) {
  std::string n = info.param;
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});

TEST(ConformanceSuite, RunsEveryPolicyOnEveryWorkloadAtTheTestedSizes) {
  Suite suite = load_suite_file(std::string(PASIDBENCH_SOURCE_DIR) + "/suites/conformance.toml");
  std::set<std::string> backends;
  for (const auto& b : suite.backends)
    for (const auto& name : pasidbench::backends().expand(b, {})) backends.insert(name);
  for (const auto& p : policy_catalog()) EXPECT_TRUE(backends.count("model:" + p.name)) << p.name;
  // Each size of canonical_sizes.h appears as a test with its strategy.
  auto has = [&](const CanonicalSize& size, const std::string& strategy) {
    for (const auto& t : suite.tests) {
      if (t.workload != size.workload) continue;
      auto value = [&](const std::string& k) {
        auto it = t.params.find(k);
        return it == t.params.end() || it->second.size() != 1 ? std::string() : it->second[0].value;
      };
      bool match = value("strategy") == strategy;
      for (const auto& [k, v] : size.params) match &= value(k) == v;
      if (match) return true;
    }
    return false;
  };
  for (const auto& s : small_sizes()) EXPECT_TRUE(has(s, "exhaustive")) << s.workload;
  for (const auto& s : large_sizes()) EXPECT_TRUE(has(s, "pct")) << s.workload;
}

}  // namespace
}  // namespace pasidbench::model
