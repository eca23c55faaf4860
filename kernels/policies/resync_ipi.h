// resync-ipi: Andy Lutomirski's "perfect" proposal in the seed thread
// (<a77ee33c-6fa7-468c-8fc0-a0a2ce725e75@www.fastmail.com>, 24 Sep 2021,
// never merged). No per-task references: the mm's PASID is allocated at the
// first bind and freed at the last unbind. A change of the mm's PASID sends
// IPIs to mm_cpumask; the handler only queues task_work for the task it finds
// there if that task belongs to the mm (it must not touch FPU state); the
// task_work resyncs IA32_PASID before the return to user. Context switch
// resyncs too, behind a static key that may only go off when no task anywhere
// can still hold a stale PASID. The old PASID is freed only after the IPIs
// were acknowledged (the device queue was drained before the unbind). A
// bind frees nothing and does not wait: a thread that runs when another
// binds and submits before its task_work ran takes a #GP the proposal does
// not fix up.
#pragma once

#include "kernels/policies/policy.h"

namespace pasidbench::model {

class ResyncIpi : public Policy {
 public:
  HookResult bind(KernelOps& k, Task& t, Mm& mm) override;
  HookResult unbind(KernelOps& k, Task& t, Mm& mm, bool last) override;
  void acks_done(KernelOps& k, Task& t, Mm& mm, int cookie) override;
  bool context_switch(KernelOps& k, int cpu, Task* prev, Task& next) override;
  void ipi(KernelOps& k, int cpu, const Mm& mm) override;
  void return_to_user(KernelOps& k, Task& t) override;

 protected:
  // Sets mm->pasid and sends the IPIs that make every running thread of mm
  // pick it up (task_work); the others do at their next switch-in.
  void change_mm_pasid(KernelOps& k, Task& t, Mm& mm, int pasid);
  // IA32_PASID := mm->pasid.
  void resync(KernelOps& k, Task& t);
  // The static key: on while any mm has a PASID or any task still holds one
  // (a task that was not running when its mm's PASID went away is stale
  // until its next switch-in).
  bool switch_resync_enabled(const KernelOps& k) const;
};

}  // namespace pasidbench::model
