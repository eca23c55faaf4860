// mm-lifetime-lazy-gp: mainline since v5.18. mm-lifetime plus the lazy MSR
// fill of fa6af69f38d3 "x86/traps: Demand-populate PASID MSR via #GP":
// try_fixup_enqcmd_gp() in arch/x86/kernel/traps.c, run before interrupts
// are re-enabled. Nothing is loaded at bind.
#include "kernels/policies/catalog.h"
#include "kernels/policies/mm_lifetime.h"

namespace pasidbench::model {

namespace {

class MmLifetimeLazyGp : public MmLifetime {
 public:
  bool gp_fault(KernelOps& k, Task& t) override {
    const Mm& mm = k.mm(t.mm);
    if (mm.pasid == kInvalidPasid) return false;  // !mm_valid_pasid(current->mm)
    if (t.pasid_activated) return false;          // "the #GP must be from something else"
    k.write_pasid_msr(t, mm.pasid);
    t.pasid_activated = true;
    return true;
  }

 protected:
  void load_msr_at_bind(KernelOps&, Task&, Mm&) override {}
};

}  // namespace

PolicyInfo mm_lifetime_lazy_gp_policy() {
  return {"mm-lifetime-lazy-gp",
          "mainline since v5.18: mm-lifetime PASID, IA32_PASID filled lazily by the #GP fixup "
          "(pasid_activated)",
          "", [] { return std::make_unique<MmLifetimeLazyGp>(); }};
}

}  // namespace pasidbench::model
