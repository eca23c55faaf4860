// SPDX-License-Identifier: GPL-2.0
/*
 * Seeded mutant mm-lifetime/fork-inherits: a fork child keeps its parent's
 * IA32_PASID, as kernels did before dc7507ddce59 "x86/fpu: Clear PASID when
 * copying fpstate".
 */
#include "pasidlab.h"

static void pl_fork_inherits_fork(struct pl_task *parent, struct pl_task *child)
{
	pl_copy_msr(child, parent);	/* the deviation: fpu_clone() keeps the PASID state */
}

const struct pl_policy pl_mm_lifetime_fork_inherits = {
	.name = "mm-lifetime/fork-inherits",
	.parent = "mm-lifetime",
	.bind = pl_mm_lifetime_bind,
	.mm_drop = pl_mm_lifetime_mm_drop,
	.fork = pl_fork_inherits_fork,
};
