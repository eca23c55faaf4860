#include "runners/backends/model/shrink.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>

#include "runners/backends/model/prng.h"
#include "runners/backends/model/strategies.h"

namespace pasidbench::model {

namespace {

int64_t steps_weight(const std::vector<Step>& steps) {
  int64_t w = 0;
  for (const auto& s : steps) {
    w += 1;
    switch (s.op) {
      case StepOp::kSubmit:
      case StepOp::kCloneThread:
      case StepOp::kFork:
      case StepOp::kAwait:
        w += s.count - 1;
        break;
      case StepOp::kRepeat:
        w += s.count * steps_weight(s.body);
        break;
      case StepOp::kCompute:
      case StepOp::kSleep:
        w += s.duration_ns > 0 ? 1 : 0;
        break;
      default:
        break;
    }
  }
  return w;
}

bool refers_to(const Step& s, const std::string& task) {
  return (s.op == StepOp::kCloneThread || s.op == StepOp::kFork || s.op == StepOp::kWait) &&
         s.task == task;
}

void drop_references(std::vector<Step>& steps, const std::string& task) {
  std::erase_if(steps, [&](const Step& s) { return refers_to(s, task); });
  for (auto& s : steps)
    if (s.op == StepOp::kRepeat) drop_references(s.body, task);
}

bool started_anywhere(const std::vector<Step>& steps, const std::string& task) {
  for (const auto& s : steps) {
    if ((s.op == StepOp::kCloneThread || s.op == StepOp::kFork) && s.task == task) return true;
    if (s.op == StepOp::kRepeat && started_anywhere(s.body, task)) return true;
  }
  return false;
}

// Removes a template, the steps naming it, and templates nobody starts any more.
Scenario without_template(const Scenario& sc, const std::string& name) {
  Scenario out = sc;
  std::vector<std::string> gone = {name};
  while (!gone.empty()) {
    std::string n = gone.back();
    gone.pop_back();
    std::erase_if(out.tasks, [&](const TaskTemplate& t) { return t.name == n; });
    for (auto& t : out.tasks) drop_references(t.program, n);
    for (const auto& t : out.tasks) {
      if (t.initial) continue;
      bool started = false;
      for (const auto& p : out.tasks) started |= started_anywhere(p.program, t.name);
      if (!started && std::find(gone.begin(), gone.end(), t.name) == gone.end())
        gone.push_back(t.name);
    }
  }
  return out;
}

// Calls fn(steps, index) for every step of every program, repeat bodies
// included, on a fresh copy of the scenario each time.
void for_each_step_copy(const Scenario& sc,
                        const std::function<void(Scenario&, std::vector<Step>&, size_t)>& fn) {
  std::function<void(const std::vector<Step>&, std::vector<size_t>&, size_t)> walk =
      [&](const std::vector<Step>& steps, std::vector<size_t>& path, size_t tmpl) {
        for (size_t i = 0; i < steps.size(); ++i) {
          Scenario copy = sc;
          std::vector<Step>* list = &copy.tasks[tmpl].program;
          for (size_t p : path) list = &(*list)[p].body;
          fn(copy, *list, i);
          if (steps[i].op == StepOp::kRepeat) {
            path.push_back(i);
            walk(steps[i].body, path, tmpl);
            path.pop_back();
          }
        }
      };
  for (size_t t = 0; t < sc.tasks.size(); ++t) {
    std::vector<size_t> path;
    walk(sc.tasks[t].program, path, t);
  }
}

}  // namespace

int64_t scenario_weight(const Scenario& sc) {
  int64_t w = sc.cpus - 1;
  for (const auto& t : sc.tasks) w += (t.initial ? t.instances : 1) * (1 + steps_weight(t.program));
  return w;
}

std::vector<Scenario> shrink_candidates(const Scenario& sc) {
  std::vector<Scenario> out;
  for (const auto& t : sc.tasks) out.push_back(without_template(sc, t.name));
  for (int64_t cpus : {int64_t{2}, sc.cpus - 1})
    if (cpus >= 1 && cpus < sc.cpus) {
      Scenario c = sc;
      c.cpus = cpus;
      out.push_back(std::move(c));
    }
  for (size_t i = 0; i < sc.tasks.size(); ++i)
    if (sc.tasks[i].initial && sc.tasks[i].instances > 1) {
      Scenario c = sc;
      c.tasks[i].instances = 1;
      out.push_back(c);
      if (sc.tasks[i].instances > 2) {
        c.tasks[i].instances = sc.tasks[i].instances - 1;
        out.push_back(c);
      }
    }
  for_each_step_copy(sc, [&](Scenario& c, std::vector<Step>& steps, size_t i) {
    steps.erase(steps.begin() + static_cast<long>(i));
    out.push_back(std::move(c));
  });
  for_each_step_copy(sc, [&](Scenario& c, std::vector<Step>& steps, size_t i) {
    Step& s = steps[i];
    if (s.op == StepOp::kRepeat && s.count >= 1) {
      std::vector<Step> body = s.body;
      steps.erase(steps.begin() + static_cast<long>(i));
      steps.insert(steps.begin() + static_cast<long>(i), body.begin(), body.end());
      out.push_back(std::move(c));
    }
  });
  for_each_step_copy(sc, [&](Scenario& c, std::vector<Step>& steps, size_t i) {
    Step& s = steps[i];
    bool counted = s.op == StepOp::kSubmit || s.op == StepOp::kCloneThread ||
                   s.op == StepOp::kFork || s.op == StepOp::kAwait || s.op == StepOp::kRepeat;
    if (counted && s.count > 1) {
      int64_t n = s.count;
      s.count = 1;
      out.push_back(c);
      if (n > 2) {
        s.count = n - 1;
        out.push_back(std::move(c));
      }
    }
  });
  for_each_step_copy(sc, [&](Scenario& c, std::vector<Step>& steps, size_t i) {
    Step& s = steps[i];
    if ((s.op == StepOp::kCompute || s.op == StepOp::kSleep) && s.duration_ns > 0) {
      s.duration_ns = 0;
      out.push_back(std::move(c));
    }
  });
  return out;
}

void number_steps(Scenario& scenario) {
  uint32_t next = 1;
  std::function<void(std::vector<Step>&)> walk = [&](std::vector<Step>& steps) {
    for (auto& s : steps) {
      s.id = next++;
      walk(s.body);
    }
  };
  for (auto& t : scenario.tasks) walk(t.program);
}

ShrinkResult shrink_counterexample(const Scenario& scenario, const PolicyInfo& policy,
                                   const MachineConfig& config, const Found& found,
                                   double budget_s) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(clock::now() - start).count(); };

  ShrinkResult best;
  best.scenario = scenario;
  number_steps(best.scenario);
  best.deviations = found.deviations;
  best.violation = found.violation;
  best.events = found.event;
  best.original_events = found.event;

  // The failure to keep: its kind, and for unexpected_outcome the step and
  // the outcome (another step failing another way is another bug).
  uint32_t want_step = 0;
  int want_outcome = -1;
  const bool unexpected = found.violation == static_cast<int>(Violation::kUnexpectedOutcome);
  if (unexpected) {
    Machine m(best.scenario, policy, config);
    ScheduleResult r = replay_schedule(m, found.deviations, false, false);
    want_step = r.unexpected_step;
    want_outcome = r.unexpected_outcome;
  }
  auto same_bug = [&](const ScheduleResult& r) {
    if (r.violation_kind != best.violation) return false;
    return !unexpected || (r.unexpected_step == want_step && r.unexpected_outcome == want_outcome);
  };

  struct Hit {
    std::vector<Deviation> deviations;
    int64_t events;
  };
  // Searches `m` for schedules showing the same failure: an exhaustive
  // search, then seeded random schedules. Keeps the one with the fewest
  // events when `shortest`, else returns the first.
  auto search = [&](Machine& m, int bound, int64_t exhaustive_cap, int64_t random_runs,
                    bool shortest) -> std::optional<Hit> {
    std::optional<Hit> hit;
    ScheduleResult r;
    auto consider = [&](const ScheduleResult& run) {
      if (!same_bug(run)) return false;
      if (!hit || run.violation_event < hit->events ||
          (run.violation_event == hit->events && run.deviations.size() < hit->deviations.size()))
        hit = Hit{run.deviations, run.violation_event};
      return !shortest;
    };
    ExhaustiveChooser exhaustive(bound);
    int64_t runs = 0;
    do {
      exhaustive.begin();
      m.run(exhaustive, false, r);
      if (consider(r)) return hit;
    } while (++runs < exhaustive_cap && exhaustive.next() && elapsed() < budget_s);
    RandomChooser random;
    uint64_t seed = 0x5eed + static_cast<uint64_t>(random_runs);
    for (int64_t i = 0; i < random_runs && elapsed() < budget_s; ++i) {
      random.begin(splitmix64(seed));
      m.run(random, false, r);
      if (consider(r)) return hit;
    }
    return hit;
  };

  // Rounds of growing effort: a candidate scenario that the current choices
  // no longer break is searched (bound 2, then 3), with 4x the schedules
  // each round, until a round changes nothing at the largest effort or the
  // budget is spent.
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds && elapsed() < budget_s; ++round) {
    const int64_t effort = int64_t{300} << (2 * round);
    const int bound = round < 2 ? 2 : 3;
    bool changed = false;
    // Does `sc` still fail the same way? First with the current choices
    // (guided), then by a search of its own.
    auto fails = [&](const Scenario& sc, const std::vector<Deviation>& devs) -> std::optional<Hit> {
      ++best.candidates;
      try {
        validate_scenario(sc);
        Machine m(sc, policy, config);
        ScheduleResult r = replay_schedule(m, devs, false, false);
        if (same_bug(r)) return Hit{r.deviations, r.violation_event};
        return search(m, bound, effort, effort, false);
      } catch (const InputError&) {
      }
      return std::nullopt;
    };
    bool improved = true;
    while (improved && elapsed() < budget_s) {
      improved = false;
      const int64_t weight = scenario_weight(best.scenario);
      for (const Scenario& c : shrink_candidates(best.scenario)) {
        if (elapsed() >= budget_s) break;
        if (scenario_weight(c) >= weight) continue;
        if (auto hit = fails(c, best.deviations)) {
          best.scenario = c;
          best.deviations = std::move(hit->deviations);
          best.events = hit->events;
          ++best.accepted;
          improved = changed = true;
          break;
        }
      }
    }

    // The shortest schedule of this scenario, then fewer deviations.
    Machine m(best.scenario, policy, config);
    if (elapsed() < budget_s) {
      if (auto hit = search(m, bound, 20 * effort, 2 * effort, true);
          hit && hit->events < best.events) {
        best.deviations = std::move(hit->deviations);
        best.events = hit->events;
        ++best.accepted;
        changed = true;
      }
    }
    for (size_t i = best.deviations.size(); i-- > 0 && elapsed() < budget_s;) {
      std::vector<Deviation> fewer = best.deviations;
      fewer.erase(fewer.begin() + static_cast<long>(i));
      ++best.candidates;
      ScheduleResult r = replay_schedule(m, fewer, false, false);
      if (same_bug(r) && r.violation_event <= best.events) {
        best.deviations = r.deviations;
        best.events = r.violation_event;
        ++best.accepted;
        changed = true;
        i = std::min(i, best.deviations.size());
      }
    }
    ++best.rounds;
    // A round that changed something is repeated at the same effort first.
    if (changed && round > 0) round -= 1;
    if (!changed && round == kRounds - 1) break;
  }
  best.seconds = elapsed();
  return best;
}

}  // namespace pasidbench::model
