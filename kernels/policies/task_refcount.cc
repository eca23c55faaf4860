#include "kernels/policies/task_refcount.h"

#include "kernels/policies/catalog.h"

namespace pasidbench::model {

HookResult TaskRefcount::bind(KernelOps& k, Task&, Mm& mm) {
  if (mm.pasid == kInvalidPasid) k.set_mm_pasid(mm, k.pasid_alloc(mm));
  ++mm.pasid_refs;  // the bind's reference; no MSR is loaded here
  return {};
}

HookResult TaskRefcount::unbind(KernelOps& k, Task&, Mm& mm, bool) {
  put_pasid(k, mm);
  return {};
}

// __fixup_pasid_exception(): load the MSR and take the thread's reference.
bool TaskRefcount::gp_fault(KernelOps& k, Task& t) {
  Mm& mm = k.mm(t.mm);
  if (mm.pasid == kInvalidPasid || t.pasid_activated) return false;
  k.write_pasid_msr(t, mm.pasid);
  t.pasid_activated = true;
  ++mm.pasid_refs;
  return true;
}

void TaskRefcount::exit(KernelOps& k, Task& t, Mm& mm) { drop_task_ref(k, t, mm); }
void TaskRefcount::exec(KernelOps& k, Task& t, Mm& old_mm) { drop_task_ref(k, t, old_mm); }

void TaskRefcount::put_pasid(KernelOps& k, Mm& mm) {
  if (mm.pasid == kInvalidPasid || mm.pasid_refs <= 0) return;
  if (--mm.pasid_refs > 0) return;
  k.pasid_free(mm.pasid);
  k.set_mm_pasid(mm, kInvalidPasid);
}

void TaskRefcount::drop_task_ref(KernelOps& k, Task& t, Mm& mm) {
  if (!t.pasid_activated) return;
  t.pasid_activated = false;
  put_pasid(k, mm);
}

namespace {

const PolicyRegistration registered{
    PolicyInfo{"task-refcount",
               "Fenghua Yu's Sept 2021 v1: PASID refcounted by binds and #GP-activated threads, "
               "freed at zero",
               "", [] { return std::make_unique<TaskRefcount>(); }}};

}  // namespace

}  // namespace pasidbench::model
