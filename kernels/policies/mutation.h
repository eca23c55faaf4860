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
inline constexpr const char* kMutationOperators[] = {"skip", "twice", "wrong-task", "no-ack"};

struct GeneratedMutant {
  PolicyInfo info;  // info.parent: the real policy
  std::string op;
  std::string hook;
};

// Every generated mutant, in a fixed order (by policy, hook, operator).
const std::vector<GeneratedMutant>& generated_mutants();
const GeneratedMutant* find_generated_mutant(const std::string& name);

// The hooks each real policy overrides (its class and its bases), which the
// generator mutates; a hook it inherits from Policy has nothing to mutate.
const std::vector<std::string>& mutated_hooks(const std::string& policy);

}  // namespace pasidbench::model
