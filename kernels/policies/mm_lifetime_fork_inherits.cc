// Seeded mutant mm-lifetime/fork-inherits: a fork child keeps its parent's
// IA32_PASID, as kernels did before dc7507ddce59 "x86/fpu: Clear PASID when
// copying fpstate".
#include "kernels/policies/catalog.h"
#include "kernels/policies/mm_lifetime.h"

namespace pasidbench::model {

namespace {

class MmLifetimeForkInherits : public MmLifetime {
 public:
  void fork(KernelOps& k, Task& parent, Task& child) override {
    k.copy_pasid_msr(child, parent);  // the deviation: fpu_clone() keeps the PASID state
  }
};

const PolicyRegistration registered{PolicyInfo{
    "mm-lifetime/fork-inherits", "mm-lifetime whose fork child keeps the parent's IA32_PASID",
    "mm-lifetime", [] { return std::make_unique<MmLifetimeForkInherits>(); }}};

}  // namespace

}  // namespace pasidbench::model
