// The seed thread's claims (lkml 2021-09-24, "x86/mmu: Add mm-based PASID
// refcounting"), as numbers from the model.
#include <gtest/gtest.h>

#include "runners/backends/backend.h"
#include "runners/suite_runner.h"
#include "tests/cpp/model_test_util.h"

namespace pasidbench::model {
namespace {

using namespace testing;

// The end of the pool process's PASID (mm0): its free, or the end of the run.
double pool_pasid_end(const std::vector<PasidInterval>& timeline) {
  double end = -1;
  for (const auto& iv : timeline)
    if (iv.mm == "mm0") end = std::max(end, iv.end_ns);
  return end;
}

// When the last worker left the mm (exit_mm, where deactivate_mm drops a
// task-refcount reference).
int64_t last_worker_exit(const std::vector<TraceEvent>& trace) {
  int64_t t = -1;
  for (const auto& e : trace)
    if (e.text.find("worker.") != std::string::npos &&
        e.text.find("exit: exit_mm") != std::string::npos)
      t = std::max(t, e.time_ns);
  return t;
}

int probe_pasid(const std::vector<PasidInterval>& timeline, int probe_mm) {
  for (const auto& iv : timeline)
    if (iv.mm == "mm" + std::to_string(probe_mm)) return static_cast<int>(iv.pasid);
  return -1;
}

// Andy: "the not so perfect attempt at perfect in this patch set won't
// actually work if a thread pool is involved".
TEST(SeedThreadClaims, TaskRefcountKeepsThePasidWhilePoolWorkersLive) {
  // Enough CPUs that every worker uses the queue before the binder closes it.
  // The workers go on for a while (work_ns) after the binder left.
  Scenario sc = canonical(
      "thread-pool", {{"tasks", "3"}, {"cpus", "4"}, {"binder", "exits"}, {"work_ns", "200000"}});
  Recorded refcount = reference(sc, policy("task-refcount"));
  Recorded resync = reference(sc, policy("resync-ipi"));
  const int64_t unbind = time_of(refcount.trace, "main.1 unbind");
  const int64_t workers_gone = last_worker_exit(refcount.trace);
  ASSERT_GT(unbind, 0);
  ASSERT_GT(workers_gone, unbind);

  // task-refcount: the pool's PASID goes only when the last worker does.
  EXPECT_GE(pool_pasid_end(refcount.timeline), static_cast<double>(workers_gone));
  EXPECT_EQ(refcount.result.counters.pasid_frees, refcount.result.counters.pasid_allocs);
  // Held with no binding from the unbind to the last worker's exit.
  const double held_s = static_cast<double>(refcount.result.counters.pasid_idle_ns) / 1e9;
  EXPECT_GE(held_s, 0.9 * static_cast<double>(workers_gone - unbind) / 1e9);
  // So the probe, binding after the close, gets another PASID...
  const int probe_mm = 1;  // the second initial process
  EXPECT_EQ(probe_pasid(refcount.timeline, probe_mm), 2);

  // ...where resync-ipi frees it at the last unbind and the probe reuses it.
  EXPECT_LT(pool_pasid_end(resync.timeline), static_cast<double>(workers_gone));
  EXPECT_EQ(probe_pasid(resync.timeline, probe_mm), 1);
  EXPECT_LT(resync.result.counters.pasid_idle_ns, refcount.result.counters.pasid_idle_ns / 100);
}

ResultRecord run_backend(const std::string& policy_name, const std::string& workload,
                         const RawParams& params) {
  TestCase t = make_test_case(workload, ".", {}, params, "model:" + policy_name, "");
  RunContext ctx;
  return backends().create(t.backend, {})->run(t, ctx);
}

// Tony Luck's case: "Process clones a task, task binds a device, task
// accesses device using PASID, task unbinds device, task exits (but process
// lives on)". mm-lifetime "would needlessly hold onto the PASID".
TEST(SeedThreadClaims, MmLifetimeHoldsAnIdlePasidWhereResyncIpiPaysIpisInstead) {
  RawParams p = {{"rounds", {"2", {}}}, {"idle_ns", {"1000000", {}}}};
  ResultRecord lifetime = run_backend("mm-lifetime", "clone-bind-exit", p);
  ResultRecord lazy = run_backend("mm-lifetime-lazy-gp", "clone-bind-exit", p);
  ResultRecord resync = run_backend("resync-ipi", "clone-bind-exit", p);
  for (const auto* r : {&lifetime, &lazy, &resync})
    ASSERT_EQ(r->outcome, Outcome::kPass) << r->reason;
  auto m = [](const ResultRecord& r, const char* name) { return r.metrics.at(name).value; };

  // The process lives on for idle_ns after its last round: mm-lifetime holds
  // the PASID, unbound, at least that long (PASID-seconds > 0)...
  EXPECT_GE(m(lifetime, "pasid_seconds_idle"), 0.9e-3);
  EXPECT_GE(m(lazy, "pasid_seconds_idle"), 0.9e-3);
  // ...while resync-ipi frees it at the last unbind: close to nothing.
  EXPECT_LT(m(resync, "pasid_seconds_idle"), m(lifetime, "pasid_seconds_idle") / 100);
  EXPECT_EQ(m(resync, "pasid_frees"), m(resync, "pasid_allocs"));

  // What resync-ipi pays for it: IPIs, task_work and PASID work in context
  // switches, none of which mm-lifetime does.
  EXPECT_GT(m(resync, "ipis"), 0);
  EXPECT_GT(m(resync, "task_work_runs"), 0);
  EXPECT_GT(m(resync, "context_switches_pasid_work"), 0);
  EXPECT_EQ(m(lifetime, "ipis"), 0);
  EXPECT_EQ(m(lifetime, "task_work_runs"), 0);
  EXPECT_EQ(m(lifetime, "context_switches_pasid_work"), 0);
  EXPECT_GT(
      m(resync, "modelled_overhead_ns") - m(resync, "context_switches") * Costs{}.ctxsw_ns,
      m(lifetime, "modelled_overhead_ns") - m(lifetime, "context_switches") * Costs{}.ctxsw_ns);
  // mm-lifetime-lazy-gp pays one #GP per thread that submits instead.
  EXPECT_GT(m(lazy, "gp_fixups"), 0);
  EXPECT_EQ(m(lifetime, "gp_fixups"), 0);
}

}  // namespace
}  // namespace pasidbench::model
