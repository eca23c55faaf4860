// One factory per policy file; catalog.cc lists them in catalogue order.
#pragma once

#include "kernels/policies/policy.h"

namespace pasidbench::model {

PolicyInfo task_refcount_policy();
PolicyInfo mm_lifetime_policy();
PolicyInfo mm_lifetime_lazy_gp_policy();
PolicyInfo resync_ipi_policy();
PolicyInfo resync_ipi_free_before_ack_policy();
PolicyInfo resync_ipi_no_switch_resync_policy();
PolicyInfo mm_lifetime_fork_inherits_policy();
PolicyInfo task_refcount_unbind_frees_policy();

}  // namespace pasidbench::model
