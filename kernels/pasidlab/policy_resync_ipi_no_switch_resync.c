// SPDX-License-Identifier: GPL-2.0
/*
 * Seeded mutant resync-ipi/no-switch-resync: the context-switch resync is
 * left out (no sched_switch probe at all), so a thread that was not running
 * when its mm's PASID changed keeps the old value.
 */
#include "pasidlab.h"

const struct pl_policy pl_resync_ipi_no_switch_resync = {
	.name = "resync-ipi/no-switch-resync",
	.parent = "resync-ipi",
	.bind = pl_resync_ipi_bind,
	.unbind = pl_resync_ipi_unbind,
	.acks_done = pl_resync_ipi_acks_done,
	.context_switch = NULL,	/* the deviation */
	.ipi = pl_resync_ipi_ipi,
	.return_to_user = pl_resync_ipi_return_to_user,
};
