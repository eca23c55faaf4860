// Simulator speed: scheduling decisions per second on one core, and the wall
// time of the exhaustive bound-2 search of each canonical workload at
// 3 tasks / 2 CPUs (the conformance suite's small size). Figures go into the
// JSON as counters: run with --benchmark_format=json.
#include <benchmark/benchmark.h>

#include <chrono>

#include "runners/backends/model/canonical_sizes.h"
#include "runners/backends/model/search.h"
#include "runners/backends/model/strategies.h"
#include "suites/workload/workloads.h"

namespace pasidbench::model {
namespace {

Scenario scenario_for(const CanonicalSize& size) {
  for (const auto& w : builtin_workloads()) {
    if (w.name != size.workload) continue;
    RawParams raw;
    for (const auto& [k, v] : size.params) raw[k] = {v, {}};
    return w.generate(resolve_params({&w.params}, raw));
  }
  throw std::logic_error("no workload " + size.workload);
}

const PolicyInfo& policy(const std::string& name) { return *find_policy(name); }

// Random schedules back to back: every action of every run is a decision
// through the chooser.
void BM_Decisions(benchmark::State& state, const std::string& policy_name) {
  Scenario sc = scenario_for(large_sizes()[0]);
  Machine machine(sc, policy(policy_name), MachineConfig{});
  RandomChooser chooser;
  ScheduleResult r;
  uint64_t seed = 1, decisions = 0, steps = 0, schedules = 0;
  for (auto _ : state) {
    chooser.begin(splitmix64(seed));
    machine.run(chooser, false, r);
    decisions += static_cast<uint64_t>(r.decisions);
    steps += static_cast<uint64_t>(r.steps);
    ++schedules;
  }
  state.counters["decisions_per_s"] =
      benchmark::Counter(static_cast<double>(decisions), benchmark::Counter::kIsRate);
  state.counters["steps_per_s"] =
      benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
  state.counters["decisions_per_schedule"] =
      static_cast<double>(decisions) / static_cast<double>(std::max<uint64_t>(1, schedules));
}
BENCHMARK_CAPTURE(BM_Decisions, resync_ipi_thread_pool_6x4, std::string("resync-ipi"));
BENCHMARK_CAPTURE(BM_Decisions, mm_lifetime_lazy_gp_thread_pool_6x4,
                  std::string("mm-lifetime-lazy-gp"));

// One full exhaustive search per iteration.
void BM_ExhaustiveBound2(benchmark::State& state, size_t workload, const std::string& policy_name) {
  Scenario sc = scenario_for(small_sizes()[workload]);
  Machine machine(sc, policy(policy_name), MachineConfig{});
  SearchConfig config;
  config.strategy = Strategy::kExhaustive;
  config.preemption_bound = 2;
  SearchResult s;
  double seconds = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    s = run_search(machine, config);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    benchmark::DoNotOptimize(s.digest);
  }
  state.counters["search_wall_s"] = seconds;
  state.counters["schedules"] = static_cast<double>(s.schedules);
  state.counters["decisions"] = static_cast<double>(s.decisions);
  state.counters["decisions_per_s"] = static_cast<double>(s.decisions) / seconds;
  state.SetLabel(small_sizes()[workload].workload + " / " + policy_name);
}
BENCHMARK_CAPTURE(BM_ExhaustiveBound2, thread_pool, 0, std::string("resync-ipi"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_ExhaustiveBound2, clone_bind_exit, 1, std::string("resync-ipi"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_ExhaustiveBound2, long_lived_binders, 2, std::string("resync-ipi"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace pasidbench::model

BENCHMARK_MAIN();
