// The catalogue of workloads a suite or `check` can name.
//
// Three kinds: canonical generators (C++ code returning a Scenario), scenario
// files (TOML, see docs/scenario-format.md) and micro benchmarks (Google
// Benchmark suites that only the host backend runs; they have no Scenario).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "suites/workload/params.h"
#include "suites/workload/scenario.h"

namespace pasidbench {

enum class WorkloadKind { kCanonical, kScenarioFile, kMicro };

struct WorkloadInfo {
  std::string name;
  WorkloadKind kind = WorkloadKind::kCanonical;
  std::string description;
  std::vector<ParamSpec> params;
  // kCanonical and kScenarioFile: builds the scenario for validated params.
  std::function<Scenario(const ParamValues&)> generate;
};

// Canonical generators and registered micro suites.
const std::vector<WorkloadInfo>& builtin_workloads();

// Micro suites register themselves here (suites/micro) before the CLI runs.
void register_micro_workload(WorkloadInfo info);

// Resolves a name: a builtin, or a path to a scenario file ("x.toml" or
// "scenario:x.toml"; relative paths are taken from `base_dir`). Throws
// InputError at `where` for an unknown name or a bad file.
WorkloadInfo resolve_workload(const std::string& ref, const std::string& base_dir,
                              const SourceLocation& where);

}  // namespace pasidbench
