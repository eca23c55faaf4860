// Seeded mutant resync-ipi/free-before-ack: the last unbind frees the old
// PASID as soon as it sent the IPIs, without waiting for them.
#include "kernels/policies/catalog.h"
#include "kernels/policies/resync_ipi.h"

namespace pasidbench::model {

namespace {

class ResyncIpiFreeBeforeAck : public ResyncIpi {
 public:
  HookResult unbind(KernelOps& k, Task& t, Mm& mm, bool last) override {
    HookResult r = ResyncIpi::unbind(k, t, mm, last);
    if (r.cookie != kInvalidPasid) k.pasid_free(r.cookie);  // the deviation
    return {};
  }
};

const PolicyRegistration registered{
    PolicyInfo{"resync-ipi/free-before-ack",
               "resync-ipi that frees the old PASID without waiting for the IPIs' acks",
               "resync-ipi", [] { return std::make_unique<ResyncIpiFreeBeforeAck>(); }}};

}  // namespace

}  // namespace pasidbench::model
