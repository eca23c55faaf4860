// mm-lifetime-lazy-gp: mainline since v5.18. mm-lifetime plus the lazy MSR
// fill of fa6af69f38d3 "x86/traps: Demand-populate PASID MSR via #GP":
// try_fixup_enqcmd_gp() in arch/x86/kernel/traps.c, run before interrupts
// are re-enabled. Nothing is loaded at bind.
#pragma once

#include "kernels/policies/mm_lifetime.h"

namespace pasidbench::model {

class MmLifetimeLazyGp : public MmLifetime {
 public:
  bool gp_fault(KernelOps& k, Task& t) override;

 protected:
  void load_msr_at_bind(KernelOps& k, Task& t, Mm& mm) override;
};

}  // namespace pasidbench::model
