#include "kernels/policies/catalog.h"

namespace pasidbench::model {

const std::vector<PolicyInfo>& policy_catalog() {
  static const std::vector<PolicyInfo> all = {
      task_refcount_policy(),
      mm_lifetime_policy(),
      mm_lifetime_lazy_gp_policy(),
      resync_ipi_policy(),
      resync_ipi_free_before_ack_policy(),
      resync_ipi_no_switch_resync_policy(),
      mm_lifetime_fork_inherits_policy(),
      task_refcount_unbind_frees_policy(),
  };
  return all;
}

const PolicyInfo* find_policy(const std::string& name) {
  for (const auto& p : policy_catalog())
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace pasidbench::model
