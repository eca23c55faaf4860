// The interface every PASID policy model implements, and the slice of the
// simulated kernel it may see and call.
//
// The hooks are the events of shared/design/policies.md. The simulator
// (runners/backends/model) does everything that is the same under every
// policy -- fpu_clone() clearing the child's PASID state, exec resetting it,
// mm_users/mm_count, lazy mm_cpumask, the device's drain on release, the
// IOMMU PASID table, the #GP trap itself -- and calls a hook where the
// kernels that implemented these policies differ.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pasidbench::model {

// IA32_PASID with the valid bit (31) clear, and INVALID_IOASID in mm->pasid.
// The allocator never hands out 0 (the kernel keeps it for RID_PASID).
inline constexpr int kInvalidPasid = 0;
inline constexpr int kNone = -1;

struct Mm {
  int id = kNone;
  int pasid = kInvalidPasid;  // mm->pasid (mm->iommu_mm->pasid since 6.8)
  int users = 0;              // mm_users: tasks using the address space
  int count = 0;              // mm_count: holders of the struct (users as one, drivers, lazy TLB)
  int device_binds = 0;       // live SVA binds of this mm to the work queue's device
  int portals = 0;            // portal mappings (mmap of a work-queue fd) in this mm
  uint64_t cpumask = 0;       // mm_cpumask: a superset of the CPUs that may be running it
  int pasid_refs = 0;         // task-refcount only: binds + tasks the #GP fixup activated
  bool exited = false;        // __mmput ran (no users left)
  bool freed = false;         // __mmdrop ran
};

struct Task {
  int id = kNone;
  int mm = kNone;                // kNone after exit_mm()
  int cpu = kNone;               // the CPU it is on, kNone when not on one
  int msr = kInvalidPasid;       // its IA32_PASID: live while it runs, in its xstate otherwise
  bool pasid_activated = false;  // task_struct::pasid_activated (v1: has_valid_pasid)
};

// What a policy may do: each call stands for the kernel function named in
// its comment. The simulator counts, times and checks every call.
class KernelOps {
 public:
  virtual ~KernelOps() = default;

  virtual Mm& mm(int id) = 0;
  virtual Task& task(int id) = 0;
  // The task running on `cpu` (user or kernel mode), kNone when it is idle.
  virtual int running_task(int cpu) const = 0;

  // The global PASID space (an IDA: the lowest free value first, so a freed
  // PASID is handed out again at once). `owner` is recorded for the
  // timeline and the checks; it does not set owner.pasid.
  virtual int pasid_alloc(const Mm& owner) = 0;
  virtual void pasid_free(int pasid) = 0;
  // mm->pasid = pasid (mm_pasid_set / mm_pasid_drop).
  virtual void set_mm_pasid(Mm& mm, int pasid) = 0;
  // Writes t's IA32_PASID: wrmsr when t is the current task in the #GP
  // fixup or task_work, its xstate otherwise.
  virtual void write_pasid_msr(Task& t, int pasid) = 0;
  // The PASID component of the xstate copy fpu_clone() makes (which mainline
  // clears right after).
  virtual void copy_pasid_msr(Task& to, const Task& from) = 0;
  // smp_call_function_many(mm_cpumask(mm) minus the caller's CPU): queues
  // one IPI per CPU; each is delivered after a latency and runs the policy's
  // ipi() hook there. Returns how many were sent. A hook that returns
  // wait_for_acks makes the caller spin until every one was handled.
  virtual int send_ipis(const Task& caller, const Mm& mm) = 0;
  // task_work_add(t, ...): the policy's return_to_user() runs before t next
  // executes a user instruction.
  virtual void task_work_add(Task& t) = 0;

  // Facts a static key can be driven from.
  virtual int mms_with_pasid() const = 0;        // mms whose pasid is valid
  virtual int tasks_with_valid_msr() const = 0;  // live tasks whose IA32_PASID is valid
};

// A hook that changes an mm's PASID may ask to finish only after the IPIs it
// sent were handled; acks_done() then runs with the cookie it returned.
struct HookResult {
  bool wait_for_acks = false;
  int cookie = 0;
};

class Policy {
 public:
  virtual ~Policy() = default;

  // bind(t): t opened the work queue (iommu_sva_bind_device); the kernel has
  // counted the bind in mm.device_binds. On return mm.pasid must be valid:
  // the kernel installs the PASID-table entry for it when this is the mm's
  // first bind.
  virtual HookResult bind(KernelOps& k, Task& t, Mm& mm) = 0;
  // unbind(t): the release of one binding of `mm` after the device drained
  // its descriptors (idxd_cdev_release); `last` when no bind of mm is left,
  // in which case the kernel has already removed the PASID-table entry.
  // `t` is the task doing the release; it need not belong to mm.
  virtual HookResult unbind(KernelOps& k, Task& t, Mm& mm, bool last);
  virtual void acks_done(KernelOps& k, Task& t, Mm& mm, int cookie);

  // After the kernel built the child (fpu_clone() cleared its PASID state,
  // dup_task_struct() cleared pasid_activated).
  virtual void clone_thread(KernelOps& k, Task& parent, Task& child);
  virtual void fork(KernelOps& k, Task& parent, Task& child);
  // t leaves `old_mm` for a new one (exec_mmap -> deactivate_mm); the kernel
  // then resets t's extended state (IA32_PASID invalid).
  virtual void exec(KernelOps& k, Task& t, Mm& old_mm);
  // t leaves its mm at exit (exit_mm -> mm_release -> deactivate_mm).
  virtual void exit(KernelOps& k, Task& t, Mm& mm);
  // __mmput(): the last user is gone (exit_mmap ran).
  virtual void mm_exit(KernelOps& k, Mm& mm);
  // __mmdrop(): the last reference to the struct is gone.
  virtual void mm_drop(KernelOps& k, Mm& mm);
  // switch_to() on `cpu`, before `next` returns to user. `prev` is null when
  // the CPU was idle. Returns whether this switch ran PASID-specific code.
  virtual bool context_switch(KernelOps& k, int cpu, Task* prev, Task& next);
  // The handler of an IPI this policy sent for `mm`, on `cpu`.
  virtual void ipi(KernelOps& k, int cpu, const Mm& mm);
  // The task_work this policy queued, at t's return to user.
  virtual void return_to_user(KernelOps& k, Task& t);
  // #GP from user mode on ENQCMD with IA32_PASID invalid. Returns true when
  // the policy fixed it up (the instruction is retried), false when the #GP
  // stands (SIGSEGV).
  virtual bool gp_fault(KernelOps& k, Task& t);
};

// A policy as the CLI and the backend registry know it.
struct PolicyInfo {
  std::string name;
  std::string description;
  std::string parent;  // seeded mutants: the policy they deviate from
  std::function<std::unique_ptr<Policy>()> make;
};

// Every policy model, the seeded mutants after the policies they mutate.
const std::vector<PolicyInfo>& policy_catalog();
const PolicyInfo* find_policy(const std::string& name);

}  // namespace pasidbench::model
