// Suite manifests: workloads x parameters x backends. See docs/suite-format.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "suites/workload/params.h"

namespace pasidbench {

// Limits on what a manifest may ask for, so a typo cannot plan a run that
// never ends or wrap a number.
inline constexpr int64_t kMaxTimeoutS = 7 * 24 * 3600;
inline constexpr size_t kMaxTestsPerEntry = 100000;  // one [[test]]'s matrix
inline constexpr size_t kMaxTestsPerSuite = 100000;  // after backends are expanded

struct SuiteTest {
  std::string workload;                                 // builtin name or scenario file
  std::vector<std::string> backends;                    // empty: the suite's
  std::map<std::string, std::vector<RawParam>> params;  // a list is a matrix axis
  int timeout_s = 0;                                    // 0: the suite's
  bool expect_fail = false;  // a seeded mutant: failing is the expected result
  SourceLocation where;
};

struct Suite {
  std::string name;
  std::string description;
  std::string path;
  std::string base_dir;  // scenario paths are relative to it
  std::vector<std::string> backends;
  int timeout_s = 120;  // per test
  int repetitions = 1;  // benchmark samples per test
  std::vector<SuiteTest> tests;
};

Suite load_suite_file(const std::string& path);
Suite load_suite_text(std::string_view text, const std::string& file);

// The cartesian product of a test's parameter lists, in manifest order.
std::vector<RawParams> expand_param_matrix(const SuiteTest& test);

}  // namespace pasidbench
