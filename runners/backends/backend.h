// A backend turns one TestCase into one ResultRecord: the model of a policy,
// the running kernel, or a kernel booted elsewhere.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "results/record.h"
#include "suites/workload/params.h"
#include "suites/workload/scenario.h"
#include "suites/workload/workloads.h"

namespace pasidbench {

struct TestCase {
  std::string test_id;
  std::string suite;
  std::string workload;  // as named in the suite or on the command line
  WorkloadKind kind = WorkloadKind::kCanonical;
  Scenario scenario;   // empty for micro workloads
  ParamValues params;  // workload and backend parameters, validated
  // What the record shows: every workload parameter, and the backend
  // parameters that were given (the rest are the backend's defaults).
  std::map<std::string, std::string> recorded_params;
  std::string backend;
  int timeout_s = 120;
  int repetitions = 1;
  bool expect_fail = false;
  std::string mutant_of;  // the backend runs a seeded mutant of this policy
};

struct RunContext {
  std::string run_id;
  Provenance provenance;  // of the machine and kernel running pasidbench
  std::string out_dir;    // where a backend may leave artefacts (replay files); may be empty
  bool verbose = false;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Parameters the backend itself takes (search strategy, seed, ...). They
  // share one namespace with the workload's parameters.
  virtual const std::vector<ParamSpec>& params() const = 0;
  // Whether this backend can run a workload of this kind; `why` says why not.
  virtual bool supports(WorkloadKind kind, std::string* why) const = 0;
  // Checks what the parameter specs cannot (files a parameter names, limits
  // that depend on the scenario) while a suite is planned, so bad input
  // exits 2 before anything runs. Throws InputError.
  virtual void check(const TestCase&) const {}
  // A backend that runs a seeded mutant names the policy it mutates: the
  // suite expects some test to catch it (results/verdict.h).
  virtual std::string mutant_of() const { return {}; }
  // Runs the test. Returns a record with outcome, metrics and so on; the
  // runner fills run_id, test_id, suite, timing and provenance it knows.
  virtual ResultRecord run(const TestCase& test, const RunContext& ctx) = 0;
};

struct BackendVariant {
  std::string name;
  std::string description;
  std::string parent;  // for seeded mutants: the policy they deviate from
};

struct BackendFamily {
  std::string prefix;  // "model", "host"
  std::string description;
  std::vector<BackendVariant> variants;  // model: one per policy; host: none
  std::function<std::unique_ptr<Backend>(const std::string& variant)> create;
  // Variants `create` accepts that are not listed (no `*`, `**` or listing
  // shows them): the model's generated mutants. Null: none.
  std::function<bool(const std::string& variant)> knows_unlisted = nullptr;
};

class BackendRegistry {
 public:
  void add(BackendFamily family);
  const std::vector<BackendFamily>& families() const { return families_; }
  const BackendFamily* family(const std::string& prefix) const;
  // "model:task-refcount", "host". Throws InputError at `where` listing what exists.
  std::unique_ptr<Backend> create(const std::string& name, const SourceLocation& where) const;
  // Every full backend name ("model:<policy>" for each policy, "host", ...).
  std::vector<std::string> all_names() const;
  // Expands "model:*" to every model variant that is not a seeded mutant and
  // "model:**" to every variant; other names are validated and pass through.
  std::vector<std::string> expand(const std::string& pattern, const SourceLocation& where) const;

 private:
  std::vector<BackendFamily> families_;
};

// A backend registers itself in its own file, at namespace scope:
//   const BackendRegistration kRegistered{host_backend_family, 20};
// `make` runs on the registry's first use, not at static initialization
// (a family may read other registries, e.g. the policy catalog); families
// are listed by `rank`, then prefix.
struct BackendRegistration {
  BackendRegistration(BackendFamily (*make)(), int rank);
};

// The registry with every backend linked into this program.
const BackendRegistry& backends();

}  // namespace pasidbench
