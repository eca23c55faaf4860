#include "runners/backends/host/host_backend.h"

#include "runners/backends/host/pasid_probe.h"

namespace pasidbench {

namespace {

class HostBackend : public Backend {
 public:
  std::string name() const override { return "host"; }
  const std::vector<ParamSpec>& params() const override {
    static const std::vector<ParamSpec> none;
    return none;
  }
  bool supports(WorkloadKind kind, std::string* why) const override {
    if (kind == WorkloadKind::kMicro) return true;
    PasidProbe probe = probe_pasid_path();
    if (!probe.ready()) {
      *why = probe.skip_reason();
      return false;
    }
    return true;
  }
  ResultRecord run(const TestCase& test, const RunContext&) override {
    ResultRecord r;
    r.outcome = Outcome::kSkip;
    r.reason = "host backend: running '" + test.workload +
               "' on a real work queue is not built into this version";
    return r;
  }
};

}  // namespace

BackendFamily host_backend_family() {
  return {"host",
          "the running kernel: real measurements; real DSA/ENQCMD where present",
          {},
          [](const std::string&) { return std::make_unique<HostBackend>(); }};
}

}  // namespace pasidbench
