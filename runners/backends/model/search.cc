#include "runners/backends/model/search.h"

#include <chrono>
#include <cstdio>

#include "runners/backends/model/strategies.h"

namespace pasidbench::model {

const char* to_string(Strategy s) {
  switch (s) {
    case Strategy::kExhaustive:
      return "exhaustive";
    case Strategy::kPct:
      return "pct";
    case Strategy::kRandom:
      return "random";
  }
  return "?";
}

namespace {

class Accumulator {
 public:
  Accumulator(SearchResult& out, const SearchConfig& config) : out_(out), config_(config) {}

  // The reference schedule: its result counts like any other schedule's,
  // even when the search proper never runs one.
  void add_reference(const ScheduleResult& r) { count(r); }

  // `same_as_reference`: the exhaustive search's first schedule takes the
  // timed default everywhere, i.e. it is the reference schedule again; it is
  // run (the search branches from it) but its result is already counted.
  void add(const ScheduleResult& r, bool same_as_reference = false) {
    ++out_.schedules;
    out_.decisions += r.decisions;
    out_.steps += r.steps;
    out_.digest = digest_mix(out_.digest, r.digest);
    if (out_.samples.size() < config_.max_samples) out_.samples.push_back(r.counters);
    if (!same_as_reference) count(r);
  }

 private:
  void count(const ScheduleResult& r) {
    ++out_.checked;
    if (r.step_limit) ++out_.step_limit_runs;
    for (int k = 0; k < kViolationKinds; ++k)
      if (r.violations[k] > 0) ++out_.failing_schedules[k];
    for (int k = 0; k < kOutcomeKinds; ++k) out_.outcomes[k] += r.outcomes[k];
    if (out_.step_outcomes.size() < r.step_outcomes.size()) {
      out_.step_outcomes.resize(r.step_outcomes.size(), 0);
      out_.step_witnesses.resize(r.step_outcomes.size());
    }
    for (size_t i = 0; i < r.step_outcomes.size(); ++i) {
      if (const uint8_t first = r.step_outcomes[i] & ~out_.step_outcomes[i]; first != 0)
        for (int k = 0; k < kOutcomeKinds; ++k)
          if (first & (1u << k)) out_.step_witnesses[i][k] = r.deviations;
      out_.step_outcomes[i] |= r.step_outcomes[i];
    }
    if (r.failed() && (out_.found.violation < 0 || r.violation_kind < out_.found.violation)) {
      out_.found.violation = r.violation_kind;
      out_.found.deviations = r.deviations;
      out_.found.event = r.violation_event;
      out_.found.schedule = out_.checked - 1;
    }
  }

  SearchResult& out_;
  const SearchConfig& config_;
};

}  // namespace

SearchResult run_search(Machine& machine, const SearchConfig& config) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(clock::now() - start).count(); };
  auto out_of_time = [&] { return config.time_limit_s > 0 && elapsed() > config.time_limit_s; };
  auto time_limit_text = [&] {
    char text[64];
    std::snprintf(text, sizeof text, "the time limit (%g s)", config.time_limit_s);
    return std::string(text);
  };

  SearchResult out;
  out.strategy = config.strategy;
  // The timed default schedule: the realistic timeline the metrics start from.
  DefaultChooser reference;
  machine.run(reference, true, out.reference);
  out.timeline = machine.timeline();
  out.samples.push_back(out.reference.counters);

  Accumulator acc(out, config);
  acc.add_reference(out.reference);
  ScheduleResult r;
  switch (config.strategy) {
    case Strategy::kExhaustive: {
      ExhaustiveChooser chooser(config.preemption_bound);
      do {
        if (config.schedules > 0 && out.schedules >= config.schedules) {
          out.complete = false;
          out.stopped_by = "the schedules cap (" + std::to_string(config.schedules) + ")";
          break;
        }
        if ((out.schedules & 255) == 0 && out_of_time()) {
          out.complete = false;
          out.stopped_by = time_limit_text();
          break;
        }
        chooser.begin();
        machine.run(chooser, false, r);
        acc.add(r, out.schedules == 0);
      } while (chooser.next());
      break;
    }
    case Strategy::kPct:
    case Strategy::kRandom: {
      const int64_t n = config.schedules > 0 ? config.schedules : kDefaultSchedules;
      PctChooser pct(config.pct_depth);
      RandomChooser random;
      int64_t k = out.reference.decisions;
      uint64_t seed_state = config.seed;
      for (int64_t i = 0; i < n; ++i) {
        if ((i & 255) == 0 && out_of_time()) {
          out.complete = false;
          out.stopped_by = time_limit_text();
          break;
        }
        uint64_t seed = splitmix64(seed_state);
        if (config.strategy == Strategy::kPct) {
          pct.begin(seed, k);
          machine.run(pct, false, r);
          k = std::max(k, pct.decisions());
        } else {
          random.begin(seed);
          machine.run(random, false, r);
        }
        acc.add(r);
      }
      break;
    }
  }
  out.seconds = elapsed();
  return out;
}

ScheduleResult replay_schedule(Machine& machine, const std::vector<Deviation>& deviations,
                               bool strict, bool record, std::string* divergence) {
  ReplayChooser chooser(deviations, strict);
  ScheduleResult r;
  machine.run(chooser, record, r);
  if (divergence) {
    *divergence = chooser.divergence();
    if (divergence->empty() && strict && chooser.unused() > 0)
      *divergence = std::to_string(chooser.unused()) +
                    " recorded decision(s) were never reached (the run ended earlier)";
  }
  return r;
}

}  // namespace pasidbench::model
