// Generated mutants of the real policies (issue 15, the mutation campaign):
// a decorator Policy wraps the real one and changes one hook by one
// operator. They are not in policy_catalog() (so `model:**` and the
// conformance suite do not run them) but find_policy() knows them, so their
// replay files replay. Names: "<policy>~<operator>:<hook>".
#pragma once

#include <string>
#include <vector>

#include "kernels/policies/policy.h"

namespace pasidbench::model {

// skip: the hook does nothing (returns the base class's default).
// twice: the hook runs twice in a row.
// wrong-task: every write_pasid_msr the hook makes goes to another live task
//   (one of another mm when there is one), standing for a resync of the
//   wrong task_struct.
// no-ack: a hook that asks to wait for IPI acks runs acks_done() at once
//   (the free before the acks), for the policies that wait.
// late: the hook runs one kernel event late: at the start of the policy's
//   next hook call, whatever event that is (a context switch, an IPI, a
//   bind, ...), or never if none comes. Its result is the default now (no
//   wait for acks, no #GP fixup, no PASID work in the switch); a late hook
//   that asks to wait for acks cannot make anyone wait, so its acks_done()
//   runs right after it.
// free-early: at the hook's event, the mm's PASID is freed and mm->pasid
//   cleared (mm_pasid_drop) before the hook runs, as if the policy's free
//   had been moved to this event; the policy then finds no PASID to free
//   (so there is no second free). Generated for the events that carry the
//   mm whose PASID could be freed there: unbind, exec, exit, mm_exit,
//   mm_drop, and acks_done for the policies that wait -- whether or not the
//   policy overrides the hook (free-early:mm_exit of mm-lifetime is the
//   v5.18-rc1 free in __mmput()).
inline constexpr const char* kMutationOperators[] = {"skip",   "twice", "wrong-task",
                                                     "no-ack", "late",  "free-early"};

struct GeneratedMutant {
  PolicyInfo info;  // info.parent: the real policy
  std::string op;
  std::string hook;
};

// Every generated mutant, in a fixed order (by policy, hook, operator).
const std::vector<GeneratedMutant>& generated_mutants();
const GeneratedMutant* find_generated_mutant(const std::string& name);

// The hooks each real policy overrides (its class and its bases), which the
// generator mutates; a hook it inherits from Policy has nothing to mutate
// (free-early excepted: it adds a free at the event, see above).
const std::vector<std::string>& mutated_hooks(const std::string& policy);

// The events free-early moves a policy's free to (above).
const std::vector<std::string>& free_early_hooks(const std::string& policy);

}  // namespace pasidbench::model
