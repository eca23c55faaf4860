#include "runners/backends/host/host_backend.h"

#include "platform/pasid_probe.h"
#include "platform/topology.h"
#include "runners/backends/host/dsa_latency.h"
#include "runners/backends/host/micro_runner.h"
#include "runners/backends/host/scenario_interpreter.h"
#include "suites/micro/micro_catalog.h"

namespace pasidbench {

namespace {

class HostBackend : public Backend {
 public:
  std::string name() const override { return "host"; }

  const std::vector<ParamSpec>& params() const override {
    static const std::vector<ParamSpec> specs = {
        ParamSpec::Choice("submission", "auto", {"auto", "portal", "write"},
                          "work-queue submission: the portal (ENQCMD) if the kernel allows it "
                          "else write(), or exactly one of them"),
        ParamSpec::Int("max_retries", 64, 0, 100000,
                       "ENQCMD attempts rejected (ZF=1) before a submission counts as rejected"),
        ParamSpec::Int("completion_timeout_ms", 1000, 1, 600000,
                       "how long to poll a completion record"),
        ParamSpec::Choice("sample_unit", "process", {"process", "repetition"},
                          "a micro benchmark sample is one pasidbench-micro process (so the "
                          "spread includes run-to-run drift), or one repetition inside a "
                          "single process (faster; understates the spread)"),
    };
    return specs;
  }

  bool supports(WorkloadKind kind, std::string* why) const override {
    if (kind == WorkloadKind::kMicro) return true;  // each decides in run()
    PasidProbe probe = probe_pasid_path();
    if (!probe.ready()) {
      *why = probe.skip_reason();
      return false;
    }
    return true;
  }

  ResultRecord run(const TestCase& test, const RunContext&) override {
    if (test.kind == WorkloadKind::kMicro) return run_micro(test);
    return run_scenario(test);
  }

 private:
  static ResultRecord skip(const std::string& why) {
    ResultRecord r;
    r.outcome = Outcome::kSkip;
    r.reason = why;
    return r;
  }

  ResultRecord run_micro(const TestCase& test) {
    if (test.workload.rfind("micro:pasidlab-", 0) == 0)
      return skip(test.workload + " measures pasidlab.ko: it runs on the kmod:<policy> backends");
    MicroPlan plan = plan_micro(test.workload, test.params);
    switch (plan.runner) {
      case MicroPlan::Runner::kGoogleBenchmark:
        // Pinning needs that many CPUs; pasidbench-micro only has the
        // benchmarks this machine can place.
        try {
          CpuTopology::discover().pick_distinct(static_cast<size_t>(plan.required_cpus),
                                                plan.cpu_purpose);
        } catch (const PlacementError& e) {
          return skip(e.what());
        }
        if (plan.with_pasid) {
          PasidProbe probe = probe_pasid_path();
          if (!probe.ready()) return skip(probe.skip_reason());
        }
        return run_google_benchmark(plan, test.repetitions,
                                    test.params.get("sample_unit") == "repetition"
                                        ? SampleUnit::kRepetition
                                        : SampleUnit::kProcess);
      case MicroPlan::Runner::kDsaSubmit:
        return run_dsa_submit(test.params, test.repetitions, probe_pasid_path());
      case MicroPlan::Runner::kPerfBenchPipe:
        return run_perf_bench_pipe(test.params, test.repetitions);
    }
    return skip("unknown micro runner");
  }

  ResultRecord run_scenario(const TestCase& test) {
    PasidProbe probe = probe_pasid_path();
    if (!probe.ready()) return skip(probe.skip_reason());
    SubmitPreference pref = SubmitPreference::kAuto;
    parse_submit_preference(test.params.get("submission"), &pref);
    WorkQueueDevice device(probe.usable_queues.front(), pref,
                           static_cast<int>(test.params.get_int("max_retries")),
                           std::chrono::milliseconds(test.params.get_int("completion_timeout_ms")));
    if (std::string why = host_cannot_run(test.scenario, device); !why.empty()) return skip(why);
    InterpreterResult result = run_scenario_on_host(test.scenario, device);
    ResultRecord r;
    fill_from_interpreter(result, &r);
    r.details = {{"device", device.describe()},
                 {"tasks", result.tasks},
                 {"note",
                  "the host sees submission outcomes only; cross-mm isolation violations "
                  "are not observable from user space"}};
    return r;
  }
};

}  // namespace

BackendFamily host_backend_family() {
  register_micro_workloads();
  return {"host",
          "the running kernel: real measurements; real DSA/ENQCMD where present",
          {},
          [](const std::string&) { return std::make_unique<HostBackend>(); }};
}

}  // namespace pasidbench

namespace pasidbench {
namespace {
// Also at static initialization, so that a workload lookup that happens
// before anything asks for the backend registry still finds them.
[[maybe_unused]] const bool micro_workloads_registered = (register_micro_workloads(), true);
const BackendRegistration kRegistered{host_backend_family, 20};
}  // namespace
}  // namespace pasidbench
