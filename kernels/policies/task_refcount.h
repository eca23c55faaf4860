// task-refcount: Fenghua Yu's v1 "x86/mmu: Add mm-based PASID refcounting"
// (<20210920192349.2602141-6-fenghua.yu@intel.com>, Sept 2021, not merged).
//
// The mm's PASID is allocated at the first bind and counted: one reference
// per bind, one per thread whose IA32_PASID the #GP fixup loaded. A thread
// drops its reference when it leaves the mm (deactivate_mm() at exit and
// exec); the PASID is freed when the count reaches zero and allocated anew at
// the next bind. Unbind removes the PASID-table entry while threads may still
// hold the PASID (the changelog's "DMAR fault" hazard).
#pragma once

#include "kernels/policies/policy.h"

namespace pasidbench::model {

class TaskRefcount : public Policy {
 public:
  HookResult bind(KernelOps& k, Task& t, Mm& mm) override;
  HookResult unbind(KernelOps& k, Task& t, Mm& mm, bool last) override;
  bool gp_fault(KernelOps& k, Task& t) override;
  void exit(KernelOps& k, Task& t, Mm& mm) override;
  void exec(KernelOps& k, Task& t, Mm& old_mm) override;

 protected:
  // iommu_sva_free_pasid(): drop one reference, free at zero.
  void put_pasid(KernelOps& k, Mm& mm);
  // pasid_put() from deactivate_mm().
  void drop_task_ref(KernelOps& k, Task& t, Mm& mm);
};

}  // namespace pasidbench::model
