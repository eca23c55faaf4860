#include "kernels/policies/resync_ipi.h"

#include "kernels/policies/catalog.h"

namespace pasidbench::model {

HookResult ResyncIpi::bind(KernelOps& k, Task& t, Mm& mm) {
  // Nothing is freed here, so nothing to wait for: threads pick the new
  // PASID up at their task_work or next switch-in.
  if (mm.pasid == kInvalidPasid) change_mm_pasid(k, t, mm, k.pasid_alloc(mm));
  return {};
}

HookResult ResyncIpi::unbind(KernelOps& k, Task& t, Mm& mm, bool last) {
  if (!last || mm.pasid == kInvalidPasid) return {};
  int old = mm.pasid;
  change_mm_pasid(k, t, mm, kInvalidPasid);
  return {true, old};  // freed once every CPU has acknowledged
}

void ResyncIpi::acks_done(KernelOps& k, Task&, Mm&, int cookie) {
  if (cookie != kInvalidPasid) k.pasid_free(cookie);
}

bool ResyncIpi::context_switch(KernelOps& k, int, Task*, Task& next) {
  if (!switch_resync_enabled(k)) return false;
  resync(k, next);
  return true;
}

void ResyncIpi::ipi(KernelOps& k, int cpu, const Mm& mm) {
  int current = k.running_task(cpu);
  // mm_cpumask is a superset: the CPU may be running anything by now.
  if (current != kNone && k.task(current).mm == mm.id) k.task_work_add(k.task(current));
}

void ResyncIpi::return_to_user(KernelOps& k, Task& t) { resync(k, t); }

void ResyncIpi::change_mm_pasid(KernelOps& k, Task& t, Mm& mm, int pasid) {
  k.set_mm_pasid(mm, pasid);
  if (t.mm == mm.id) k.task_work_add(t);  // the caller resyncs on its way back to user
  k.send_ipis(t, mm);
}

void ResyncIpi::resync(KernelOps& k, Task& t) {
  if (t.mm == kNone) return;  // exiting: past exit_mm()
  int want = k.mm(t.mm).pasid;
  if (t.msr != want) k.write_pasid_msr(t, want);
}

bool ResyncIpi::switch_resync_enabled(const KernelOps& k) const {
  return k.mms_with_pasid() > 0 || k.tasks_with_valid_msr() > 0;
}

namespace {

const PolicyRegistration registered{
    PolicyInfo{"resync-ipi",
               "Andy Lutomirski's proposal: PASID freed at the last unbind after IPIs + task_work "
               "resync every thread; context switch resyncs behind a static key",
               "", [] { return std::make_unique<ResyncIpi>(); }}};

}  // namespace

}  // namespace pasidbench::model
