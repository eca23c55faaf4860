// Fuzzes the suite manifest reader and the parameter matrix it plans.
#include "platform/input_error.h"
#include "suites/workload/suite.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    pasidbench::Suite s =
        pasidbench::load_suite_text(pasidbench::fuzz::as_text(data, size), "fuzz.toml");
    for (const auto& t : s.tests) (void)pasidbench::expand_param_matrix(t);
  } catch (const pasidbench::InputError&) {
  }
  return 0;
}
