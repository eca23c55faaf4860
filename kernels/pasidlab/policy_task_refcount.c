// SPDX-License-Identifier: GPL-2.0
/*
 * task-refcount: Fenghua Yu's v1 "x86/mmu: Add mm-based PASID refcounting"
 * (<20210920192349.2602141-6-fenghua.yu@intel.com>, Sept 2021, not merged).
 *
 * The mm's PASID is allocated at the first bind and counted: one reference
 * per bind, one per thread whose IA32_PASID the #GP fixup loaded. A thread
 * drops its reference when it leaves the mm (deactivate_mm() at exit and
 * exec); the PASID is freed when the count reaches zero and allocated anew
 * at the next bind. Unbind removes the PASID-table entry while threads may
 * still hold the PASID (the changelog's "DMAR fault" hazard).
 */
#include "pasidlab.h"

int pl_task_refcount_bind(struct pl_task *t, struct pl_mm *pm, struct pl_hook_result *r)
{
	unsigned long flags;
	int ret = 0;

	raw_spin_lock_irqsave(&pl_lock, flags);
	if (pm->pasid == PL_INVALID)
		pl_set_mm_pasid(pm, pl_pasid_alloc(pm));
	if (pm->pasid == PL_INVALID)
		ret = -ENOSPC;
	else
		pm->pasid_refs++;	/* the bind's reference; no MSR is loaded here */
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	return ret;
}

/* iommu_sva_free_pasid(): drop one reference, free at zero. */
static void pl_put_pasid(struct pl_mm *pm)
{
	if (pm->pasid == PL_INVALID || pm->pasid_refs <= 0)
		return;
	if (--pm->pasid_refs > 0)
		return;
	pl_pasid_free(pm->pasid);
	pl_set_mm_pasid(pm, PL_INVALID);
}

void pl_task_refcount_unbind(struct pl_task *t, struct pl_mm *pm, bool last,
			     struct pl_hook_result *r)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	pl_put_pasid(pm);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

/* __fixup_pasid_exception(): load the MSR and take the thread's reference. */
bool pl_task_refcount_gp_fault(struct pl_task *t)
{
	struct pl_mm *pm = t->pm;

	if (!pm || pm->pasid == PL_INVALID || t->pasid_activated)
		return false;
	pl_write_msr(t, pm->pasid);
	t->pasid_activated = true;
	pm->pasid_refs++;
	return true;
}

/* pasid_put() from deactivate_mm(). */
static void pl_drop_task_ref(struct pl_task *t, struct pl_mm *pm)
{
	if (!t->pasid_activated)
		return;
	t->pasid_activated = false;
	pl_put_pasid(pm);
}

void pl_task_refcount_exit(struct pl_task *t, struct pl_mm *pm)
{
	pl_drop_task_ref(t, pm);
}

void pl_task_refcount_exec(struct pl_task *t, struct pl_mm *old)
{
	pl_drop_task_ref(t, old);
}

const struct pl_policy pl_task_refcount = {
	.name = "task-refcount",
	.bind = pl_task_refcount_bind,
	.unbind = pl_task_refcount_unbind,
	.gp_fault = pl_task_refcount_gp_fault,
	.exit = pl_task_refcount_exit,
	.exec = pl_task_refcount_exec,
};
