// The micro workloads as suites name them ("micro:context-switch", ...),
// their parameters, and how each becomes a run: which Google Benchmark in
// pasidbench-micro (and with which flags), or which in-process measurement of
// the host backend; and how Google Benchmark's JSON becomes metrics.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "results/record.h"
#include "suites/workload/params.h"

namespace pasidbench {

// Adds every micro workload to the workload catalogue (idempotent).
void register_micro_workloads();

struct MicroPlan {
  enum class Runner { kGoogleBenchmark, kDsaSubmit, kPerfBenchPipe };
  Runner runner = Runner::kGoogleBenchmark;
  std::string benchmark;           // exact Google Benchmark name
  std::vector<std::string> flags;  // pasidbench-micro flags (--inject-ns=..., --with-pasid=...)
  double min_time_s = 0.5;
  // CPUs the benchmark pins to distinct places (cross_cpu: 2, N spinning: N + 1).
  int required_cpus = 1;
  std::string cpu_purpose;  // for the skip message
  bool with_pasid = false;
  std::string submission = "auto";  // auto | portal | write
};

// Throws InputError for a workload that is not a micro workload.
MicroPlan plan_micro(const std::string& workload, const ParamValues& params);

// The Google Benchmark command line for a plan (after the binary's path).
std::vector<std::string> micro_command_line(const MicroPlan& plan, int repetitions);

// Fills outcome, reason, metrics (one sample per repetition) and details
// from pasidbench-micro's JSON output. A benchmark that reported an error
// starting with "skip: " is a SKIP with that reason; any other error is an
// error. Hardware counters become cycles/instructions metrics, or metrics
// with the note that says why they are missing.
void fill_from_google_benchmark(const nlohmann::json& output, const MicroPlan& plan,
                                ResultRecord* r);

// One Google Benchmark JSON for `outputs`, one per process that ran the same
// benchmark: the first process's context, every process's iteration rows of
// `benchmark` as repetitions of one run (repetition_index renumbered,
// repetitions the total) and the mean/median/stddev/cv aggregates over
// them, as Google Benchmark writes --benchmark_repetitions. Google
// Benchmark's tools/compare.py pairs rows by name and runs its U test on the
// iteration rows, so it needs them all in one file. The aggregates are over
// the per-iteration times (each process sized its own iteration count).
nlohmann::json merge_google_benchmark_processes(const std::vector<nlohmann::json>& outputs,
                                                const std::string& benchmark);

}  // namespace pasidbench
