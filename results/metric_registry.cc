#include "results/metric_registry.h"

namespace pasidbench {

const std::vector<MetricInfo>& metric_registry() {
  static const std::vector<MetricInfo> all = {
      // Model backend (per policy and workload).
      {"pasid_allocs", "count", Better::kNone, "PASIDs allocated"},
      {"pasid_frees", "count", Better::kNone, "PASIDs freed"},
      {"pasid_peak_live", "count", Better::kLower, "most PASIDs allocated at once"},
      {"pasid_seconds_idle", "pasid-s", Better::kLower,
       "PASID-seconds held by an mm with no binding (virtual time)"},
      {"context_switches", "count", Better::kNone, "context switches"},
      {"context_switches_pasid_work", "count", Better::kLower,
       "context switches that did PASID work"},
      {"ipis", "count", Better::kLower, "IPIs sent for PASID changes"},
      {"task_work_runs", "count", Better::kLower, "task_work callbacks run at return to user"},
      {"gp_fixups", "count", Better::kLower, "#GP faults fixed up by loading the PASID MSR"},
      {"submits", "count", Better::kNone, "ENQCMD submissions"},
      {"unexpected_outcomes", "count", Better::kLower,
       "submissions whose outcome differed from the workload's expectation"},
      {"modelled_overhead_ns", "ns", Better::kLower,
       "sum of event counts times their unit costs (cost model)"},
      {"schedules_explored", "count", Better::kNone, "schedules the search ran"},
      // Host backend micro suites.
      {"ctxsw_ns", "ns", Better::kLower, "one context switch (half a ping-pong round trip)"},
      {"roundtrip_ns", "ns", Better::kLower, "one ping-pong round trip"},
      {"membarrier_ns", "ns", Better::kLower,
       "one membarrier(PRIVATE_EXPEDITED): IPIs to every CPU running the mm"},
      {"tlb_shootdown_ns", "ns", Better::kLower, "one mprotect that shoots down remote TLBs"},
      {"migration_ns", "ns", Better::kLower, "moving a thread to another CPU and running there"},
      {"yield_ns", "ns", Better::kLower, "one sched_yield switch between two threads on a CPU"},
      {"cycles", "count", Better::kLower, "CPU cycles per operation (PAPI)"},
      {"instructions", "count", Better::kLower, "instructions per operation (PAPI)"},
      {"perf_bench_pipe_ns", "ns", Better::kLower,
       "perf bench sched pipe round trip, for calibration"},
      // Host backend PASID path.
      {"bind_ns", "ns", Better::kLower, "open() of a DSA work queue (SVA bind)"},
      {"unbind_ns", "ns", Better::kLower, "close() of a DSA work queue (drain and unbind)"},
      {"first_submit_ns", "ns", Better::kLower,
       "first submission of a thread, #GP fixup included on lazy kernels"},
      {"submit_ns", "ns", Better::kLower, "steady-state submission to completion"},
      {"enqcmd_retries", "count", Better::kLower, "ENQCMD attempts rejected (ZF=1) and retried"},
  };
  return all;
}

const MetricInfo* find_metric(const std::string& name) {
  for (const auto& m : metric_registry())
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace pasidbench
