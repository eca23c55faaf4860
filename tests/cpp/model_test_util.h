// Helpers shared by the model_*_test.cc files.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/policies/policy.h"
#include "runners/backends/model/canonical_sizes.h"
#include "runners/backends/model/machine.h"
#include "runners/backends/model/search.h"
#include "runners/backends/model/strategies.h"
#include "suites/workload/scenario_toml.h"
#include "suites/workload/workloads.h"

namespace pasidbench::model::testing {

inline Scenario canonical(const std::string& workload,
                          const std::map<std::string, std::string>& params = {}) {
  for (const auto& w : builtin_workloads()) {
    if (w.name != workload) continue;
    RawParams raw;
    for (const auto& [k, v] : params) raw[k] = {v, {}};
    Scenario sc = w.generate(resolve_params({&w.params}, raw));
    validate_scenario(sc);
    return sc;
  }
  throw std::logic_error("no workload " + workload);
}

inline Scenario canonical(const CanonicalSize& size) {
  return canonical(size.workload, size.params);
}

inline Scenario scenario(const std::string& toml) { return load_scenario_text(toml, "test.toml"); }

inline const PolicyInfo& policy(const std::string& name) {
  const PolicyInfo* p = find_policy(name);
  if (!p) throw std::logic_error("no policy " + name);
  return *p;
}

inline SearchResult search(const Scenario& sc, const PolicyInfo& p, Strategy strategy,
                           int64_t schedules = 0, int bound = 2, uint64_t seed = 1) {
  Machine m(sc, p, MachineConfig{});
  SearchConfig c;
  c.strategy = strategy;
  c.schedules = schedules;
  c.preemption_bound = bound;
  c.seed = seed;
  return run_search(m, c);
}

// A policy made in a test: a name and a factory.
template <typename P>
PolicyInfo test_policy(const std::string& name, const std::string& parent = "") {
  return {name, "test-only policy", parent, [] { return std::make_unique<P>(); }};
}

// The reference (timed default) schedule, recorded.
struct Recorded {
  ScheduleResult result;
  std::vector<TraceEvent> trace;
  std::vector<PasidInterval> timeline;
};
inline Recorded reference(const Scenario& sc, const PolicyInfo& p,
                          MachineConfig config = MachineConfig{}) {
  Machine m(sc, p, config);
  DefaultChooser c;
  Recorded out;
  m.run(c, true, out.result);
  out.trace = m.trace();
  out.timeline = m.timeline();
  return out;
}

// Virtual time of the first trace line containing `text`, -1 if none.
inline int64_t time_of(const std::vector<TraceEvent>& trace, const std::string& text) {
  for (const auto& e : trace)
    if (e.text.find(text) != std::string::npos) return e.time_ns;
  return -1;
}
inline int64_t last_time_of(const std::vector<TraceEvent>& trace, const std::string& text) {
  int64_t t = -1;
  for (const auto& e : trace)
    if (e.text.find(text) != std::string::npos) t = e.time_ns;
  return t;
}

// From the catalogue, so that a new policy or mutant is tested without an
// edit here.
inline const std::vector<std::string>& real_policies() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& p : policy_catalog())
      if (p.parent.empty()) out.push_back(p.name);
    return out;
  }();
  return names;
}

inline const std::vector<std::string>& mutants() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& p : policy_catalog())
      if (!p.parent.empty()) out.push_back(p.name);
    return out;
  }();
  return names;
}

}  // namespace pasidbench::model::testing
