// A result set as KernelCI's KCIDB I/O data (schema v5.3): one checkout and
// one build per kernel build, one test object per result (PASS, FAIL, SKIP,
// ERROR) and one per measured metric (DONE with number{value, unit}). See
// docs/history.md for the mapping.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace pasidbench {

struct KcidbOptions {
  std::string origin = "pasidbench";  // [a-z0-9_]+: the CI system submitting
  std::string tree_name;              // checkout.tree_name, when known
};

// The origin KCIDB would reject, or a record it cannot take: `record` is the
// index into kcidb_report's `records` (-1 for the origin), so the caller can
// name the flag or the results file's line.
class KcidbInputError : public std::runtime_error {
 public:
  KcidbInputError(long record, const std::string& what)
      : std::runtime_error(what), record(record) {}
  long record;
};

// `records` are results.jsonl lines (environment records are skipped).
// Throws KcidbInputError.
nlohmann::json kcidb_report(const std::vector<nlohmann::json>& records,
                            const KcidbOptions& options);

// A dot-separated KCIDB test path component: [A-Za-z0-9_-]+.
std::string kcidb_path_part(const std::string& text);

}  // namespace pasidbench
