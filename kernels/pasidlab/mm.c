// SPDX-License-Identifier: GPL-2.0
/*
 * The emulator's mm state: one struct pl_mm per mm_struct, from the mm's
 * first bind until __mmdrop(), found by the mm's address.
 *
 * __mmdrop() is observed with a kprobe: the emulator holds no mm_count
 * reference of its own (a binding holds the driver's, as
 * iommu_sva_bind_device() does), so the PASID is freed where mainline frees
 * it, at the real final mmdrop -- which a lazy-TLB CPU can defer.
 */
#include <linux/hashtable.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "pasidlab.h"

static DEFINE_HASHTABLE(pl_mm_hash, 8);

static void pl_mm_free_rcu(struct rcu_head *head)
{
	kfree(container_of(head, struct pl_mm, rcu));
}

void pl_mm_get(struct pl_mm *pm)
{
	refcount_inc(&pm->ref);
}

void pl_mm_put(struct pl_mm *pm)
{
	if (pm && refcount_dec_and_test(&pm->ref))
		call_rcu(&pm->rcu, pl_mm_free_rcu);
}

/* Under rcu_read_lock() or pl_lock. */
struct pl_mm *pl_mm_lookup_rcu(const struct mm_struct *mm)
{
	struct pl_mm *pm;

	if (!mm)
		return NULL;
	hash_for_each_possible_rcu(pl_mm_hash, pm, node, (unsigned long)mm)
		if (READ_ONCE(pm->mm) == mm)
			return pm;
	return NULL;
}

/* The state of current's mm, made at its first bind; referenced. */
struct pl_mm *pl_mm_get_or_create(struct mm_struct *mm)
{
	struct pl_mm *pm, *found;
	unsigned long flags;

	lockdep_assert_held(&pl_mutex);
	raw_spin_lock_irqsave(&pl_lock, flags);
	found = pl_mm_lookup_rcu(mm);
	if (found)
		pl_mm_get(found);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	if (found)
		return found;

	pm = kzalloc(sizeof(*pm), GFP_KERNEL);
	if (!pm)
		return NULL;
	pm->mm = mm;
	refcount_set(&pm->ref, 2);	/* the hash's and the caller's */
	pm->tgid = current->tgid;
	get_task_comm(pm->comm, current);
	raw_spin_lock_irqsave(&pl_lock, flags);
	hash_add_rcu(pl_mm_hash, &pm->node, (unsigned long)mm);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	return pm;
}

/* mm_exit: exit_mmap() ran (the mmu notifier's .release); pl_lock free. */
void pl_mm_exited(struct pl_mm *pm)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	if (!pm->exited) {
		pm->exited = true;
		pl_count(PASIDLAB_CTR_MM_EXITS);
		pl_count_mm(pm, PASIDLAB_CTR_MM_EXITS);
		if (pl_policy->mm_exit)
			pl_policy->mm_exit(pm);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

/* mm_drop: the __mmdrop kprobe, any context. */
void pl_mm_dropped(struct mm_struct *mm)
{
	struct pl_mm *pm;
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	pm = pl_mm_lookup_rcu(mm);
	if (pm) {
		hash_del_rcu(&pm->node);
		pm->dropped = true;
		WRITE_ONCE(pm->mm, NULL);
		pl_count(PASIDLAB_CTR_MM_DROPS);
		pl_count_mm(pm, PASIDLAB_CTR_MM_DROPS);
		if (pl_policy->mm_drop)
			pl_policy->mm_drop(pm);
		pl_mm_put(pm);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

/* Module exit: the hash's references (everything else is gone). */
void pl_mm_release_all(void)
{
	struct hlist_node *tmp;
	struct pl_mm *pm;
	unsigned long flags;
	int bkt;

	raw_spin_lock_irqsave(&pl_lock, flags);
	hash_for_each_safe(pl_mm_hash, bkt, tmp, pm, node) {
		hash_del_rcu(&pm->node);
		pl_mm_put(pm);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

/* Visits every tracked mm under pl_lock (debugfs). */
void pl_mm_for_each(void (*fn)(struct pl_mm *pm, void *arg), void *arg)
{
	struct pl_mm *pm;
	unsigned long flags;
	int bkt;

	raw_spin_lock_irqsave(&pl_lock, flags);
	hash_for_each(pl_mm_hash, bkt, pm, node)
		fn(pm, arg);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}
