// SPDX-License-Identifier: GPL-2.0
/*
 * mm-lifetime: the mm owns one PASID from its first bind until __mmdrop()
 * ("iommu/sva: Assign a PASID to mm on PASID allocation and free it on mm
 * exit", v5.18; moved from __mmput() to __mmdrop() by 2667ed10d9f0 in
 * v5.18-rc6). Unbind detaches the device and keeps the PASID. In this plain
 * form only the binding thread gets its IA32_PASID loaded, at bind.
 */
#include "pasidlab.h"

/* iommu_sva_alloc_pasid(): "available for the lifetime of the mm". pl_lock held. */
int pl_mm_lifetime_assign(struct pl_mm *pm)
{
	if (pm->pasid == PL_INVALID)
		pl_set_mm_pasid(pm, pl_pasid_alloc(pm));
	return pm->pasid == PL_INVALID ? -ENOSPC : 0;
}

int pl_mm_lifetime_bind(struct pl_task *t, struct pl_mm *pm, struct pl_hook_result *r)
{
	unsigned long flags;
	int ret;

	raw_spin_lock_irqsave(&pl_lock, flags);
	ret = pl_mm_lifetime_assign(pm);
	/* load_msr_at_bind(): the binding thread only. */
	if (!ret && pl_current_in(pm))
		pl_write_msr(t, pm->pasid);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	return ret;
}

/* mm_pasid_drop() from __mmdrop(). */
void pl_mm_lifetime_mm_drop(struct pl_mm *pm)
{
	if (pm->pasid == PL_INVALID)
		return;
	pl_pasid_free(pm->pasid);
	pl_set_mm_pasid(pm, PL_INVALID);
}

const struct pl_policy pl_mm_lifetime = {
	.name = "mm-lifetime",
	.bind = pl_mm_lifetime_bind,
	.mm_drop = pl_mm_lifetime_mm_drop,
};
