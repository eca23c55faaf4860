#include "kernels/policies/mm_lifetime_lazy_gp.h"

#include "kernels/policies/catalog.h"

namespace pasidbench::model {

bool MmLifetimeLazyGp::gp_fault(KernelOps& k, Task& t) {
  const Mm& mm = k.mm(t.mm);
  if (mm.pasid == kInvalidPasid) return false;  // !mm_valid_pasid(current->mm)
  if (t.pasid_activated) return false;          // "the #GP must be from something else"
  k.write_pasid_msr(t, mm.pasid);
  t.pasid_activated = true;
  return true;
}

void MmLifetimeLazyGp::load_msr_at_bind(KernelOps&, Task&, Mm&) {}

namespace {

const PolicyRegistration registered{
    PolicyInfo{"mm-lifetime-lazy-gp",
               "mainline since v5.18: mm-lifetime PASID, IA32_PASID filled lazily by the #GP fixup "
               "(pasid_activated)",
               "", [] { return std::make_unique<MmLifetimeLazyGp>(); }}};

}  // namespace

}  // namespace pasidbench::model
