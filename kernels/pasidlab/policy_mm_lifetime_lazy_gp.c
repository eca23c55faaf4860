// SPDX-License-Identifier: GPL-2.0
/*
 * mm-lifetime-lazy-gp: mainline since v5.18. mm-lifetime plus the lazy MSR
 * fill of fa6af69f38d3 "x86/traps: Demand-populate PASID MSR via #GP":
 * try_fixup_enqcmd_gp() in arch/x86/kernel/traps.c, run before interrupts
 * are re-enabled. Nothing is loaded at bind.
 */
#include "pasidlab.h"

static int pl_lazy_gp_bind(struct pl_task *t, struct pl_mm *pm, struct pl_hook_result *r)
{
	unsigned long flags;
	int ret;

	raw_spin_lock_irqsave(&pl_lock, flags);
	ret = pl_mm_lifetime_assign(pm);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	return ret;
}

static bool pl_lazy_gp_gp_fault(struct pl_task *t)
{
	struct pl_mm *pm = t->pm;

	if (!pm || pm->pasid == PL_INVALID)	/* !mm_valid_pasid(current->mm) */
		return false;
	if (t->pasid_activated)			/* "the #GP must be from something else" */
		return false;
	pl_write_msr(t, pm->pasid);
	t->pasid_activated = true;
	return true;
}

const struct pl_policy pl_mm_lifetime_lazy_gp = {
	.name = "mm-lifetime-lazy-gp",
	.bind = pl_lazy_gp_bind,
	.mm_drop = pl_mm_lifetime_mm_drop,
	.gp_fault = pl_lazy_gp_gp_fault,
};
