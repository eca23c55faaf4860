// Registration of the micro benchmarks (names are a contract: suites, the
// host backend and the statistics calibration select them by name), and the
// small helpers their bodies share.
#pragma once

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "platform/topology.h"

namespace pasidbench {

// pipe_pingpong/{threads,processes}/{same_cpu,cross_cpu}, futex_pingpong/...
void register_pingpong_benchmarks();
// sched_yield/threads/same_cpu, migration/cross_cpu
void register_sched_benchmarks();
// membarrier/spinning:N and tlb_shootdown/{mprotect,munmap}/remote:N for
// N = 0 .. max_remote
void register_ipi_benchmarks(int max_remote);

// Records `why` as the benchmark's error (once) and returns false; true if
// `why` is empty.
inline bool partner_ok(benchmark::State& state, const std::string& why) {
  if (why.empty()) return true;
  if (!state.error_occurred()) state.SkipWithError(why.c_str());
  return false;
}

// A placement the machine cannot give is a skip, said in one line.
inline void skip_placement(benchmark::State& state, const PlacementError& e) {
  if (!state.error_occurred()) state.SkipWithError((std::string("skip: ") + e.what()).c_str());
}

}  // namespace pasidbench
