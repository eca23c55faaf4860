// A result set as KernelCI's KCIDB I/O data (schema v5.3): one checkout and
// one build per kernel build, one test object per result (PASS, FAIL, SKIP,
// ERROR) and one per measured metric (DONE with number{value, unit}). See
// docs/history.md for the mapping.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pasidbench {

struct KcidbOptions {
  std::string origin = "pasidbench";  // [a-z0-9_]+: the CI system submitting
  std::string tree_name;              // checkout.tree_name, when known
};

// `records` are results.jsonl lines (environment records are skipped).
// Throws std::runtime_error for an origin KCIDB would reject.
nlohmann::json kcidb_report(const std::vector<nlohmann::json>& records,
                            const KcidbOptions& options);

// A dot-separated KCIDB test path component: [A-Za-z0-9_-]+.
std::string kcidb_path_part(const std::string& text);

}  // namespace pasidbench
