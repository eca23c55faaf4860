// SPDX-License-Identifier: GPL-2.0
/*
 * Seeded mutant resync-ipi/free-before-ack: the last unbind frees the old
 * PASID without waiting for the IPIs (here: before they are even sent).
 */
#include "pasidlab.h"

static void pl_free_before_ack_unbind(struct pl_task *t, struct pl_mm *pm, bool last,
				      struct pl_hook_result *r)
{
	unsigned long flags;

	pl_resync_ipi_unbind(t, pm, last, r);
	if (!r->wait_for_acks)
		return;
	raw_spin_lock_irqsave(&pl_lock, flags);
	pl_pasid_free(r->cookie);	/* the deviation */
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	r->wait_for_acks = false;
}

const struct pl_policy pl_resync_ipi_free_before_ack = {
	.name = "resync-ipi/free-before-ack",
	.parent = "resync-ipi",
	.bind = pl_resync_ipi_bind,
	.unbind = pl_free_before_ack_unbind,
	.acks_done = pl_resync_ipi_acks_done,
	.context_switch = pl_resync_ipi_context_switch,
	.ipi = pl_resync_ipi_ipi,
	.return_to_user = pl_resync_ipi_return_to_user,
};
