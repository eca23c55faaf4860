// Environment provenance: what `pasidbench env --json` prints and every result
// file embeds. Every probe is best effort: an unreadable file becomes a note,
// never a crash or an invented value.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace pasidbench {

// Reads from `root` (normally "/"; tests point it at a fake tree).
nlohmann::json collect_environment(const std::string& root = "/");

// The revision compiled in (git describe of the source tree).
std::string pasidbench_revision();

// Where suites/, kernels/ and reports/ live: $PASIDBENCH_HOME, else the
// source tree this binary was built from.
std::string pasidbench_home();

}  // namespace pasidbench
