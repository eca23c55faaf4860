// Seeded mutant task-refcount/unbind-frees: the last unbind frees the PASID
// whatever references the threads still hold.
#include "kernels/policies/catalog.h"
#include "kernels/policies/task_refcount.h"

namespace pasidbench::model {

namespace {

class TaskRefcountUnbindFrees : public TaskRefcount {
 public:
  HookResult unbind(KernelOps& k, Task& t, Mm& mm, bool last) override {
    if (!last || mm.pasid == kInvalidPasid) return TaskRefcount::unbind(k, t, mm, last);
    // The deviation: threads the #GP fixup activated keep their MSR and
    // their (now meaningless) reference.
    k.pasid_free(mm.pasid);
    k.set_mm_pasid(mm, kInvalidPasid);
    mm.pasid_refs = 0;
    return {};
  }
};

const PolicyRegistration registered{
    PolicyInfo{"task-refcount/unbind-frees",
               "task-refcount whose last unbind frees the PASID whatever the threads' references",
               "task-refcount", [] { return std::make_unique<TaskRefcountUnbindFrees>(); }}};

}  // namespace

}  // namespace pasidbench::model
