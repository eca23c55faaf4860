// The mutation campaign (`pasidbench mutate`, docs/model.md "Generated
// mutants"): for each generated mutant of kernels/policies/mutation.h, an
// independent monitor run decides whether it is unsafe, then the conformance
// suite runs against it and records which tests kill it. Prints the kill
// table; writes the records and one line per mutant into the output folder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pasidbench {

struct MutateOptions {
  std::string suite_path = "suites/conformance.toml";
  std::string out_dir;                    // empty: out/mutate-<run id>
  std::vector<std::string> mutant_globs;  // fnmatch patterns on mutant names; empty: all
  int64_t monitor_schedules = 5000;       // per monitor workload and strategy
  uint64_t monitor_seed = 0x6d6f6e69;     // not the suite's seed (1)
  bool quiet = false;                     // no progress on stderr
};

// The workloads the monitor runs (canonical workloads at sizes beyond the
// suite's, and the suite's scenario files with one CPU more), as
// "workload[k=v,...]".
std::vector<std::string> monitor_workloads(const std::string& suite_path);

// Returns the exit code: 0 every mutant the monitor showed unsafe was killed
// with a replayable trace of at most kMaxKillEvents events and the monitor
// found the real policies clean, 1 otherwise.
// Throws InputError for bad input (no mutant matches, a bad suite) before
// writing anything.
int run_mutation_campaign(const MutateOptions& options);

inline constexpr int64_t kMaxKillEvents = 30;

}  // namespace pasidbench
