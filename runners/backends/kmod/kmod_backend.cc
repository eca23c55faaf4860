// The `kmod:<policy>` backend: a workload run by the host scenario
// interpreter against pasidlab.ko (kernels/pasidlab/) loaded with that
// policy, so the policy's hooks run in this kernel's context-switch, IPI,
// task_work, exec/exit and mm-lifetime paths. Records carry the model's
// outcome, violation and metric names, from the module's counters, plus
// real bind/unbind/submit times; and the module's micro benchmarks.
#include <sched.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "kernels/policies/policy.h"
#include "platform/affinity.h"
#include "platform/pasidlab_module.h"
#include "runners/backends/backend.h"
#include "runners/backends/host/scenario_interpreter.h"
#include "runners/backends/kmod/kmod_micro.h"
#include "runners/backends/kmod/pasidlab_device.h"

namespace pasidbench {

namespace {
// An idle CPU keeps the last mm it ran (lazy TLB) until it runs another
// task; mm-lifetime frees that mm's PASID only then. Running this thread on
// each CPU in turn makes every lazy CPU let go, so a wait for trailing
// frees ends when they are done instead of when an idle CPU next wakes.
void visit_every_cpu() {
  const std::vector<int> allowed = allowed_cpus();
  if (allowed.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return;
  }
  for (int cpu : allowed)
    if (pin_calling_thread(cpu) == 0) sched_yield();
  set_allowed_cpus(allowed);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

// Visits every CPU until `done()` or `budget` is spent.
template <class Done>
void settle(std::chrono::milliseconds budget, Done done) {
  for (auto until = std::chrono::steady_clock::now() + budget;
       !done() && std::chrono::steady_clock::now() < until;)
    visit_every_cpu();
}

const std::vector<ParamSpec>& kmod_param_specs() {
  static const std::vector<ParamSpec> specs = {
      ParamSpec::String("module", "",
                        "path to pasidlab.ko: load it (root) with this backend's policy and "
                        "device_delay_us when the loaded one runs anything else; empty: use the "
                        "module already loaded, which must run this policy")
          .locating(),
      ParamSpec::String("module_unavailable", "",
                        "set by the lab runners: why no pasidlab.ko could be built for this "
                        "kernel; with no module loaded the tests SKIP with it")
          .locating(),
      ParamSpec::Int("device_delay_us", 0, 0, 1000000,
                     "the emulated device executes each descriptor this long after ENQCMD (with "
                     "module=, a load parameter; else the loaded module's must match)"),
      ParamSpec::Int(
          "max_retries", 64, 0, 100000,
          "ENQCMD attempts rejected (queue full) before a submission counts as rejected"),
      ParamSpec::Int("completion_timeout_ms", 1000, 1, 600000,
                     "how long to wait for a completion record"),
      ParamSpec::Int("runs", 1, 1, 100000,
                     "run the scenario this many times in the test (the differential test's "
                     "sample): outcomes and counters are summed, and details.differential says "
                     "per submit step what the runs saw and in how many runs each violation "
                     "showed"),
      ParamSpec::Int("noise_seed", 0, 0, INT64_MAX,
                     "0: no noise; else each task yields, sleeps 1-20 us or moves to a random "
                     "allowed CPU at step boundaries, drawn from this seed and the run's number"),
      ParamSpec::Int("pin_cpu", -1, -1, 4095,
                     "-1: tasks run where the kernel puts them; else every task of the "
                     "scenario on this CPU (with noise_seed 0: the workload leaves the kernel "
                     "no choice of CPU)"),
      ParamSpec::Int("settle_ms", 500, 0, 60000,
                     "before the workload, wait up to this long for PASIDs earlier tests left; "
                     "after it, for those it left: still allocated, to be "
                     "freed (mm-lifetime frees at __mmdrop(), which lazy-TLB CPUs defer)"),
  };
  return specs;
}

ResultRecord skip(const std::string& why) {
  ResultRecord r;
  r.outcome = Outcome::kSkip;
  r.reason = why;
  return r;
}

nlohmann::json counters_json(const PasidlabCounters& c) {
  return {{"outcomes", c.outcomes}, {"violations", c.violations}, {"counters", c.counters}};
}

// The metrics the model backend writes, with the module's values.
void add_module_metrics(const PasidlabCounters& d, bool fresh_module, ResultRecord* r) {
  auto v = [&](const char* name) { return static_cast<double>(d.counters.at(name)); };
  r->add_metric("pasid_allocs", {v("pasid_allocs")});
  r->add_metric("pasid_frees", {v("pasid_frees")});
  r->add_metric("pasid_peak_live", {v("pasid_peak_live")},
                fresh_module ? "" : "since pasidlab.ko was loaded (no CAP_SYS_ADMIN to reset it)");
  r->add_metric("pasid_seconds_idle", {v("pasid_idle_ns") / 1e9},
                "real time: PASIDs allocated with no binding");
  r->add_metric("context_switches", {v("context_switches")},
                "every switch to a user thread the sched_switch probe saw (whole machine, probe "
                "registered only while the policy needs it)");
  r->add_metric("context_switches_pasid_work", {v("context_switches_pasid_work")});
  r->add_metric("ipis", {v("ipis")});
  r->add_metric("task_work_runs", {v("task_work_runs")});
  r->add_metric("gp_fixups", {v("gp_fixups")});
  r->add_metric("enqcmd_retries", {v("enqcmd_retries")});
}

// Adds one run's result to the test's: counts summed, samples appended
// (the interpreter caps them per run), the first error and unexpected
// outcome kept.
void merge_run(const InterpreterResult& one, InterpreterResult* all) {
  for (const auto& [kind, n] : one.outcomes) all->outcomes[kind] += n;
  for (const auto& [step, kinds] : one.step_outcomes)
    for (const auto& [kind, n] : kinds) all->step_outcomes[step][kind] += n;
  all->submits += one.submits;
  all->unexpected += one.unexpected;
  if (all->first_unexpected.empty()) all->first_unexpected = one.first_unexpected;
  all->retries += one.retries;
  all->tasks += one.tasks;
  all->noise_yields += one.noise_yields;
  all->noise_sleeps += one.noise_sleeps;
  all->noise_repins += one.noise_repins;
  for (auto [from, to] :
       {std::pair{&one.submit_ns, &all->submit_ns}, std::pair{&one.bind_ns, &all->bind_ns},
        std::pair{&one.unbind_ns, &all->unbind_ns}})
    if (to->size() < 16384) to->insert(to->end(), from->begin(), from->end());
  if (all->error.empty()) all->error = one.error;
  all->crashed = all->crashed || one.crashed;
}

// Runs whose event logs a record keeps (each one showed some step's outcome
// first); later first sightings are counted, not logged.
constexpr size_t kMaxWitnessRuns = 32;

class KmodBackend : public Backend {
 public:
  explicit KmodBackend(const model::PolicyInfo& policy) : policy_(policy) {}

  std::string name() const override { return "kmod:" + policy_.name; }
  const std::vector<ParamSpec>& params() const override { return kmod_param_specs(); }
  bool supports(WorkloadKind kind, std::string* why) const override {
    if (kind != WorkloadKind::kMicro) return true;
    *why = "";  // the module's own micro benchmarks decide in run()
    return true;
  }
  std::string mutant_of() const override { return policy_.parent; }

  ResultRecord run(const TestCase& test, const RunContext&) override {
    ResultRecord r = run_test(test);
    r.policy = policy_.name;
    return r;
  }

 private:
  // Loads the module when asked to and it runs anything else; then the
  // module must run our policy. Counters restart at zero for the test
  // where we may (root); `fresh` says so.
  std::string prepare(const TestCase& test, bool* fresh, std::string* skip_reason) {
    const std::string ko = test.params.get("module");
    const int64_t delay = test.params.get_int("device_delay_us");
    *fresh = false;
    PasidlabInfo now = pasidlab_info();
    const bool as_wanted = now.loaded && now.policy == policy_.name &&
                           static_cast<int64_t>(now.device_delay_us) == delay;
    if (!ko.empty() && !as_wanted) {
      std::string err =
          pasidlab_load(ko, "policy=" + policy_.name + " device_delay_us=" + std::to_string(delay));
      if (!err.empty()) {
        if (err.find("needs root") != std::string::npos) *skip_reason = err;
        return err;
      }
    }
    PasidlabInfo info = pasidlab_info();
    if (!info.loaded) {
      const std::string unavailable = test.params.get("module_unavailable");
      *skip_reason =
          unavailable.empty() ? info.why_not : "no pasidlab.ko for this kernel: " + unavailable;
      return *skip_reason;
    }
    if (info.policy != policy_.name) {
      *skip_reason = "pasidlab.ko is loaded with policy '" + info.policy + "', not '" +
                     policy_.name + "'; rmmod it and insmod with policy=" + policy_.name +
                     ", or give module=<path to pasidlab.ko>";
      return *skip_reason;
    }
    if (info.device_delay_us != delay) {
      *skip_reason =
          "pasidlab.ko runs with device_delay_us=" + std::to_string(info.device_delay_us) +
          ", the test asks for " + std::to_string(delay);
      return *skip_reason;
    }
    *fresh = pasidlab_reset().empty();
    return {};
  }

  ResultRecord run_test(const TestCase& test) {
    // The no-module baseline only unloads (the next test loads it again).
    if (test.workload == "micro:pasidlab-switch" && test.params.get("binding") == "no_module")
      return run_kmod_micro(test, policy_.name);
    bool fresh = false;
    std::string skip_reason;
    if (std::string err = prepare(test, &fresh, &skip_reason); !err.empty()) {
      if (!skip_reason.empty()) return skip(skip_reason);
      ResultRecord r;
      r.outcome = Outcome::kError;
      r.reason = err;
      return r;
    }
    if (test.kind == WorkloadKind::kMicro) return run_kmod_micro(test, policy_.name);
    return run_scenario(test, fresh);
  }

  ResultRecord run_scenario(const TestCase& test, bool fresh) {
    PasidlabDevice device(static_cast<int>(test.params.get_int("max_retries")),
                          std::chrono::milliseconds(test.params.get_int("completion_timeout_ms")));
    if (std::string why = host_cannot_run(test.scenario, device); !why.empty()) return skip(why);
    const int64_t runs = test.params.get_int("runs");
    InterpreterOptions options;
    options.noise_seed = static_cast<uint64_t>(test.params.get_int("noise_seed"));
    options.pin_cpu = static_cast<int>(test.params.get_int("pin_cpu"));
    // PASIDs an earlier test left allocated (mm-lifetime frees at
    // __mmdrop(), when a lazy-TLB CPU switches away) go before the
    // snapshot, or their frees count in this test.
    const auto settle_budget = std::chrono::milliseconds(test.params.get_int("settle_ms"));
    settle(settle_budget, [] { return pasidlab_counters().counters.at("pasid_live") == 0; });
    PasidlabCounters before = pasidlab_counters();
    // Runs one after another; each run's module violations are counted per
    // run (how many runs showed a mutant's violation). The settle wait comes
    // once, after the last run: frees that trail a run land in the next one,
    // which changes no run's outcomes, only where a count falls.
    InterpreterResult result;
    std::map<std::string, int64_t> runs_with_violation, runs_with_outcome;
    std::set<std::string> seen_step_outcomes;
    nlohmann::json witness_runs = nlohmann::json::array();
    int64_t runs_done = 0;
    for (int64_t run = 0; run < runs; ++run) {
      options.run_index = static_cast<uint64_t>(run);
      PasidlabCounters run_before = pasidlab_counters();
      InterpreterResult one = run_scenario_on_host(test.scenario, device, options);
      PasidlabCounters run_delta = pasidlab_delta(run_before, pasidlab_counters());
      ++runs_done;
      for (const auto& [kind, n] : run_delta.violations)
        if (n > 0) ++runs_with_violation[kind];
      for (const auto& [kind, n] : one.outcomes)
        if (n > 0) ++runs_with_outcome[kind];
      // The event log of each run that showed a step's outcome or a
      // violation for the first time: what diff-model shows beside the
      // model's schedules.
      nlohmann::json first_seen = nlohmann::json::array();
      for (const auto& [step, kinds] : one.step_outcomes)
        for (const auto& [kind, n] : kinds)
          if (n > 0 && seen_step_outcomes.insert(step + " " + kind).second)
            first_seen.push_back(step + " " + kind);
      for (const auto& [kind, n] : run_delta.violations)
        if (n > 0 && seen_step_outcomes.insert("violation " + kind).second)
          first_seen.push_back("violation " + kind);
      if (!first_seen.empty() && witness_runs.size() < kMaxWitnessRuns)
        witness_runs.push_back({{"run", run},
                                {"first_seen", first_seen},
                                {"violations", run_delta.violations},
                                {"events", one.events},
                                {"events_dropped", one.events_dropped}});
      merge_run(one, &result);
      if (!one.error.empty()) break;  // a broken run ends the sample: it is not a verdict
    }
    // PASIDs of exited mms go at __mmdrop(), when the last lazy-TLB CPU
    // switched away: wait for them, or the frees land in the next test.
    PasidlabCounters after;
    settle(settle_budget, [&] {
      after = pasidlab_counters();
      return after.counters.at("pasid_live") <= before.counters.at("pasid_live");
    });
    PasidlabCounters d = pasidlab_delta(before, after);

    ResultRecord r;
    fill_from_interpreter(result, &r);
    add_module_metrics(d, fresh, &r);
    for (const auto& [kind, n] : d.violations)
      if (n > 0) r.violations[kind] = static_cast<int64_t>(n);

    // What the submitters read from their completion records must be what
    // the module counted, outcome by outcome.
    std::string mismatch;
    for (const auto& [kind, n] : d.outcomes) {
      auto seen = result.outcomes.find(kind);
      int64_t user = seen == result.outcomes.end() ? 0 : seen->second;
      if (user != static_cast<int64_t>(n))
        mismatch += (mismatch.empty() ? "" : ", ") + kind + ": module " + std::to_string(n) +
                    ", submitters " + std::to_string(user);
    }
    int64_t lost = 0;
    for (const char* k : {"timeout", "rejected", "ioctl_error"})
      if (auto it = result.outcomes.find(k); it != result.outcomes.end()) lost += it->second;

    if (r.outcome == Outcome::kPass || r.outcome == Outcome::kFail) {
      if (!r.violations.empty()) {
        std::string kinds;
        for (const auto& [kind, n] : r.violations)
          kinds += (kinds.empty() ? "" : ", ") + kind + " x" + std::to_string(n);
        r.outcome = Outcome::kFail;
        r.reason = "the module saw safety violations: " + kinds +
                   (r.reason.empty() ? "" : "; " + r.reason);
      } else if (lost > 0) {
        r.outcome = Outcome::kError;
        r.reason = std::to_string(lost) +
                   " submissions got no answer from the module (timeout, queue full or ioctl "
                   "error); the run is not a verdict";
      } else if (!mismatch.empty()) {
        r.outcome = Outcome::kError;
        r.reason = "the module's outcome counts differ from what the submitters saw: " + mismatch;
      }
    }
    PasidlabInfo info = pasidlab_info();
    r.details = {{"device", device.describe()},
                 {"tasks", result.tasks},
                 {"module_policy", info.policy},
                 {"module_counters_reset", fresh},
                 {"device_delay_us", info.device_delay_us},
                 {"module_counters", counters_json(d)},
                 {"differential",
                  {{"runs", runs_done},
                   {"noise_seed", options.noise_seed},
                   {"pin_cpu", options.pin_cpu},
                   {"noise",
                    {{"yields", result.noise_yields},
                     {"sleeps", result.noise_sleeps},
                     {"repins", result.noise_repins}}},
                   {"step_outcomes", result.step_outcomes},
                   {"runs_with_outcome", runs_with_outcome},
                   {"witness_runs", witness_runs},
                   {"runs_with_violation", runs_with_violation}}},
                 {"emulated",
                  "the work queue, ENQCMD (an ioctl), the IA32_PASID MSR (a per-thread "
                  "variable) and the IOMMU's PASID table; the policy runs in the real "
                  "sched_switch, IPI, task_work, fork/exec/exit and mm paths (docs/kmod.md)"}};
    return r;
  }

  model::PolicyInfo policy_;
};

}  // namespace

BackendFamily kmod_backend_family() {
  register_kmod_micro_workloads();
  BackendFamily f;
  f.prefix = "kmod";
  f.description =
      "the policies in this kernel: pasidlab.ko loaded with the policy, workloads against its "
      "emulated work queue (docs/kmod.md)";
  for (const auto& p : model::policy_catalog())
    f.variants.push_back({p.name, p.description, p.parent});
  f.create = [](const std::string& variant) -> std::unique_ptr<Backend> {
    const model::PolicyInfo* p = model::find_policy(variant);
    if (!p) throw InputError("unknown policy '" + variant + "'");
    return std::make_unique<KmodBackend>(*p);
  };
  return f;
}

namespace {
[[maybe_unused]] const bool micro_registered = (register_kmod_micro_workloads(), true);
const BackendRegistration kRegistered{kmod_backend_family, 30};
}  // namespace

}  // namespace pasidbench
