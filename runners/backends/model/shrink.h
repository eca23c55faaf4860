// Shrinks a failing schedule: fewer tasks, steps and deviations while it
// still fails the same way -- the same violation kind, and for
// unexpected_outcome the same step with the same outcome (Hypothesis-style,
// over the scenario and the choice list; every candidate is re-run, nothing
// is assumed). It keeps trying harder while its budget lasts.
#pragma once

#include <cstdint>
#include <vector>

#include "runners/backends/model/search.h"
#include "suites/workload/scenario.h"

namespace pasidbench::model {

struct ShrinkResult {
  Scenario scenario;
  std::vector<Deviation> deviations;
  int violation = -1;
  int64_t events = 0;           // actions up to and including the violation
  int64_t original_events = 0;  // before shrinking
  int64_t candidates = 0;       // candidates run
  int64_t accepted = 0;         // candidates that still failed and were kept
  int64_t rounds = 0;           // rounds of the search effort
  double seconds = 0;
};

// A measure of scenario size: tasks times steps, counts included.
int64_t scenario_weight(const Scenario& scenario);

// Smaller variants of `scenario`, the largest cuts first; some are invalid
// (validate_scenario decides).
std::vector<Scenario> shrink_candidates(const Scenario& scenario);

// Gives every step of `scenario` a distinct Step::id (pre-order, from 1).
void number_steps(Scenario& scenario);

ShrinkResult shrink_counterexample(const Scenario& scenario, const PolicyInfo& policy,
                                   const MachineConfig& config, const Found& found,
                                   double budget_s);

}  // namespace pasidbench::model
