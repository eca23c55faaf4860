// The differential test's comparison (docs/kmod.md "Differential test"):
// what pasidlab.ko showed per submit step over a kmod record's runs against
// the set of outcomes the model's search produced for the same scenario,
// policy and parameters. Pure functions of the two records, so that the
// verdicts are tested with synthetic records (tests/cpp/diff_model_test.cc).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pasidbench {

// The module's side of one workload x params x policy: one or more kmod
// records of it (repetitions) summed.
struct ModuleSide {
  std::string kernel;  // provenance.kernel.name: a lab's kernels are compared apart
  std::string workload;
  std::string policy;
  std::map<std::string, std::string> params;  // as recorded (workload and given backend ones)
  int64_t runs = 0;
  int64_t records = 0;
  uint64_t noise_seed = 0;
  int pin_cpu = -1;
  std::map<std::string, std::map<std::string, int64_t>> step_outcomes;  // step -> outcome -> n
  std::map<std::string, int64_t> runs_with_violation;
  std::map<std::string, int64_t> runs_with_outcome;
  std::map<std::string, double> counters;  // the model's metric names, summed over records
  std::vector<std::string> not_verdicts;   // records that were errors, skips, crashes: why
  // The kmod records' details.differential.witness_runs: the event logs of
  // the runs that showed a step's outcome first.
  std::vector<nlohmann::json> witness_runs;
};

// The event log of the module's run that first showed `outcome` at `step`
// ("<step> <outcome>" in its first_seen; step "violation" for the first run
// with a violation of kind `outcome`); null if none was kept.
nlohmann::json module_witness_run(const ModuleSide& side, const std::string& step,
                                  const std::string& outcome);

// Adds a kmod record (a results.jsonl line) to `side`; false when the
// record has no differential details (micro benchmarks, older records).
bool add_module_record(const nlohmann::json& record, ModuleSide* side);

// The kernel a record ran on (provenance.kernel.name; "" if none).
std::string record_kernel(const nlohmann::json& record);

// The key records of one comparison share: kernel, workload, policy and params.
std::string module_side_key(const nlohmann::json& record);

enum class DiffVerdict {
  kAgree,        // every outcome the module showed is one the model's search produced
  kMismatch,     // the module showed an outcome the model's complete search never produced
  kIncomplete,   // some outcome not produced by a search that was cut short: no answer
  kNotCompared,  // the module's records or the model's run give nothing to compare
};
const char* to_string(DiffVerdict v);

struct CounterComparison {
  std::string name;
  double module = 0;
  double model = 0;  // the reference schedule's count times the runs
  bool equal = false;
  // Context switches with PASID work are not: on one CPU the kernel still
  // switches at every wait (a futex, the completion poll, waitpid) and to
  // tasks outside the scenario (the interpreter's parent, kernel threads'
  // wakeups of user tasks), which the model's reference schedule has none
  // of; shown, never an equality.
  bool compared = true;
};

struct DiffResult {
  DiffVerdict verdict = DiffVerdict::kNotCompared;
  std::vector<std::string> lines;  // the printed comparison, without the header
  int64_t mismatched_steps = 0;
  std::vector<std::pair<std::string, std::string>> mismatches;  // step, the module's outcome
  // Violation kinds the module saw in some run that the complete search never reached.
  std::vector<std::string> violation_mismatches;
  // Filled only where the workload leaves no choice (one CPU, no noise).
  std::vector<CounterComparison> counters;
};

// `model_record`: the model backend's record for the same scenario and
// policy (details.step_outcomes, search.complete); null when the model
// could not be run, with `model_error` saying why.
DiffResult diff_against_model(const ModuleSide& module, const nlohmann::json& model_record,
                              const std::string& model_error = {});

// The counters shown where there is no choice (see CounterComparison::compared).
const std::vector<std::string>& no_choice_counters();

}  // namespace pasidbench
