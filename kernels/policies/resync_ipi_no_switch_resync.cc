// Seeded mutant resync-ipi/no-switch-resync: the context-switch resync is
// left out, so a thread that was not running when its mm's PASID changed
// keeps the old value.
#include "kernels/policies/catalog.h"
#include "kernels/policies/resync_ipi.h"

namespace pasidbench::model {

namespace {

class ResyncIpiNoSwitchResync : public ResyncIpi {
 public:
  bool context_switch(KernelOps&, int, Task*, Task&) override { return false; }  // the deviation
};

const PolicyRegistration registered{
    PolicyInfo{"resync-ipi/no-switch-resync", "resync-ipi without the context-switch resync",
               "resync-ipi", [] { return std::make_unique<ResyncIpiNoSwitchResync>(); }}};

}  // namespace

}  // namespace pasidbench::model
