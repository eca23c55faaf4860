// SPDX-License-Identifier: GPL-2.0
/*
 * Seeded mutant task-refcount/unbind-frees: the last unbind frees the PASID
 * whatever references the threads still hold.
 */
#include "pasidlab.h"

static void pl_unbind_frees_unbind(struct pl_task *t, struct pl_mm *pm, bool last,
				   struct pl_hook_result *r)
{
	unsigned long flags;

	if (!last || pm->pasid == PL_INVALID) {
		pl_task_refcount_unbind(t, pm, last, r);
		return;
	}
	raw_spin_lock_irqsave(&pl_lock, flags);
	/*
	 * The deviation: threads the #GP fixup activated keep their MSR and
	 * their (now meaningless) reference.
	 */
	pl_pasid_free(pm->pasid);
	pl_set_mm_pasid(pm, PL_INVALID);
	pm->pasid_refs = 0;
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

const struct pl_policy pl_task_refcount_unbind_frees = {
	.name = "task-refcount/unbind-frees",
	.parent = "task-refcount",
	.bind = pl_task_refcount_bind,
	.unbind = pl_unbind_frees_unbind,
	.gp_fault = pl_task_refcount_gp_fault,
	.exit = pl_task_refcount_exit,
	.exec = pl_task_refcount_exec,
};
