// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated IOMMU side: one global PASID space handed out lowest free
 * first (an IDA in the kernel, so a freed PASID is reused at once), the
 * PASID table that maps a PASID to the mm bound to it, and the idle
 * accounting (PASIDs allocated with no table entry, the cost mm-lifetime
 * pays). Also the operations on mm->pasid and the emulated IA32_PASID.
 * Everything here runs under pl_lock.
 */
#include <linux/bitmap.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "pasidlab.h"

struct pl_slot {
	struct pl_mm *owner;		/* allocated for; NULL when free */
	struct pl_mm *installed;	/* the PASID-table entry; NULL when none */
	u32 alloc_id;			/* current allocation, 0 when free */
	u64 idle_since;			/* allocated with no entry since, 0 if not */
};

static struct pl_slot *pl_slots;
static unsigned long *pl_used;
static u32 pl_next_alloc_id;
static u64 pl_live, pl_peak;
static int pl_idle_count;
static u64 pl_idle_open_sum, pl_idle_closed;
static int pl_mms_pasid;
static int pl_valid_msrs;

int pl_pasid_init(void)
{
	pl_slots = kvcalloc(pl_pasid_max + 1, sizeof(*pl_slots), GFP_KERNEL);
	pl_used = bitmap_zalloc(pl_pasid_max + 1, GFP_KERNEL);
	if (!pl_slots || !pl_used) {
		pl_pasid_exit();
		return -ENOMEM;
	}
	set_bit(0, pl_used);	/* RID_PASID, never handed out */
	return 0;
}

void pl_pasid_exit(void)
{
	u32 p;

	if (pl_slots) {
		for (p = 1; p <= pl_pasid_max; p++) {
			if (pl_slots[p].owner)
				pl_mm_put(pl_slots[p].owner);
			if (pl_slots[p].installed)
				pl_mm_put(pl_slots[p].installed);
		}
	}
	kvfree(pl_slots);
	bitmap_free(pl_used);
	pl_slots = NULL;
	pl_used = NULL;
}

static void pl_idle_begin(struct pl_slot *s, u64 now)
{
	s->idle_since = now;
	pl_idle_count++;
	pl_idle_open_sum += now;
	s->owner->idle_count++;
	s->owner->idle_open_sum += now;
}

static void pl_idle_end(struct pl_slot *s, u64 now)
{
	u64 held = now - s->idle_since;

	pl_idle_count--;
	pl_idle_open_sum -= s->idle_since;
	pl_idle_closed += held;
	s->owner->idle_count--;
	s->owner->idle_open_sum -= s->idle_since;
	atomic64_add(held, &s->owner->ctr.counters[PASIDLAB_CTR_PASID_IDLE_NS]);
	s->idle_since = 0;
}

u64 pl_pasid_alloc(struct pl_mm *owner)
{
	struct pl_slot *s;
	unsigned long p;

	lockdep_assert_held(&pl_lock);
	p = find_next_zero_bit(pl_used, pl_pasid_max + 1, 1);
	if (p > pl_pasid_max)
		return PL_INVALID;
	set_bit(p, pl_used);
	s = &pl_slots[p];
	if (++pl_next_alloc_id == 0)
		pl_next_alloc_id = 1;
	s->alloc_id = pl_next_alloc_id;
	s->owner = owner;
	pl_mm_get(owner);
	if (++pl_live > pl_peak)
		pl_peak = pl_live;
	if (!s->installed)
		pl_idle_begin(s, ktime_get_ns());
	pl_count(PASIDLAB_CTR_PASID_ALLOCS);
	pl_count_mm(owner, PASIDLAB_CTR_PASID_ALLOCS);
	return pl_word(p, s->alloc_id);
}

void pl_pasid_free(u64 pasid)
{
	u32 p = pl_pasid(pasid);
	struct pl_slot *s;

	lockdep_assert_held(&pl_lock);
	if (!p || p > pl_pasid_max || !pl_slots[p].alloc_id) {
		pl_count_violation(NULL, PASIDLAB_VIO_DOUBLE_FREE);
		return;
	}
	s = &pl_slots[p];
	pl_check_stale_holders(pl_word(p, s->alloc_id));
	if (s->installed)
		pl_count_violation(s->owner, PASIDLAB_VIO_FREED_WHILE_INSTALLED);
	else
		pl_idle_end(s, ktime_get_ns());
	pl_count(PASIDLAB_CTR_PASID_FREES);
	pl_count_mm(s->owner, PASIDLAB_CTR_PASID_FREES);
	pl_mm_put(s->owner);
	s->owner = NULL;
	s->alloc_id = 0;
	clear_bit(p, pl_used);
	pl_live--;
}

void pl_install(u64 pasid, struct pl_mm *pm)
{
	struct pl_slot *s = &pl_slots[pl_pasid(pasid)];

	lockdep_assert_held(&pl_lock);
	if (s->installed == pm)
		return;
	if (s->installed)
		pl_mm_put(s->installed);
	else if (s->idle_since)
		pl_idle_end(s, ktime_get_ns());
	pl_mm_get(pm);
	s->installed = pm;
}

void pl_uninstall(u64 pasid)
{
	struct pl_slot *s = &pl_slots[pl_pasid(pasid)];

	lockdep_assert_held(&pl_lock);
	if (!s->installed)
		return;
	pl_mm_put(s->installed);
	s->installed = NULL;
	if (s->alloc_id)
		pl_idle_begin(s, ktime_get_ns());
}

/*
 * What the IOMMU finds for a descriptor now: the entry maps the submitter's
 * mm (ok), another mm (isolation_violation), nothing while the allocation the
 * descriptor's PASID came from is gone (use_after_free), or nothing
 * (fault_unbound).
 */
int pl_lookup(u64 pasid, const struct pl_mm *submitter)
{
	u32 p = pl_pasid(pasid);
	struct pl_slot *s;

	lockdep_assert_held(&pl_lock);
	if (!p || p > pl_pasid_max)
		return PASIDLAB_OUT_FAULT_UNBOUND;
	s = &pl_slots[p];
	if (s->installed)
		return s->installed == submitter ? PASIDLAB_OUT_OK
						 : PASIDLAB_OUT_ISOLATION_VIOLATION;
	if (pl_alloc_id(pasid) && s->alloc_id != pl_alloc_id(pasid))
		return PASIDLAB_OUT_USE_AFTER_FREE;
	return PASIDLAB_OUT_FAULT_UNBOUND;
}

void pl_snapshot_pasids(u64 now, u64 *live, u64 *peak, u64 *idle_ns)
{
	lockdep_assert_held(&pl_lock);
	*live = pl_live;
	*peak = pl_peak;
	*idle_ns = pl_idle_closed + (u64)pl_idle_count * now - pl_idle_open_sum;
}

void pl_restart_peak(void)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	pl_peak = pl_live;
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

void pl_set_mm_pasid(struct pl_mm *pm, u64 pasid)
{
	lockdep_assert_held(&pl_lock);
	pl_mms_pasid += (pasid != PL_INVALID) - (pm->pasid != PL_INVALID);
	WRITE_ONCE(pm->pasid, pasid);
	if (!pl_mms_pasid)
		pl_switch_probe_recheck();
}

void pl_write_msr(struct pl_task *t, u64 pasid)
{
	lockdep_assert_held(&pl_lock);
	if (t->msr == pasid)
		return;
	if (!t->exited) {
		pl_valid_msrs += (pasid != PL_INVALID) - (t->msr != PL_INVALID);
		if (!pl_valid_msrs)
			pl_switch_probe_recheck();
	}
	WRITE_ONCE(t->msr, pasid);
	pl_count(PASIDLAB_CTR_MSR_WRITES);
}

void pl_copy_msr(struct pl_task *to, const struct pl_task *from)
{
	pl_write_msr(to, from->msr);
}

/* The thread leaves the count of live holders when it exits. */
void pl_task_exited(struct pl_task *t)
{
	lockdep_assert_held(&pl_lock);
	if (t->exited)
		return;
	t->exited = true;
	if (t->msr != PL_INVALID && !--pl_valid_msrs)
		pl_switch_probe_recheck();
}

int pl_mms_with_pasid(void)
{
	return pl_mms_pasid;
}

int pl_tasks_with_valid_msr(void)
{
	return pl_valid_msrs;
}
