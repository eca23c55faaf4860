// Scheduler costs without a wakeup: two threads taking turns through
// sched_yield on one CPU, and a thread moved between two CPUs.
#include <sched.h>

#include <atomic>

#include "suites/micro/micro_benchmarks.h"
#include "suites/micro/micro_env.h"

namespace pasidbench {

namespace {

void sched_yield_pair(benchmark::State& state) {
  MicroEnv& env = micro_env();
  CpuPair cpus;
  try {
    cpus = env.topology.pick_pair(Placement::kSameCpu);
  } catch (const PlacementError& e) {
    skip_placement(state, e);
    return;
  }
  if (!prepare_measuring_thread(state, cpus.first)) return;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> partner_yields{0};
  Partner partner(Mode::kThreads, cpus.second, [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      sched_yield();
      partner_yields.fetch_add(1, std::memory_order_relaxed);
    }
  });
  if (partner_ok(state, partner.wait_ready())) {
    CounterScope counters;
    uint64_t before = partner_yields.load();
    for (auto _ : state) sched_yield();
    uint64_t after = partner_yields.load();
    counters.stop(state);
    // About 1 when every yield really handed the CPU over; far below 1 means
    // the scheduler let the yielding thread run on, and the time is no switch.
    state.counters["partner_yields"] =
        benchmark::Counter(static_cast<double>(after - before), benchmark::Counter::kAvgIterations);
    state.SetLabel("cpu " + std::to_string(cpus.first) + ", both threads");
  }
  stop = true;
  partner_ok(state, partner.join());
}

void migration(benchmark::State& state) {
  MicroEnv& env = micro_env();
  CpuPair cpus;
  try {
    cpus = env.topology.pick_pair(Placement::kCrossCpu);
  } catch (const PlacementError& e) {
    skip_placement(state, e);
    return;
  }
  if (!prepare_measuring_thread(state, cpus.first)) return;
  int here = cpus.first, there = cpus.second;
  int64_t missed = 0;
  CounterScope counters;
  try {
    for (auto _ : state) {
      // Returns once the thread runs on `there`: the kernel moves a running
      // task off a CPU it may no longer use through the stopper.
      env.topology.pin_current_thread(there);
      if (sched_getcpu() != there) ++missed;
      std::swap(here, there);
    }
  } catch (const PlacementError& e) {
    state.SkipWithError(e.what());
    return;
  }
  counters.stop(state);
  state.counters["not_migrated"] = benchmark::Counter(static_cast<double>(missed));
  state.SetLabel("cpus " + std::to_string(cpus.first) + "," + std::to_string(cpus.second) + " (" +
                 cpus.relation + ")");
}

}  // namespace

void register_sched_benchmarks() {
  benchmark::RegisterBenchmark("sched_yield/threads/same_cpu", sched_yield_pair);
  benchmark::RegisterBenchmark("migration/cross_cpu", migration);
}

}  // namespace pasidbench
