// Stored micro-benchmark results back in Google Benchmark's own JSON format,
// for Google Benchmark's tools/compare.py (`compare.py benchmarks a.json
// b.json` prints the per-benchmark change and, with repetitions on both
// sides, a Mann-Whitney U test).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pasidbench {

struct GbenchExportOptions {
  std::string kernel;      // only records of this kernel build (provenance.kernel.name)
  std::string test_regex;  // only test ids matching (std::regex_search); empty: all
};

// One Google Benchmark JSON document from the `details.google_benchmark` of
// the selected test records: the first one's context, every record's rows.
// compare.py pairs rows by name, so two records of one benchmark (two
// kernels, two runs) would mix; that throws std::runtime_error naming them.
nlohmann::json google_benchmark_document(const std::vector<nlohmann::json>& records,
                                         const GbenchExportOptions& options);

}  // namespace pasidbench
