// SPDX-License-Identifier: GPL-2.0
/*
 * resync-ipi: Andy Lutomirski's "perfect" proposal in the seed thread
 * (<a77ee33c-6fa7-468c-8fc0-a0a2ce725e75@www.fastmail.com>, 24 Sep 2021,
 * never merged). No per-task references: the mm's PASID is allocated at the
 * first bind and freed at the last unbind. A change of the mm's PASID sends
 * IPIs to mm_cpumask; the handler only queues task_work for the task it
 * finds there if that task belongs to the mm (it must not touch FPU state);
 * the task_work resyncs IA32_PASID before the return to user. Context switch
 * resyncs too, behind a static key that may only go off when no task
 * anywhere can still hold a stale PASID. The old PASID is freed only after
 * the IPIs were acknowledged (the device queue was drained before the
 * unbind). A bind frees nothing and does not wait: a thread that runs when
 * another binds and submits before its task_work ran takes a #GP the
 * proposal does not fix up.
 */
#include "pasidlab.h"

/*
 * Sets mm->pasid and asks for the IPIs that make every running thread of
 * the mm pick it up (task_work); the others do at their next switch-in.
 */
static void pl_change_mm_pasid(struct pl_task *t, struct pl_mm *pm, u64 pasid,
			       struct pl_hook_result *r)
{
	pl_set_mm_pasid(pm, pasid);
	if (t && pl_current_in(pm))
		pl_task_work_add(t);	/* the caller resyncs on its way back to user */
	pl_send_ipis(r, pm);
}

/* IA32_PASID := mm->pasid. */
static void pl_resync(struct pl_task *t, struct pl_mm *pm)
{
	u64 want = pm ? READ_ONCE(pm->pasid) : PL_INVALID;

	if (t->msr != want)
		pl_write_msr(t, want);
}

int pl_resync_ipi_bind(struct pl_task *t, struct pl_mm *pm, struct pl_hook_result *r)
{
	unsigned long flags;
	int ret = 0;

	raw_spin_lock_irqsave(&pl_lock, flags);
	/* Nothing is freed here, so nothing to wait for. */
	if (pm->pasid == PL_INVALID) {
		u64 pasid = pl_pasid_alloc(pm);

		if (pasid == PL_INVALID)
			ret = -ENOSPC;
		else
			pl_change_mm_pasid(t, pm, pasid, r);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	return ret;
}

void pl_resync_ipi_unbind(struct pl_task *t, struct pl_mm *pm, bool last,
			  struct pl_hook_result *r)
{
	unsigned long flags;

	if (!last)
		return;
	raw_spin_lock_irqsave(&pl_lock, flags);
	if (pm->pasid != PL_INVALID) {
		r->cookie = pm->pasid;
		r->wait_for_acks = true;	/* freed once every CPU has acknowledged */
		pl_change_mm_pasid(t, pm, PL_INVALID, r);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

void pl_resync_ipi_acks_done(struct pl_task *t, struct pl_mm *pm, u64 cookie)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	if (cookie != PL_INVALID)
		pl_pasid_free(cookie);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

/* Runs on every switch to a user thread while the static key is on. */
bool pl_resync_ipi_context_switch(struct task_struct *next, struct pl_mm *next_pm)
{
	u64 want = next_pm ? READ_ONCE(next_pm->pasid) : PL_INVALID;
	struct pl_task *t = pl_task_lookup_rcu(next);
	unsigned long flags;

	if ((t ? READ_ONCE(t->msr) : PL_INVALID) == want)
		return true;
	raw_spin_lock_irqsave(&pl_lock, flags);
	t = pl_task_get_or_create(next, next_pm);
	if (t)
		pl_resync(t, next_pm);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	return true;
}

void pl_resync_ipi_ipi(struct pl_mm *pm)
{
	struct pl_task *t;

	/* mm_cpumask is a superset: the CPU may be running anything by now. */
	if (!pl_current_in(pm))
		return;
	t = pl_current_task();
	if (t)
		pl_task_work_add(t);
}

void pl_resync_ipi_return_to_user(struct pl_task *t)
{
	if (!current->mm)
		return;		/* exiting: past exit_mm() */
	pl_resync(t, pl_mm_lookup_rcu(current->mm));
}

const struct pl_policy pl_resync_ipi = {
	.name = "resync-ipi",
	.bind = pl_resync_ipi_bind,
	.unbind = pl_resync_ipi_unbind,
	.acks_done = pl_resync_ipi_acks_done,
	.context_switch = pl_resync_ipi_context_switch,
	.ipi = pl_resync_ipi_ipi,
	.return_to_user = pl_resync_ipi_return_to_user,
};
