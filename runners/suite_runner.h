// Runs a suite: plan every test (all input checked before anything runs),
// then run each in its own process and append its record to results.jsonl.
#pragma once

#include <string>
#include <vector>

#include "runners/backends/backend.h"
#include "suites/workload/suite.h"

namespace pasidbench {

struct RunOptions {
  std::string suite_path;
  std::vector<std::string> backends;  // overrides the suite's; may hold "model:*"
  std::string out_dir;                // empty: out/<suite>-<run id>
  bool resume = false;
  std::string format = "text";  // text | ktap (stdout); progress goes to stderr
  std::string filter;           // substring of test ids to keep
  RawParams extra_params;       // --param, applied to every test
  bool quiet = false;
  // Provenance of the kernel under test when a lab runner drives us.
  KernelProvenance kernel;
  bool emulated = false;
  std::string time_base = "real";
};

// Expands the suite into test cases. Throws InputError for anything wrong.
std::vector<TestCase> plan_suite(const Suite& suite, const std::vector<std::string>& backends,
                                 const RawParams& extra_params);

// Builds one test case (also used by `check`). Throws InputError.
TestCase make_test_case(const std::string& workload_ref, const std::string& base_dir,
                        const SourceLocation& where, const RawParams& params,
                        const std::string& backend_name, const std::string& suite_name);

// Runs one test in an isolated child and returns its completed record.
ResultRecord run_one(const TestCase& test, const RunContext& ctx);

// Returns the process exit code: 0 all passed or skipped, 1 something failed.
// Throws InputError (exit 2) before writing anything if the input is bad.
int run_suite(const RunOptions& options);

}  // namespace pasidbench
