#include "kernels/policies/policy.h"

namespace pasidbench::model {

// Defaults: the hook does nothing beyond what the simulated kernel does for
// every policy.
HookResult Policy::unbind(KernelOps&, Task&, Mm&, bool) { return {}; }
void Policy::acks_done(KernelOps&, Task&, Mm&, int) {}
void Policy::clone_thread(KernelOps&, Task&, Task&) {}
void Policy::fork(KernelOps&, Task&, Task&) {}
void Policy::exec(KernelOps&, Task&, Mm&) {}
void Policy::exit(KernelOps&, Task&, Mm&) {}
void Policy::mm_exit(KernelOps&, Mm&) {}
void Policy::mm_drop(KernelOps&, Mm&) {}
bool Policy::context_switch(KernelOps&, int, Task*, Task&) { return false; }
void Policy::ipi(KernelOps&, int, const Mm&) {}
void Policy::return_to_user(KernelOps&, Task&) {}
bool Policy::gp_fault(KernelOps&, Task&) { return false; }

}  // namespace pasidbench::model
