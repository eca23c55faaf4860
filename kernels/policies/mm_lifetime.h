// mm-lifetime: the mm owns one PASID from its first bind until __mmdrop()
// ("iommu/sva: Assign a PASID to mm on PASID allocation and free it on mm
// exit", v5.18; moved from __mmput() to __mmdrop() by 2667ed10d9f0 in
// v5.18-rc6). Unbind detaches the device and keeps the PASID. In this plain
// form only the binding thread gets its IA32_PASID loaded, at bind.
#pragma once

#include "kernels/policies/policy.h"

namespace pasidbench::model {

class MmLifetime : public Policy {
 public:
  HookResult bind(KernelOps& k, Task& t, Mm& mm) override;
  void mm_drop(KernelOps& k, Mm& mm) override;

 protected:
  // mm_pasid_drop().
  void drop_mm_pasid(KernelOps& k, Mm& mm);
  // Which threads get the PASID loaded when they bind.
  virtual void load_msr_at_bind(KernelOps& k, Task& t, Mm& mm);
};

}  // namespace pasidbench::model
