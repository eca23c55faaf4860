#include "kernels/policies/mm_lifetime.h"

#include "kernels/policies/catalog.h"

namespace pasidbench::model {

HookResult MmLifetime::bind(KernelOps& k, Task& t, Mm& mm) {
  // iommu_sva_alloc_pasid(): "available for the lifetime of the mm".
  if (mm.pasid == kInvalidPasid) k.set_mm_pasid(mm, k.pasid_alloc(mm));
  load_msr_at_bind(k, t, mm);
  return {};
}

void MmLifetime::load_msr_at_bind(KernelOps& k, Task& t, Mm& mm) {
  if (t.mm == mm.id) k.write_pasid_msr(t, mm.pasid);
}

void MmLifetime::mm_drop(KernelOps& k, Mm& mm) { drop_mm_pasid(k, mm); }

void MmLifetime::drop_mm_pasid(KernelOps& k, Mm& mm) {
  if (mm.pasid == kInvalidPasid) return;
  k.pasid_free(mm.pasid);
  k.set_mm_pasid(mm, kInvalidPasid);
}

namespace {

const PolicyRegistration registered{
    PolicyInfo{"mm-lifetime",
               "the mm owns its PASID from the first bind until __mmdrop(); only the binding "
               "thread's MSR is loaded, at bind",
               "", [] { return std::make_unique<MmLifetime>(); }}};

}  // namespace

}  // namespace pasidbench::model
