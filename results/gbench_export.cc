#include "results/gbench_export.h"

#include <map>
#include <regex>
#include <stdexcept>

#include "results/jsonl_store.h"

namespace pasidbench {

using nlohmann::json;

json google_benchmark_document(const std::vector<json>& records,
                               const GbenchExportOptions& options) {
  std::regex filter(options.test_regex.empty() ? "." : options.test_regex);
  json doc = {{"context", json::object()}, {"benchmarks", json::array()}};
  std::map<std::string, std::string> owner;  // benchmark run name -> the record that has it
  bool first = true;
  for (const auto& r : records) {
    if (record_type(r) != "test" || !r.contains("details") || !r["details"].is_object() ||
        !r["details"].contains("google_benchmark"))
      continue;
    const json& gb = r["details"]["google_benchmark"];
    if (!gb.is_object() || !gb.contains("benchmarks") || !gb["benchmarks"].is_array()) continue;
    std::string test_id = r.value("test_id", "");
    std::string kernel = r.value("/provenance/kernel/name"_json_pointer, std::string());
    if (!options.kernel.empty() && kernel != options.kernel) continue;
    if (!std::regex_search(test_id, filter)) continue;
    std::string who = test_id + " (kernel " + kernel + ", run " + r.value("run_id", "?") + ")";
    if (first && gb.contains("context")) doc["context"] = gb["context"];
    first = false;
    for (const auto& row : gb["benchmarks"]) {
      std::string run_name = row.value("run_name", row.value("name", ""));
      auto [it, fresh] = owner.try_emplace(run_name, who);
      if (!fresh && it->second != who)
        throw std::runtime_error("benchmark " + run_name + " is in two records: " + it->second +
                                 " and " + who +
                                 "; compare.py would mix them (choose with --kernel or --test)");
      doc["benchmarks"].push_back(row);
    }
  }
  if (owner.empty())
    throw std::runtime_error(
        "no selected record holds Google Benchmark output "
        "(details.google_benchmark)");
  return doc;
}

}  // namespace pasidbench
