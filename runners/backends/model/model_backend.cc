#include "runners/backends/model/model_backend.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "kernels/policies/mutation.h"
#include "platform/environment.h"
#include "results/jsonl_store.h"
#include "runners/backends/model/schedule_file.h"
#include "runners/backends/model/shrink.h"
#include "suites/workload/scenario_toml.h"

namespace pasidbench {

namespace model {

namespace {

using nlohmann::json;

const Costs kDefaultCosts;
const MachineConfig kDefaultMachine;

struct CostParam {
  const char* name;
  int64_t Costs::*field;
  const char* help;
};
constexpr CostParam kCostParams[] = {
    {"cost_ctxsw_ns", &Costs::ctxsw_ns, "one context switch (costs_from: ctxsw_ns)"},
    {"cost_ipi_ns", &Costs::ipi_ns,
     "one IPI: delivery latency and cost (costs_from: membarrier_ns)"},
    {"cost_task_work_ns", &Costs::task_work_ns, "one task_work callback at return to user"},
    {"cost_gp_fixup_ns", &Costs::gp_fixup_ns, "a #GP trap fixed up and the ENQCMD retried"},
    {"cost_switch_resync_ns", &Costs::switch_resync_ns,
     "PASID work in a context switch (static key on)"},
    {"cost_syscall_ns", &Costs::syscall_ns,
     "bind, unbind, clone, fork, exec, exit and futex steps"},
    {"cost_submit_ns", &Costs::submit_ns, "one ENQCMD"},
    {"ipi_late_ns", &Costs::ipi_late_ns, "delivery latency of an IPI the search makes late"},
    {"device_ns", &Costs::device_ns, "submission to execution of a descriptor"},
    {"device_late_ns", &Costs::device_late_ns,
     "submission to execution of a descriptor the search makes late"},
    {"slice_ns", &Costs::slice_ns, "scheduler time slice"},
};

std::vector<ParamSpec> build_specs() {
  std::vector<ParamSpec> s = {
      ParamSpec::Choice("strategy", "exhaustive", {"exhaustive", "pct", "random"},
                        "interleaving search: depth-first with a preemption bound, probabilistic "
                        "concurrency testing, or uniform random"),
      ParamSpec::Int("preemption_bound", 2, 0, 8,
                     "exhaustive: most deviations from the timed order per schedule"),
      ParamSpec::Int("schedules", 0, 0, 100000000,
                     "pct/random: schedules to run (0: 10000); exhaustive: a cap (0: none)"),
      ParamSpec::Int("pct_depth", 3, 1, 10, "pct: bug depth d (d-1 priority change points)"),
      ParamSpec::Int("seed", 1, 0, INT64_MAX, "pct/random: seed of the one PRNG"),
      ParamSpec::Int("max_steps", kDefaultMachine.max_steps, 100, 1000000000,
                     "actions per schedule before it is cut off"),
      ParamSpec::Bool("late_choices", true,
                      "let the search make IPIs and descriptor executions late"),
      ParamSpec::Bool("settle", false,
                      "when every task has ended, CPUs still holding an mm for lazy TLB switch "
                      "away (as the next task a real kernel runs there does) and what that "
                      "frees is counted: the module's counts after its settle wait"),
      ParamSpec::Bool("shrink", true, "shrink a counterexample before reporting it"),
      ParamSpec::String("costs_from", "",
                        "a host results.jsonl to take cost_ctxsw_ns (ctxsw_ns) and cost_ipi_ns "
                        "(membarrier_ns) from; \"this-run\": the records this run wrote before "
                        "the test"),
      ParamSpec::String("replay", "", "a replay file to run instead of searching"),
      ParamSpec::String("witness_step", "",
                        "a submit step (\"<task>/<index>\", as details.step_outcomes names "
                        "it): write a replay file of a schedule for each outcome the search saw "
                        "there (details.step_witnesses; diff-model asks for it at a mismatch)"),
  };
  for (const auto& c : kCostParams)
    s.push_back(ParamSpec::Int(c.name, kDefaultCosts.*(c.field), 0, int64_t{1} << 40, c.help));
  return s;
}

const ParamSpec& spec(const std::string& name) {
  for (const auto& s : model_param_specs())
    if (s.name == name) return s;
  throw std::logic_error("no model parameter " + name);
}

Strategy parse_strategy(const std::string& s) {
  if (s == "pct") return Strategy::kPct;
  if (s == "random") return Strategy::kRandom;
  return Strategy::kExhaustive;
}

std::string severity_name(int v) { return v < 0 ? "" : to_string(static_cast<Violation>(v)); }

Provenance model_provenance(const RunContext& ctx, const std::string& policy) {
  Provenance p;
  p.kernel.name = "model";
  p.kernel.release = "model";
  p.kernel.policy = policy;
  p.machine.hostname = ctx.provenance.machine.hostname;
  p.machine.time_base = "model";
  p.machine.emulated = false;
  p.pasidbench_revision = pasidbench_revision();
  return p;
}

void add_metrics(ResultRecord& r, const std::vector<Counters>& samples, const Costs& costs,
                 int64_t schedules, const std::string& cost_source) {
  auto series = [&](auto get) {
    std::vector<double> v;
    v.reserve(samples.size());
    for (const auto& c : samples) v.push_back(static_cast<double>(get(c)));
    return v;
  };
  r.add_metric("pasid_allocs", series([](const Counters& c) { return c.pasid_allocs; }));
  r.add_metric("pasid_frees", series([](const Counters& c) { return c.pasid_frees; }));
  r.add_metric("pasid_peak_live", series([](const Counters& c) { return c.pasid_peak_live; }));
  std::vector<double> idle;
  for (const auto& c : samples) idle.push_back(static_cast<double>(c.pasid_idle_ns) / 1e9);
  r.add_metric("pasid_seconds_idle", idle, "virtual time");
  r.add_metric("context_switches", series([](const Counters& c) { return c.context_switches; }));
  r.add_metric("context_switches_pasid_work",
               series([](const Counters& c) { return c.context_switches_pasid_work; }));
  r.add_metric("ipis", series([](const Counters& c) { return c.ipis; }));
  r.add_metric("task_work_runs", series([](const Counters& c) { return c.task_work_runs; }));
  r.add_metric("gp_fixups", series([](const Counters& c) { return c.gp_fixups; }));
  r.add_metric("submits", series([](const Counters& c) { return c.submits; }));
  r.add_metric("unexpected_outcomes",
               series([](const Counters& c) { return c.unexpected_outcomes; }));
  std::vector<double> overhead;
  for (const auto& c : samples) overhead.push_back(modelled_overhead_ns(c, costs));
  r.add_metric("modelled_overhead_ns", overhead, "unit costs: " + cost_source);
  r.add_metric("schedules_explored", {static_cast<double>(schedules)});
}

json cost_json(const Costs& costs, const std::string& source, const Counters& reference) {
  return {{"source", source},
          {"ctxsw_ns", costs.ctxsw_ns},
          {"ipi_ns", costs.ipi_ns},
          {"task_work_ns", costs.task_work_ns},
          {"gp_fixup_ns", costs.gp_fixup_ns},
          {"switch_resync_ns", costs.switch_resync_ns},
          {"reference_breakdown_ns",
           {{"context_switches", reference.context_switches * costs.ctxsw_ns},
            {"context_switches_pasid_work",
             reference.context_switches_pasid_work * costs.switch_resync_ns},
            {"ipis", reference.ipis * costs.ipi_ns},
            {"task_work_runs", reference.task_work_runs * costs.task_work_ns},
            {"gp_fixups", reference.gp_fixups * costs.gp_fixup_ns}}}};
}

void fill_outcomes(ResultRecord& r, const std::array<int64_t, kOutcomeKinds>& outcomes) {
  for (int k = 0; k < kOutcomeKinds; ++k)
    if (outcomes[k] > 0) r.outcomes[to_string(static_cast<SubmitOutcome>(k))] = outcomes[k];
}

// The reference schedule's counters, under the kmod records' metric names.
json counters_json(const Counters& c) {
  return {{"pasid_allocs", c.pasid_allocs},
          {"pasid_frees", c.pasid_frees},
          {"pasid_peak_live", c.pasid_peak_live},
          {"context_switches", c.context_switches},
          {"context_switches_pasid_work", c.context_switches_pasid_work},
          {"ipis", c.ipis},
          {"task_work_runs", c.task_work_runs},
          {"gp_fixups", c.gp_fixups},
          {"submits", c.submits}};
}

class ModelBackend : public Backend {
 public:
  explicit ModelBackend(const PolicyInfo& policy) : policy_(policy) {}

  std::string name() const override { return "model:" + policy_.name; }
  const std::vector<ParamSpec>& params() const override { return model_param_specs(); }
  bool supports(WorkloadKind kind, std::string* why) const override {
    if (kind != WorkloadKind::kMicro) return true;
    *why = "micro suites measure the running kernel (host backend); the model runs scenarios";
    return false;
  }

  void check(const TestCase& test) const override { check_model_test(test); }
  std::string mutant_of() const override { return policy_.parent; }
  ResultRecord run(const TestCase& test, const RunContext& ctx) override {
    ModelOptions o = model_options(test.params);
    if (o.costs_from_this_run) {
      const std::string records = ctx.out_dir + "/results.jsonl";
      if (ctx.out_dir.empty() || !std::filesystem::is_regular_file(records))
        throw InputError({"--param costs_from=this-run", 0},
                         "no records of this run yet (" +
                             (ctx.out_dir.empty() ? std::string("no output directory") : records) +
                             "): list the host micro benchmarks (micro:context-switch, micro:ipi) "
                             "before the model tests in the suite");
      o.machine.costs = costs_from_results(ctx.out_dir, o.machine.costs);
      o.cost_source = records + " (this run)";
    }
    if (!o.replay.empty()) return replay(o.replay, ctx);
    return search(test, o, ctx);
  }

 private:
  ResultRecord search(const TestCase& test, ModelOptions& o, const RunContext& ctx) {
    ResultRecord r;
    r.policy = policy_.name;
    r.provenance = model_provenance(ctx, policy_.name);
    if (o.search.time_limit_s == 0) o.search.time_limit_s = std::max(1.0, test.timeout_s * 0.6);
    Machine machine(test.scenario, policy_, o.machine);
    SearchResult s = run_search(machine, o.search);
    const int64_t requested = o.search.schedules > 0 ? o.search.schedules : kDefaultSchedules;

    json search = {{"strategy", to_string(s.strategy)},
                   {"schedules", s.schedules},
                   {"decisions", s.decisions},
                   {"steps", s.steps},
                   {"seconds", s.seconds},
                   {"decisions_per_second", s.seconds > 0 ? s.decisions / s.seconds : 0.0},
                   {"schedules_checked", s.checked},
                   {"complete", s.complete},
                   {"digest", hex64(s.digest)},
                   {"reference_digest", hex64(s.reference.digest)}};
    if (s.strategy == Strategy::kExhaustive) search["preemption_bound"] = o.search.preemption_bound;
    if (s.strategy == Strategy::kPct) search["pct_depth"] = o.search.pct_depth;
    if (s.strategy != Strategy::kExhaustive) search["seed"] = o.search.seed;
    if (s.strategy != Strategy::kExhaustive) search["schedules_requested"] = requested;
    if (!s.complete) search["stopped_by"] = s.stopped_by;
    if (s.step_limit_runs > 0) search["step_limit_schedules"] = s.step_limit_runs;
    r.search = search;

    for (int k = 0; k < kViolationKinds; ++k)
      if (s.failing_schedules[k] > 0)
        r.violations[to_string(static_cast<Violation>(k))] = s.failing_schedules[k];
    fill_outcomes(r, s.outcomes);
    add_metrics(r, s.samples, o.machine.costs, s.schedules, o.cost_source);
    r.pasid_timeline = s.timeline;
    r.details = {{"cost_model", cost_json(o.machine.costs, o.cost_source, s.reference.counters)},
                 {"reference_schedule",
                  {{"steps", s.reference.steps},
                   {"decisions", s.reference.decisions},
                   {"end_ns", s.reference.end_ns},
                   {"digest", hex64(s.reference.digest)},
                   {"counters", counters_json(s.reference.counters)}}}};
    // What each submit step's submissions had over the checked schedules
    // (pasidbench diff-model compares the module's per-step outcomes with it).
    json steps = json::object();
    for (size_t i = 0; i < machine.submit_steps().size(); ++i) {
      json kinds = json::array();
      const uint8_t bits = i < s.step_outcomes.size() ? s.step_outcomes[i] : 0;
      for (int k = 0; k < kOutcomeKinds; ++k)
        if (bits & (1u << k)) kinds.push_back(to_string(static_cast<SubmitOutcome>(k)));
      steps[machine.submit_steps()[i]] = kinds;
    }
    r.details["step_outcomes"] = steps;
    if (!o.witness_step.empty())
      r.details["step_witnesses"] = step_witnesses(test, o, s, machine.submit_steps(), ctx);

    std::string checked = std::to_string(s.checked) + " schedule" + (s.checked == 1 ? "" : "s");
    if (s.found.violation >= 0) {
      // A violation is a violation however much of the space was searched.
      r.outcome = Outcome::kFail;
      r.counterexample = counterexample(test, o, s.found, ctx, r.details);
      r.reason = severity_name(s.found.violation) + " in " +
                 std::to_string(s.failing_schedules[s.found.violation]) + " of " + checked +
                 (s.found.schedule == 0 ? " (the reference schedule among them)" : "") +
                 "; counterexample of " + std::to_string(r.counterexample.value("events", 0)) +
                 " events";
    } else if (s.step_limit_runs > 0) {
      r.outcome = Outcome::kError;
      r.reason = std::to_string(s.step_limit_runs) + " schedules reached max_steps (" +
                 std::to_string(o.machine.max_steps) + ") before the workload ended";
    } else if (!s.complete) {
      r.outcome = Outcome::kIncomplete;
      r.reason = "search stopped by " + s.stopped_by + " after " + checked + " (" +
                 (s.strategy == Strategy::kExhaustive
                      ? std::string("the exhaustive space was not covered")
                      : std::to_string(s.schedules) + " of " + std::to_string(requested) +
                            " requested " + to_string(s.strategy) + " schedules") +
                 "): no violation in what was checked, which is not a pass";
    } else {
      r.outcome = Outcome::kPass;
      r.reason = "no violation in " + checked +
                 (s.strategy == Strategy::kExhaustive
                      ? " (every schedule within preemption bound " +
                            std::to_string(o.search.preemption_bound) + ")"
                      : " (" + std::to_string(s.schedules) + " " + to_string(s.strategy) +
                            " schedules, all that were requested, and the reference)");
    }
    return r;
  }

  // The schedule `deviations` as a replay file of `scenario` (what it shows
  // is what a replay must show again), with the machine that replayed it.
  ReplaySchedule replay_file_of(const TestCase& test, const Scenario& scenario,
                                const ModelOptions& o, const std::vector<Deviation>& deviations,
                                Machine& machine, ScheduleResult& run) {
    run = replay_schedule(machine, deviations, true, true);
    ReplaySchedule file;
    file.policy = policy_.name;
    file.workload = test.workload;
    file.params = machine_params(o.machine);
    file.scenario_toml = scenario_to_toml(scenario);
    file.deviations = run.deviations;
    file.violation = severity_name(run.violation_kind);
    file.events = run.violation_event;
    file.steps = run.steps;
    file.decisions = run.decisions;
    file.digest = run.digest;
    file.revision = pasidbench_revision();
    return file;
  }

  // outcome -> replay file of the first schedule that had it at the step.
  json step_witnesses(const TestCase& test, const ModelOptions& o, const SearchResult& s,
                      const std::vector<std::string>& keys, const RunContext& ctx) {
    auto at = std::find(keys.begin(), keys.end(), o.witness_step);
    if (at == keys.end())
      throw InputError({"--param witness_step", 0},
                       "no submit step '" + o.witness_step + "' in " + test.workload);
    const size_t i = static_cast<size_t>(at - keys.begin());
    json out = json::object();
    if (i >= s.step_outcomes.size()) return out;
    for (int k = 0; k < kOutcomeKinds; ++k) {
      if (!(s.step_outcomes[i] & (1u << k))) continue;
      Machine machine(test.scenario, policy_, o.machine);
      ScheduleResult run;
      ReplaySchedule file =
          replay_file_of(test, test.scenario, o, s.step_witnesses[i][k], machine, run);
      const std::string kind = to_string(static_cast<SubmitOutcome>(k));
      if (ctx.out_dir.empty()) {
        out[kind] = nullptr;
        continue;
      }
      try {
        out[kind] = save_replay_file(file, ctx.out_dir);
      } catch (const std::exception& e) {
        out[kind] = std::string("not written: ") + e.what();
      }
    }
    return out;
  }

  json counterexample(const TestCase& test, const ModelOptions& o, const Found& found,
                      const RunContext& ctx, json& details) {
    ShrinkResult shrunk;
    if (o.shrink) {
      shrunk = shrink_counterexample(test.scenario, policy_, o.machine, found, o.shrink_budget_s);
    } else {
      shrunk.scenario = test.scenario;
      shrunk.deviations = found.deviations;
      shrunk.violation = found.violation;
      shrunk.events = shrunk.original_events = found.event;
    }
    Machine machine(shrunk.scenario, policy_, o.machine);
    ScheduleResult run;
    ReplaySchedule file = replay_file_of(test, shrunk.scenario, o, shrunk.deviations, machine, run);
    json schedule = replay_to_json(file);

    json ce = {{"violation", file.violation},
               {"events", file.events},
               {"trace", render_trace(machine.trace(), machine.cpus(), file.events)},
               {"schedule", schedule},
               {"deviations", file.deviations.size()}};
    ce["replay_file"] = nullptr;
    if (!ctx.out_dir.empty()) {
      try {
        ce["replay_file"] = save_replay_file(file, ctx.out_dir);
      } catch (const std::exception& e) {
        ce["replay_file_error"] = e.what();
      }
    }
    details["shrink"] = {{"events_before", shrunk.original_events},
                         {"events_after", file.events},
                         {"tasks_before", test.scenario.tasks.size()},
                         {"tasks_after", shrunk.scenario.tasks.size()},
                         {"weight_before", scenario_weight(test.scenario)},
                         {"weight_after", scenario_weight(shrunk.scenario)},
                         {"candidates", shrunk.candidates},
                         {"accepted", shrunk.accepted},
                         {"seconds", shrunk.seconds}};
    return ce;
  }

  ResultRecord replay(const std::string& path, const RunContext& ctx) {
    auto start = std::chrono::steady_clock::now();
    ReplaySchedule file = load_replay_file(path);
    if (file.policy != policy_.name)
      throw InputError({path, 0}, "the schedule is for policy '" + file.policy + "', not '" +
                                      policy_.name + "'");
    Scenario sc = load_scenario_text(file.scenario_toml, path + " (scenario)");
    MachineConfig config = machine_config(file.params, path);
    Machine machine(sc, policy_, config);
    std::string divergence;
    ScheduleResult run = replay_schedule(machine, file.deviations, true, true, &divergence);
    std::string got = severity_name(run.violation_kind);
    if (divergence.empty() && got != file.violation)
      divergence = "expected " + (file.violation.empty() ? "no violation" : file.violation) +
                   ", the replay showed " + (got.empty() ? "none" : got);
    if (divergence.empty() && run.violation_kind >= 0 && run.violation_event != file.events)
      divergence = "the violation came at event " + std::to_string(run.violation_event) +
                   ", recorded at event " + std::to_string(file.events);
    if (divergence.empty() && run.digest != file.digest)
      divergence =
          "run digest " + hex64(run.digest) + " differs from the recorded " + hex64(file.digest);

    ResultRecord r;
    r.policy = policy_.name;
    r.provenance = model_provenance(ctx, policy_.name);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.search = {{"strategy", "replay"},
                {"schedules", 1},
                {"decisions", run.decisions},
                {"steps", run.steps},
                {"seconds", seconds},
                {"digest", hex64(run.digest)},
                {"recorded_digest", hex64(file.digest)},
                {"reproduced", divergence.empty()},
                {"replay_file", path}};
    if (!divergence.empty()) r.search["divergence"] = divergence;
    for (int k = 0; k < kViolationKinds; ++k)
      if (run.violations[k] > 0) r.violations[to_string(static_cast<Violation>(k))] = 1;
    fill_outcomes(r, run.outcomes);
    add_metrics(r, {run.counters}, config.costs, 1, "replay file");
    r.pasid_timeline = machine.timeline();
    if (run.violation_kind >= 0 || !divergence.empty()) {
      int64_t upto = run.violation_kind >= 0 ? run.violation_event : 0;
      r.counterexample = {{"violation", got},
                          {"events", upto > 0 ? upto : run.steps},
                          {"trace", render_trace(machine.trace(), machine.cpus(), upto)},
                          {"schedule", replay_to_json(file)},
                          {"replay_file", path}};
    }
    if (!divergence.empty()) {
      r.outcome = Outcome::kError;
      r.reason = "replay diverged from " + path + ": " + divergence;
    } else if (run.violation_kind >= 0) {
      r.outcome = Outcome::kFail;
      r.reason = "replay of " + path + " reproduced " + got + " at event " +
                 std::to_string(run.violation_event) + " (digest " + hex64(run.digest) + ")";
    } else {
      r.outcome = Outcome::kPass;
      r.reason =
          "replay of " + path + " reproduced the recorded run (digest " + hex64(run.digest) + ")";
    }
    return r;
  }

  const PolicyInfo& policy_;
};

}  // namespace

std::unique_ptr<Backend> make_model_backend(const PolicyInfo& policy) {
  return std::make_unique<ModelBackend>(policy);
}

const std::vector<ParamSpec>& model_param_specs() {
  static const std::vector<ParamSpec> specs = build_specs();
  return specs;
}

ModelOptions model_options(const ParamValues& p) {
  ModelOptions o;
  o.search.strategy = parse_strategy(p.get("strategy"));
  o.search.preemption_bound = static_cast<int>(p.get_int("preemption_bound"));
  o.search.schedules = p.get_int("schedules");
  o.search.pct_depth = static_cast<int>(p.get_int("pct_depth"));
  o.search.seed = static_cast<uint64_t>(p.get_int("seed"));
  std::map<std::string, std::string> machine;
  for (const auto& c : kCostParams) machine[c.name] = p.get(c.name);
  machine["late_choices"] = p.get("late_choices");
  machine["settle"] = p.get("settle");
  machine["max_steps"] = p.get("max_steps");
  o.machine = machine_config(machine, "--param");
  o.shrink = p.get_bool("shrink");
  o.replay = p.get("replay");
  o.witness_step = p.get("witness_step");
  const std::string& from = p.get("costs_from");
  if (!from.empty()) {
    if (p.get("cost_ctxsw_ns") != spec("cost_ctxsw_ns").default_value ||
        p.get("cost_ipi_ns") != spec("cost_ipi_ns").default_value)
      throw InputError({"--param costs_from", 0},
                       "give costs_from or cost_ctxsw_ns/cost_ipi_ns, not both");
    if (from == "this-run") {
      // The run's own records are there only when the test runs, after
      // the host benchmarks the suite lists before it.
      o.costs_from_this_run = true;
    } else {
      o.machine.costs = costs_from_results(from, o.machine.costs);
      o.cost_source = from;
    }
  }
  return o;
}

std::map<std::string, std::string> machine_params(const MachineConfig& config) {
  std::map<std::string, std::string> out;
  for (const auto& c : kCostParams) out[c.name] = std::to_string(config.costs.*(c.field));
  out["late_choices"] = config.late_choices ? "true" : "false";
  out["settle"] = config.settle ? "true" : "false";
  out["max_steps"] = std::to_string(config.max_steps);
  return out;
}

MachineConfig machine_config(const std::map<std::string, std::string>& params,
                             const std::string& where) {
  MachineConfig config;
  for (const auto& [name, value] : params) {
    bool known = name == "late_choices" || name == "max_steps" || name == "settle";
    for (const auto& c : kCostParams) known |= name == c.name;
    if (!known) throw InputError({where, 0}, "unknown model parameter '" + name + "'");
    validate_param(spec(name), value, {where, 0});
  }
  auto get = [&](const std::string& name) {
    auto it = params.find(name);
    return validate_param(spec(name), it == params.end() ? spec(name).default_value : it->second,
                          {where, 0});
  };
  for (const auto& c : kCostParams) config.costs.*(c.field) = std::stoll(get(c.name));
  config.late_choices = get("late_choices") == "true";
  config.settle = get("settle") == "true";
  config.max_steps = std::stoll(get("max_steps"));
  return config;
}

Costs costs_from_results(const std::string& spec, Costs base) {
  SourceLocation where{"--param costs_from=" + spec, 0};
  // PATH or PATH#KERNEL: a lab's results hold several kernel builds.
  std::string path = spec, kernel;
  if (size_t hash = spec.rfind('#'); hash != std::string::npos) {
    path = spec.substr(0, hash);
    kernel = spec.substr(hash + 1);
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) path += "/results.jsonl";
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError(where, "no such results file");
  JsonlContents contents = read_jsonl(path);
  std::set<std::string> kernels;
  for (const auto& rec : contents.records)
    if (record_type(rec) == "test" && rec.contains("provenance") &&
        rec["provenance"].value("machine", json::object()).value("time_base", "") != "model")
      kernels.insert(rec["provenance"].value("kernel", json::object()).value("name", ""));
  if (kernel.empty() && kernels.size() > 1) {
    std::string names;
    for (const auto& k : kernels) names += (names.empty() ? "" : ", ") + k;
    throw InputError(where, "holds measurements of kernels " + names +
                                "; name one: costs_from=" + path + "#<kernel>");
  }
  if (!kernel.empty() && !kernels.count(kernel))
    throw InputError(where, "has no measurements of kernel '" + kernel + "'");

  double ctxsw = NAN, membarrier = NAN;
  // pasidlab.ko's micro benchmarks: (policy, what) -> median.
  std::map<std::pair<std::string, std::string>, double> kmod;
  for (const auto& rec : contents.records) {
    if (record_type(rec) != "test" || !rec.contains("metrics") ||
        rec.value("outcome", "pass") != "pass")
      continue;
    if (!kernel.empty() &&
        rec.value("provenance", json::object()).value("kernel", json::object()).value("name", "") !=
            kernel)
      continue;
    const auto& m = rec["metrics"];
    auto value = [&](const char* name) {
      return m.contains(name) && m[name].is_object() && m[name].contains("value") &&
                     m[name]["value"].is_number()
                 ? m[name]["value"].get<double>()
                 : NAN;
    };
    const std::string backend = rec.value("backend", "");
    if (backend.rfind("kmod:", 0) == 0) {
      const std::string policy = rec.value("policy", "");
      const json params = rec.value("params", json::object());
      const std::string w = rec.value("workload", "");
      if (w == "micro:pasidlab-switch" && params.value("placement", "") == "same_cpu")
        kmod[{policy, "switch/" + params.value("binding", "")}] = value("ctxsw_ns");
      if (w == "micro:pasidlab-first-submit")
        kmod[{policy, "first-extra"}] = value("first_submit_ns") - value("submit_ns");
      continue;
    }
    if (double v = value("ctxsw_ns"); !std::isnan(v)) ctxsw = v;
    if (double v = value("membarrier_ns"); !std::isnan(v)) membarrier = v;
  }
  auto km = [&](const std::string& policy, const std::string& what) {
    auto it = kmod.find({policy, what});
    return it == kmod.end() ? NAN : it->second;
  };
  // A switch with no module at all, when the host's own benchmark is absent.
  if (std::isnan(ctxsw))
    for (const auto& [key, v] : kmod)
      if (key.second == "switch/no_module" && !std::isnan(v)) ctxsw = v;
  // The resync's price: a switch in a bound mm under resync-ipi against
  // one with the probe off; the #GP fixup's: a first submission's extra
  // time with the fixup (mainline's) against without it (mm-lifetime).
  double resync = km("resync-ipi", "switch/bound") - km("resync-ipi", "switch/none_bound");
  double fixup = km("mm-lifetime-lazy-gp", "first-extra") - km("mm-lifetime", "first-extra");
  if (std::isnan(ctxsw) && std::isnan(membarrier) && std::isnan(resync) && std::isnan(fixup))
    throw InputError(where,
                     "has no ctxsw_ns, membarrier_ns or pasidlab micro benchmark measurement "
                     "(run the host micro suites or suites/kmod.toml first)");
  if (!std::isnan(ctxsw)) base.ctxsw_ns = std::max<int64_t>(1, std::llround(ctxsw));
  if (!std::isnan(membarrier)) base.ipi_ns = std::max<int64_t>(1, std::llround(membarrier));
  // Noise can make a difference of medians negative: no measurable cost.
  if (!std::isnan(resync)) base.switch_resync_ns = std::max<int64_t>(0, std::llround(resync));
  if (!std::isnan(fixup)) base.gp_fixup_ns = std::max<int64_t>(0, std::llround(fixup));
  return base;
}

double modelled_overhead_ns(const Counters& c, const Costs& costs) {
  return static_cast<double>(c.context_switches * costs.ctxsw_ns +
                             c.context_switches_pasid_work * costs.switch_resync_ns +
                             c.ipis * costs.ipi_ns + c.task_work_runs * costs.task_work_ns +
                             c.gp_fixups * costs.gp_fixup_ns);
}

TestCase replay_test_case(const std::string& path) {
  ReplaySchedule file = load_replay_file(path);
  const PolicyInfo* policy = find_policy(file.policy);
  if (!policy) throw InputError({path, 0}, "unknown policy '" + file.policy + "'");
  TestCase t;
  t.workload = file.workload;
  t.kind = WorkloadKind::kScenarioFile;
  t.scenario = load_scenario_text(file.scenario_toml, path + " (scenario)");
  t.backend = "model:" + file.policy;
  RawParams raw;
  for (const auto& [k, v] : file.params) raw[k] = {v, {path, 0}};
  raw["replay"] = {path, {"--replay", 0}};
  t.params = resolve_params({&model_param_specs()}, raw);
  t.test_id = file.workload + "[replay]@" + t.backend;
  machine_config(file.params, path);
  Machine check(t.scenario, *policy, MachineConfig{});
  return t;
}

void check_model_test(const TestCase& test) {
  if (test.backend.rfind("model:", 0) != 0) return;
  const PolicyInfo* policy = find_policy(test.backend.substr(6));
  if (!policy) return;
  ModelOptions o = model_options(test.params);
  if (!o.replay.empty()) {
    ReplaySchedule file = load_replay_file(o.replay);
    if (file.policy != policy->name)
      throw InputError({o.replay, 0}, "the schedule is for policy '" + file.policy + "', not '" +
                                          policy->name + "'");
    load_scenario_text(file.scenario_toml, o.replay + " (scenario)");
    machine_config(file.params, o.replay);
    return;
  }
  if (test.kind != WorkloadKind::kMicro) Machine check(test.scenario, *policy, o.machine);
}

}  // namespace model

BackendFamily model_backend_family() {
  BackendFamily f;
  f.prefix = "model";
  f.description = "policy models on a deterministic SMP simulator, searched for violations";
  for (const auto& p : model::policy_catalog())
    f.variants.push_back({p.name, p.description, p.parent});
  // The generated mutants run by name (`pasidbench mutate`, `check
  // --policy`, their replay files) but are in no `model:**`.
  f.knows_unlisted = [](const std::string& variant) {
    return model::find_generated_mutant(variant) != nullptr;
  };
  f.create = [](const std::string& variant) -> std::unique_ptr<Backend> {
    const model::PolicyInfo* p = model::find_policy(variant);
    if (!p) throw InputError("unknown policy '" + variant + "'");
    return std::make_unique<model::ModelBackend>(*p);
  };
  return f;
}

namespace {
const BackendRegistration kRegistered{model_backend_family, 10};
}  // namespace

}  // namespace pasidbench
