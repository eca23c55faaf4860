// Fuzzes the scenario reader; a scenario it accepts must survive a round trip
// through scenario_to_toml (what replay files store) unchanged.
#include <cstdio>
#include <cstdlib>

#include "platform/input_error.h"
#include "suites/workload/scenario.h"
#include "suites/workload/scenario_toml.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pasidbench;
  Scenario sc;
  try {
    sc = load_scenario_text(fuzz::as_text(data, size), "fuzz.toml");
    validate_scenario(sc);
  } catch (const InputError&) {
    return 0;
  }
  std::string once = scenario_to_toml(sc);
  Scenario again = load_scenario_text(once, "roundtrip.toml");  // must not throw
  if (scenario_to_toml(again) != once) {
    std::fprintf(stderr, "scenario round trip changed:\n%s\n", once.c_str());
    std::abort();
  }
  return 0;
}
