// The policy catalogue. Each policy file registers its policy with one
// PolicyRegistration object at static initialisation, so adding a policy or
// a mutant is one new file in this folder (kernels/CMakeLists.txt globs it
// and links the library whole, so no registration is dropped by the linker).
#pragma once

#include "kernels/policies/policy.h"

namespace pasidbench::model {

// Adds `info` to policy_catalog(). Use one per policy, at namespace scope:
//   const PolicyRegistration registered{{"name", "what it is", "parent", factory}};
class PolicyRegistration {
 public:
  explicit PolicyRegistration(PolicyInfo info);
};

}  // namespace pasidbench::model
