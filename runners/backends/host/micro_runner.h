// Runs the Google Benchmark micro suites (pasidbench-micro) and perf bench
// for the host backend, and turns their output into result records.
#pragma once

#include <string>
#include <vector>

#include "platform/tools.h"
#include "results/record.h"
#include "suites/micro/micro_catalog.h"
#include "suites/workload/params.h"

namespace pasidbench {

struct CapturedRun {
  int status = -1;  // waitpid status
  int exec_errno = 0;
  std::string out, err;
  std::string describe_failure() const;  // "exited with status 2: <stderr tail>"
};

// fork + exec with stdout and stderr captured; `cpu` >= 0 pins the child
// (and so everything it starts) to that CPU first.
CapturedRun run_captured(const std::vector<std::string>& argv, int cpu = -1);

// perf bench sched pipe's "usecs/op" line as nanoseconds, NaN if absent.
double parse_perf_bench_pipe_ns(const std::string& output);

// How a Google Benchmark run turns into samples. Repetitions inside one
// process share what that process drew (CPUs, frequency, placement), so
// they vary less than two runs of the same kernel do; a test that counts
// them as independent samples calls A/A runs different far too often
// (docs/reports.md, calibration). kProcess runs a fresh process per sample.
enum class SampleUnit { kProcess, kRepetition };

// `samples` processes of one repetition each (kProcess), or one process of
// `samples` repetitions (kRepetition).
ResultRecord run_google_benchmark(const MicroPlan& plan, int samples, SampleUnit unit);
ResultRecord run_perf_bench_pipe(const ParamValues& params, int repetitions);

}  // namespace pasidbench
