// The differential test's parts that need no kernel: the model's per-step
// outcome sets, the interpreter's per-step counts, noise and pinning, and
// diff-model's verdicts on synthetic records.
#include "runners/diff_model.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>

#include "runners/backends/host/scenario_interpreter.h"
#include "tests/cpp/model_test_util.h"

namespace pasidbench {
namespace {

using json = nlohmann::json;
using model::testing::canonical;
using model::testing::policy;

model::SearchResult search(const Scenario& sc, const std::string& p,
                           model::Machine** keep = nullptr) {
  static std::vector<std::unique_ptr<model::Machine>> machines;
  machines.push_back(std::make_unique<model::Machine>(sc, policy(p), model::MachineConfig{}));
  if (keep) *keep = machines.back().get();
  model::SearchConfig config;
  config.time_limit_s = 60;
  return model::run_search(*machines.back(), config);
}

std::set<std::string> kinds(uint8_t bits) {
  std::set<std::string> out;
  for (int k = 0; k < model::kOutcomeKinds; ++k)
    if (bits & (1u << k)) out.insert(model::to_string(static_cast<model::SubmitOutcome>(k)));
  return out;
}

// The module's records and the model's name submit steps the same way, or
// no step could be compared.
TEST(DiffModel, ModelAndInterpreterNameTheSameSubmitSteps) {
  for (const char* w : {"clone-bind-exit", "thread-pool", "long-lived-binders"}) {
    Scenario sc = canonical(w);
    model::Machine m(sc, policy("resync-ipi"), {});
    std::vector<std::string> host;
    for (const auto& [key, step] : submit_steps_of(sc)) host.push_back(key);
    EXPECT_EQ(m.submit_steps(), host) << w;
    EXPECT_FALSE(host.empty()) << w;
  }
}

// Per-step sets are the search's outcomes split by step: every kind the
// search counted is in some step's set and nothing else is.
TEST(DiffModel, StepSetsSplitTheSearchsOutcomes) {
  for (const char* p : {"resync-ipi", "mm-lifetime", "task-refcount/unbind-frees"}) {
    model::Machine* m = nullptr;
    model::SearchResult s = search(canonical("thread-pool", {{"binder", "unbinds"}}), p, &m);
    ASSERT_EQ(s.step_outcomes.size(), m->submit_steps().size());
    uint8_t all = 0;
    for (uint8_t bits : s.step_outcomes) all |= bits;
    for (int k = 0; k < model::kOutcomeKinds; ++k)
      EXPECT_EQ((all >> k) & 1, s.outcomes[k] > 0 ? 1 : 0) << p << " kind " << k;
  }
}

// mm-lifetime loads the MSR only in the binding thread: the pool's workers,
// started before the bind, take an unfixed #GP; resync-ipi resyncs them.
TEST(DiffModel, PoolWorkersGpUnderMmLifetimeOnly) {
  Scenario sc = canonical("thread-pool");
  model::Machine* m = nullptr;
  model::SearchResult mm = search(sc, "mm-lifetime", &m);
  model::SearchResult resync = search(sc, "resync-ipi");
  ASSERT_TRUE(mm.complete);
  ASSERT_TRUE(resync.complete);
  bool worker_gp = false;
  for (size_t i = 0; i < m->submit_steps().size(); ++i) {
    if (m->submit_steps()[i].rfind("worker/", 0) != 0) continue;
    worker_gp = worker_gp || kinds(mm.step_outcomes[i]).count("gp_sigsegv");
    EXPECT_EQ(kinds(resync.step_outcomes[i]), std::set<std::string>{"ok"}) << m->submit_steps()[i];
  }
  EXPECT_TRUE(worker_gp);
}

// ---- the interpreter ------------------------------------------------------

TEST(DiffModel, InterpreterCountsOutcomesPerStep) {
  Scenario sc = canonical("thread-pool");
  LoopbackDevice device;
  InterpreterResult r = run_scenario_on_host(sc, device);
  ASSERT_TRUE(r.error.empty()) << r.error;
  int64_t sum = 0;
  for (const auto& [step, counts] : r.step_outcomes)
    for (const auto& [kind, n] : counts) sum += n;
  EXPECT_EQ(sum, r.submits);
  EXPECT_EQ(r.noise_yields + r.noise_sleeps + r.noise_repins, 0) << "no noise without a seed";
}

TEST(DiffModel, NoiseIsInjectedWithASeedAndPinningStaysOnOneCpu) {
  Scenario sc = canonical("thread-pool");
  LoopbackDevice device;
  InterpreterOptions noisy;
  noisy.noise_seed = 7;
  InterpreterResult r = run_scenario_on_host(sc, device, noisy);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_GT(r.noise_yields + r.noise_sleeps, 0);

  cpu_set_t set;
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  int first = 0;
  while (!CPU_ISSET(first, &set)) ++first;
  InterpreterOptions pinned;
  pinned.pin_cpu = first;
  pinned.noise_seed = 3;  // noise moves nothing while pinned
  r = run_scenario_on_host(sc, device, pinned);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.noise_repins, 0);
  cpu_set_t after;
  ASSERT_EQ(::sched_getaffinity(0, sizeof after, &after), 0);
  EXPECT_TRUE(CPU_EQUAL(&set, &after)) << "the runner's own affinity comes back";

  pinned.pin_cpu = CPU_SETSIZE - 1;
  r = run_scenario_on_host(sc, device, pinned);
  EXPECT_NE(r.error.find("pin_cpu"), std::string::npos) << r.error;
}

// ---- diff-model's verdicts ------------------------------------------------

json kmod_record(json step_outcomes, const std::string& outcome = "pass", int pin = -1,
                 int64_t noise = 5) {
  return {{"record", "test"},
          {"backend", "kmod:resync-ipi"},
          {"workload", "thread-pool"},
          {"policy", "resync-ipi"},
          {"outcome", outcome},
          {"params", {{"binder", "stays"}, {"runs", "10"}}},
          {"metrics", {{"pasid_allocs", {{"value", 20.0}}}, {"ipis", {{"value", 3.0}}}}},
          {"details",
           {{"differential",
             {{"runs", 10},
              {"noise_seed", noise},
              {"pin_cpu", pin},
              {"step_outcomes", step_outcomes},
              {"runs_with_violation", json::object()}}}}}};
}

json model_record(json step_outcomes, bool complete = true) {
  return {{"outcome", complete ? "pass" : "incomplete"},
          {"search",
           {{"strategy", "exhaustive"},
            {"preemption_bound", 2},
            {"schedules_checked", 100},
            {"complete", complete}}},
          {"details",
           {{"step_outcomes", step_outcomes},
            {"reference_schedule", {{"counters", {{"pasid_allocs", 2}, {"ipis", 0}}}}}}}};
}

ModuleSide side_of(const std::vector<json>& records) {
  ModuleSide s;
  for (const auto& r : records) EXPECT_TRUE(add_module_record(r, &s));
  return s;
}

TEST(DiffModel, OutcomesInTheModelsSetAgree) {
  ModuleSide s = side_of({kmod_record({{"worker/2", {{"ok", 30}}}}),
                          kmod_record({{"worker/2", {{"ok", 28}, {"gp_sigsegv", 2}}}})});
  EXPECT_EQ(s.runs, 20);
  DiffResult d = diff_against_model(s, model_record({{"worker/2", {"ok", "gp_sigsegv"}}}));
  EXPECT_EQ(d.verdict, DiffVerdict::kAgree);
  EXPECT_TRUE(d.counters.empty()) << "noise on: no counter comparison";
}

TEST(DiffModel, AnOutcomeACompleteSearchNeverProducedIsAMismatchPrintingBothSides) {
  ModuleSide s = side_of({kmod_record({{"worker/2", {{"ok", 9}, {"isolation_violation", 1}}}})});
  DiffResult d = diff_against_model(s, model_record({{"worker/2", {"ok"}}}));
  EXPECT_EQ(d.verdict, DiffVerdict::kMismatch);
  EXPECT_EQ(d.mismatched_steps, 1);
  bool both = false;
  for (const auto& l : d.lines)
    both = both || (l.find("isolation_violation x1") != std::string::npos &&
                    l.find("model {ok}") != std::string::npos);
  EXPECT_TRUE(both);
}

TEST(DiffModel, AViolationTheModelNeverReachedIsAMismatch) {
  json module = kmod_record({{"worker/2", {{"ok", 10}}}});
  module["details"]["differential"]["runs_with_violation"] = {{"stale_pasid_held", 3}};
  module["details"]["differential"]["witness_runs"] = {
      {{"run", 4}, {"first_seen", {"violation stale_pasid_held"}}, {"events", {"e1"}}}};
  ModuleSide s = side_of({module});
  json model = model_record({{"worker/2", {"ok"}}});
  DiffResult d = diff_against_model(s, model);
  EXPECT_EQ(d.verdict, DiffVerdict::kMismatch);
  EXPECT_EQ(d.mismatched_steps, 0) << "every outcome is one the model has";
  EXPECT_EQ(d.violation_mismatches, std::vector<std::string>{"stale_pasid_held"});
  EXPECT_EQ(module_witness_run(s, "violation", "stale_pasid_held").value("run", -1), 4);
  // Reached by some schedule: agree.
  model["violations"] = {{"stale_pasid_held", 12}};
  d = diff_against_model(s, model);
  EXPECT_EQ(d.verdict, DiffVerdict::kAgree);
  EXPECT_TRUE(d.violation_mismatches.empty());
  // Not reached by a search that was cut short: no answer.
  EXPECT_EQ(diff_against_model(s, model_record({{"worker/2", {"ok"}}}, false)).verdict,
            DiffVerdict::kIncomplete);
}

TEST(DiffModel, AnIncompleteSearchGivesNoCannotVerdict) {
  ModuleSide s = side_of({kmod_record({{"worker/2", {{"gp_sigsegv", 1}}}})});
  EXPECT_EQ(diff_against_model(s, model_record({{"worker/2", {"ok"}}}, false)).verdict,
            DiffVerdict::kIncomplete);
  // What an incomplete search did produce is still something it can produce.
  EXPECT_EQ(diff_against_model(s, model_record({{"worker/2", {"gp_sigsegv"}}}, false)).verdict,
            DiffVerdict::kAgree);
}

TEST(DiffModel, ErrorsUnknownStepsAndForeignOutcomesAreNotCompared) {
  ModuleSide errors = side_of({kmod_record({{"worker/2", {{"ok", 1}}}}, "error")});
  EXPECT_EQ(errors.runs, 0);
  EXPECT_EQ(diff_against_model(errors, model_record({{"worker/2", {"ok"}}})).verdict,
            DiffVerdict::kNotCompared);
  ModuleSide unknown = side_of({kmod_record({{"worker/9", {{"ok", 1}}}})});
  EXPECT_EQ(diff_against_model(unknown, model_record({{"worker/2", {"ok"}}})).verdict,
            DiffVerdict::kNotCompared);
  ModuleSide timeout = side_of({kmod_record({{"worker/2", {{"timeout", 1}}}})});
  EXPECT_EQ(diff_against_model(timeout, model_record({{"worker/2", {"ok"}}})).verdict,
            DiffVerdict::kNotCompared);
  EXPECT_EQ(diff_against_model(timeout, json(), "no such workload").verdict,
            DiffVerdict::kNotCompared);
  EXPECT_FALSE(add_module_record({{"details", {{"module_counters", 1}}}}, &timeout));
}

TEST(DiffModel, CountersWithoutChoiceMustEqualTheReferenceSchedules) {
  ModuleSide s = side_of({kmod_record({{"worker/2", {{"ok", 10}}}}, "pass", 0, 0)});
  DiffResult d = diff_against_model(s, model_record({{"worker/2", {"ok"}}}));
  EXPECT_EQ(d.verdict, DiffVerdict::kMismatch) << "ipis 3 against the model's 0";
  ASSERT_EQ(d.counters.size(), 2u);
  for (const auto& c : d.counters) {
    // pasid_allocs: 20 = 2 x 10 runs; ipis: 3 vs 0.
    EXPECT_EQ(c.equal, c.name == "pasid_allocs") << c.name;
    EXPECT_TRUE(c.compared) << c.name;
  }
}

TEST(DiffModel, ContextSwitchesWithPasidWorkAreShownNotCompared) {
  json module = kmod_record({{"worker/2", {{"ok", 10}}}}, "pass", 0, 0);
  module["metrics"]["ipis"]["value"] = 0.0;
  module["metrics"]["context_switches_pasid_work"] = {{"value", 400.0}};
  json model = model_record({{"worker/2", {"ok"}}});
  model["details"]["reference_schedule"]["counters"]["context_switches_pasid_work"] = 7;
  DiffResult d = diff_against_model(side_of({module}), model);
  EXPECT_EQ(d.verdict, DiffVerdict::kAgree);
  auto it = std::find_if(d.counters.begin(), d.counters.end(), [](const CounterComparison& c) {
    return c.name == "context_switches_pasid_work";
  });
  ASSERT_NE(it, d.counters.end());
  EXPECT_FALSE(it->compared);
  EXPECT_FALSE(it->equal);
}

TEST(DiffModel, EachKernelOfALabIsItsOwnComparison) {
  json a = kmod_record({{"worker/2", {{"ok", 1}}}});
  json b = a;
  a["provenance"]["kernel"]["name"] = "debian-6.1-amd64";
  b["provenance"]["kernel"]["name"] = "debian-6.12-amd64";
  EXPECT_NE(module_side_key(a), module_side_key(b));
  EXPECT_EQ(record_kernel(b), "debian-6.12-amd64");
  EXPECT_EQ(side_of({b}).kernel, "debian-6.12-amd64");
}

}  // namespace
}  // namespace pasidbench
