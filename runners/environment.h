// Environment provenance: what `pasidbench env --json` prints and every result
// file embeds. Every probe is best effort: an unreadable file becomes a note,
// never a crash or an invented value.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "results/record.h"

namespace pasidbench {

// Reads from `root` (normally "/"; tests point it at a fake tree).
nlohmann::json collect_environment(const std::string& root = "/");

// The per-record provenance derived from an environment object.
Provenance provenance_from_environment(const nlohmann::json& env);

// The revision compiled in (git describe of the source tree).
std::string pasidbench_revision();

// Where suites/, kernels/ and reports/ live: $PASIDBENCH_HOME, else the
// source tree this binary was built from.
std::string pasidbench_home();

}  // namespace pasidbench
