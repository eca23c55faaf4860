// Scenario files: see docs/scenario-format.md.
#pragma once

#include <string>
#include <string_view>

#include "suites/workload/scenario.h"

namespace pasidbench {

// Loads and validates a scenario file. Throws InputError with file:line.
Scenario load_scenario_file(const std::string& path);
// Same, from text; `file` is only used in messages.
Scenario load_scenario_text(std::string_view text, const std::string& file);

}  // namespace pasidbench
