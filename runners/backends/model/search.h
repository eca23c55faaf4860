// Runs a search strategy over the simulator and aggregates what it saw.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "runners/backends/model/machine.h"
#include "runners/backends/model/prng.h"

namespace pasidbench::model {

enum class Strategy { kExhaustive, kPct, kRandom };
// pct and random: schedules run when the `schedules` parameter is 0.
inline constexpr int64_t kDefaultSchedules = 10000;
const char* to_string(Strategy s);

struct SearchConfig {
  Strategy strategy = Strategy::kExhaustive;
  int preemption_bound = 2;
  // pct and random: how many schedules (0: 10000). exhaustive: a cap (0: none).
  int64_t schedules = 0;
  int pct_depth = 3;
  uint64_t seed = 1;
  size_t max_samples = 256;  // per-schedule metric samples kept
  double time_limit_s = 0;   // 0: none
};

// The failing schedule the search keeps: the most severe violation kind
// seen, the first schedule that showed it (the reference schedule first).
struct Found {
  int violation = -1;
  std::vector<Deviation> deviations;
  int64_t event = 0;     // 1-based action index of the violation
  int64_t schedule = 0;  // index among the checked schedules (0: the reference)
};

struct SearchResult {
  Strategy strategy = Strategy::kExhaustive;
  int64_t schedules = 0;  // strategy schedules run (the reference not counted)
  // Distinct schedules whose results count: the reference schedule and every
  // strategy schedule (the exhaustive search's first one is the reference).
  int64_t checked = 0;
  int64_t decisions = 0;
  int64_t steps = 0;
  double seconds = 0;
  // exhaustive: every schedule within the bound was run; pct/random: every
  // requested schedule was run. Never true for a search that was cut short.
  bool complete = true;
  std::string stopped_by;       // why an incomplete search stopped
  int64_t step_limit_runs = 0;  // schedules cut off at max_steps
  // Over the `checked` schedules, the reference included:
  std::array<int64_t, kViolationKinds> failing_schedules{};  // schedules showing the kind
  std::array<int64_t, kOutcomeKinds> outcomes{};             // submissions
  // Per submit step (Machine::submit_steps()): the outcomes its submissions
  // had in some checked schedule, a bit per SubmitOutcome. A set of what the
  // model can produce only when `complete` (and, exhaustive, within the
  // preemption bound).
  std::vector<uint8_t> step_outcomes;
  // For each bit of step_outcomes, the deviations of the first checked
  // schedule that set it: a schedule to replay that shows the outcome there.
  std::vector<std::array<std::vector<Deviation>, kOutcomeKinds>> step_witnesses;
  std::vector<Counters> samples;  // the reference schedule's first, then one per schedule
  ScheduleResult reference;       // the timed default schedule, recorded
  std::vector<PasidInterval> timeline;
  uint64_t digest = kDigestSeed;  // every schedule's digest, in order
  Found found;
};

SearchResult run_search(Machine& machine, const SearchConfig& config);

// Runs one recorded schedule (strict: a divergence is reported in
// `divergence`; guided: missing actions fall back to the default).
ScheduleResult replay_schedule(Machine& machine, const std::vector<Deviation>& deviations,
                               bool strict, bool record, std::string* divergence = nullptr);

}  // namespace pasidbench::model
