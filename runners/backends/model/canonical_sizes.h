// The sizes the conformance suite (suites/conformance.toml), the model tests
// and the speed benchmark run the canonical workloads at. A test checks that
// the suite file says the same.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pasidbench::model {

struct CanonicalSize {
  std::string workload;
  std::map<std::string, std::string> params;
};

// "3 tasks / 2 CPUs": exhaustive search with preemption bound 2.
inline const std::vector<CanonicalSize>& small_sizes() {
  static const std::vector<CanonicalSize> sizes = {
      {"thread-pool", {{"tasks", "3"}, {"cpus", "2"}, {"binder", "unbinds"}}},
      {"clone-bind-exit", {{"rounds", "2"}, {"cpus", "2"}}},
      {"long-lived-binders",
       {{"processes", "1"},
        {"threads", "2"},
        {"cpus", "2"},
        {"bystanders", "1"},
        {"turnover", "1"}}},
  };
  return sizes;
}

// Larger sizes for PCT (>= 10,000 schedules).
inline const std::vector<CanonicalSize>& large_sizes() {
  static const std::vector<CanonicalSize> sizes = {
      {"thread-pool", {{"tasks", "6"}, {"cpus", "4"}, {"binder", "unbinds"}, {"submits", "2"}}},
      {"clone-bind-exit", {{"rounds", "4"}, {"cpus", "3"}, {"submits", "2"}}},
      {"long-lived-binders",
       {{"processes", "3"},
        {"threads", "3"},
        {"cpus", "4"},
        {"bystanders", "2"},
        {"turnover", "2"}}},
  };
  return sizes;
}

}  // namespace pasidbench::model
