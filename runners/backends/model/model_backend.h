// The `model:<policy>` backend: a policy model on the simulated SMP kernel,
// searched for safety violations (docs/model.md).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runners/backends/backend.h"
#include "runners/backends/model/machine.h"
#include "runners/backends/model/search.h"

namespace pasidbench {

BackendFamily model_backend_family();

namespace model {

const std::vector<ParamSpec>& model_param_specs();

// The model backend for any policy, one outside the catalogue included (the
// generated mutants of kernels/policies/mutation.h).
std::unique_ptr<Backend> make_model_backend(const PolicyInfo& policy);

// What a run of the model is configured with, from validated parameters.
struct ModelOptions {
  SearchConfig search;
  MachineConfig machine;
  bool shrink = true;
  double shrink_budget_s = 20;
  std::string replay;                    // a replay file: run it instead of searching
  std::string witness_step;              // a submit step: replay files of its outcomes
  std::string cost_source = "defaults";  // or the costs_from file
  bool costs_from_this_run = false;      // costs_from=this-run: read when the test runs
};

// Throws InputError for what the parameter specs cannot check (an unreadable
// costs_from file, conflicting cost parameters).
ModelOptions model_options(const ParamValues& params);

// The parameters that shape a run (costs, latencies, limits), as recorded in
// replay files, and back. Missing names take their defaults.
std::map<std::string, std::string> machine_params(const MachineConfig& config);
MachineConfig machine_config(const std::map<std::string, std::string>& params,
                             const std::string& where);

// Unit costs from measurements (`spec`: a results.jsonl or its directory,
// with #KERNEL to pick one kernel build of a lab's): the host's ctxsw_ns ->
// cost_ctxsw_ns, membarrier_ns -> cost_ipi_ns; pasidlab.ko's micro
// benchmarks -> cost_switch_resync_ns (resync-ipi's switch in a bound mm
// minus with the probe off) and cost_gp_fixup_ns (a first submission's
// extra time under mm-lifetime-lazy-gp minus under mm-lifetime), and
// cost_ctxsw_ns from the no-module switch where the host's is missing.
// Throws InputError.
Costs costs_from_results(const std::string& path, Costs base);

// The modelled overhead of one schedule (docs/model.md, cost model).
double modelled_overhead_ns(const Counters& c, const Costs& costs);

// What `check --replay FILE` runs. Throws InputError for a corrupt file.
TestCase replay_test_case(const std::string& path);

// Everything the model needs beyond the parameter specs, checked before a
// test runs so bad input exits 2: readable costs_from and replay files, a
// scenario within the simulator's limits. Throws InputError.
void check_model_test(const TestCase& test);

}  // namespace model
}  // namespace pasidbench
