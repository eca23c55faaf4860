// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated device behind the shared work queue: a kthread that executes
 * descriptors in submission order, each no earlier than device_delay_us
 * after its ENQCMD. The PASID is looked up in the PASID table when the
 * descriptor executes, not when it was submitted, as an IOMMU does; the
 * outcome is written into a completion record in the submitter's memory
 * and counted. The record's page is pinned at ENQCMD and written through a
 * kernel mapping, as a device's DMA needs no CPU in the mm: with
 * kthread_use_mm() the device thread's CPU would stay in mm_cpumask()
 * (lazy TLB) and draw IPIs that no real device causes.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "pasidlab.h"

struct pl_desc {
	struct list_head node;
	u64 pasid;			/* what IA32_PASID held at ENQCMD */
	struct pl_mm *pm;		/* the submitter's mm, referenced */
	struct page *cr_page;		/* the completion record's, pinned; or NULL */
	u64 completion_addr;
	u64 cookie;
	u64 submit_ns;
};

static LIST_HEAD(pl_queue);
static DEFINE_SPINLOCK(pl_queue_lock);
static unsigned int pl_queued;
static DECLARE_WAIT_QUEUE_HEAD(pl_work_wait);
static DECLARE_WAIT_QUEUE_HEAD(pl_drain_wait);
static struct task_struct *pl_device_thread;

/* A release drains the queue: it waits this long per descriptor at most. */
#define PL_MAX_DELAY_US 1000000U

/*
 * The completion record's page, pinned; NULL when the device could not
 * write it (read-only, unmapped): its fault at execution, as a DMA write's
 * would be, while the ENQCMD itself succeeds. The record is 32-byte aligned
 * (checked by the caller), so in one page. Called without the mmap lock:
 * the slow path takes it.
 */
struct page *pl_pin_completion(u64 completion_addr)
{
	struct page *page;

	if (!completion_addr ||
	    pin_user_pages_fast(completion_addr & PAGE_MASK, 1, FOLL_WRITE, &page) != 1)
		return NULL;
	return page;
}

/* Queues a descriptor; cr_page (from pl_pin_completion()) is its, or unpinned. */
int pl_device_submit(u64 msr, struct pl_mm *pm, u64 completion_addr, struct page *cr_page,
		     u64 cookie)
{
	struct pl_desc *d;

	d = kmalloc(sizeof(*d), GFP_KERNEL);
	if (!d) {
		if (cr_page)
			unpin_user_page(cr_page);
		return -ENOMEM;
	}
	d->pasid = msr;
	d->completion_addr = completion_addr;
	d->cookie = cookie;
	d->cr_page = cr_page;
	d->submit_ns = ktime_get_ns();
	spin_lock(&pl_queue_lock);
	if (pl_queued >= pl_wq_size) {
		spin_unlock(&pl_queue_lock);
		if (d->cr_page)
			unpin_user_page(d->cr_page);
		kfree(d);
		return -EAGAIN;
	}
	pl_mm_get(pm);
	d->pm = pm;
	list_add_tail(&d->node, &pl_queue);
	pl_queued++;
	spin_unlock(&pl_queue_lock);
	wake_up(&pl_work_wait);
	return 0;
}

static struct pl_desc *pl_queue_head(void)
{
	struct pl_desc *d;

	spin_lock(&pl_queue_lock);
	d = list_first_entry_or_null(&pl_queue, struct pl_desc, node);
	spin_unlock(&pl_queue_lock);
	return d;
}

static bool pl_queue_holds(u64 pasid)
{
	struct pl_desc *d;
	bool found = false;

	spin_lock(&pl_queue_lock);
	list_for_each_entry(d, &pl_queue, node) {
		if (pl_pasid(d->pasid) == pl_pasid(pasid)) {
			found = true;
			break;
		}
	}
	spin_unlock(&pl_queue_lock);
	return found;
}

/* idxd_device_drain_pasid(): returns once no queued descriptor carries pasid. */
void pl_device_drain(u64 pasid)
{
	wait_event(pl_drain_wait, !pl_queue_holds(pasid));
}

static void pl_write_completion(struct pl_desc *d, int outcome)
{
	struct pasidlab_completion cr = {
		.pasid = pl_pasid(d->pasid),
		.cookie = d->cookie,
		.submit_ns = d->submit_ns,
		.complete_ns = ktime_get_ns(),
	};
	u8 *page = kmap_local_page(d->cr_page);
	u8 *addr = page + offset_in_page(d->completion_addr);

	/* Everything but the status, then the status: the submitter polls it. */
	memcpy(addr + 1, (u8 *)&cr + 1, sizeof(cr) - 1);
	/* The record's fields before its status: pairs with the submitter's poll. */
	smp_wmb();
	WRITE_ONCE(*addr, (u8)(outcome + 1));
	kunmap_local(page);
	unpin_user_pages_dirty_lock(&d->cr_page, 1, true);
	pl_count(PASIDLAB_CTR_COMPLETIONS);
}

static void pl_execute(struct pl_desc *d)
{
	unsigned long flags;
	int outcome;

	raw_spin_lock_irqsave(&pl_lock, flags);
	outcome = pl_lookup(d->pasid, d->pm);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	pl_count_outcome(d->pm, outcome);
	if (outcome == PASIDLAB_OUT_ISOLATION_VIOLATION)
		pl_count_violation(d->pm, PASIDLAB_VIO_ISOLATION_VIOLATION);
	else if (outcome == PASIDLAB_OUT_USE_AFTER_FREE)
		pl_count_violation(d->pm, PASIDLAB_VIO_USE_AFTER_FREE);
	if (d->cr_page)
		pl_write_completion(d, outcome);
	else if (d->completion_addr)
		pl_count(PASIDLAB_CTR_COMPLETION_FAULTS);

	spin_lock(&pl_queue_lock);
	list_del(&d->node);
	pl_queued--;
	spin_unlock(&pl_queue_lock);
	wake_up_all(&pl_drain_wait);
	pl_mm_put(d->pm);
	kfree(d);
}

static int pl_device_fn(void *unused)
{
	struct pl_desc *d;
	u64 due, now;

	for (;;) {
		wait_event_interruptible(pl_work_wait,
					 pl_queue_head() || kthread_should_stop());
		d = pl_queue_head();
		if (!d) {
			if (kthread_should_stop())
				break;
			continue;
		}
		due = d->submit_ns +
		      (u64)min(READ_ONCE(pl_device_delay_us), PL_MAX_DELAY_US) * NSEC_PER_USEC;
		now = ktime_get_ns();
		if (now < due && !kthread_should_stop()) {
			u64 wait_us = div_u64(due - now, NSEC_PER_USEC) + 1;

			usleep_range(wait_us, wait_us + 10);
			continue;
		}
		pl_execute(d);
	}
	/* Stopping (module unload): what is left executes now. */
	while ((d = pl_queue_head()))
		pl_execute(d);
	return 0;
}

int pl_device_init(void)
{
	pl_device_thread = kthread_run(pl_device_fn, NULL, "pasidlab-dev");
	if (IS_ERR(pl_device_thread)) {
		int ret = PTR_ERR(pl_device_thread);

		pl_device_thread = NULL;
		return ret;
	}
	return 0;
}

void pl_device_exit(void)
{
	if (pl_device_thread)
		kthread_stop(pl_device_thread);
	pl_device_thread = NULL;
}
