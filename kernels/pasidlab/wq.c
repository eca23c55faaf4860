// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated shared work queue, with the shape of an idxd user work queue
 * (drivers/dma/idxd/cdev.c):
 *
 *   open     SVA bind of current->mm: the driver's mm_count reference
 *            (mmgrab), an mmu notifier for __mmput(), the policy's bind, the
 *            PASID-table entry on the mm's first bind
 *   mmap     the portal: one page, only in the binding mm, not inherited
 *            over fork (VM_DONTCOPY)
 *   ioctl    PASIDLAB_IOC_ENQCMD: ENQCMD with the calling thread's IA32_PASID,
 *            to a portal of the calling thread's mm (any pasidlab fd takes it:
 *            what it does depends on the thread and its mm, not on the fd)
 *   release  when the fd and every mapping are gone: drain the PASID's
 *            descriptors, unbind (the last bind removes the PASID-table
 *            entry), the policy's unbind, mmdrop -- idxd_cdev_release()'s order
 *
 * and /dev/pasidlab/ctl, which opens without binding: counters, the calling
 * thread's state, the configuration.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pasidlab.h"

struct pl_bind {
	struct pl_mm *pm;		/* referenced */
	struct mm_struct *mm;		/* mmgrab()ed from open to release */
	struct mmu_notifier mn;
	u64 pasid;			/* the mm's PASID when it bound */
};

/* mm_exit: exit_mmap() calls .release with mm_users at zero. */
static void pl_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct pl_bind *b = container_of(mn, struct pl_bind, mn);

	/* mmu_notifier_unregister() calls it too while the mm lives on. */
	if (!atomic_read(&mm->mm_users))
		pl_mm_exited(b->pm);
}

static const struct mmu_notifier_ops pl_mn_ops = {
	.release = pl_mn_release,
};

static int pl_wq_open(struct inode *inode, struct file *file)
{
	struct pl_hook_result r = {};
	struct mm_struct *mm = current->mm;
	struct pl_task *t;
	struct pl_bind *b;
	unsigned long flags;
	int ret;

	if (!mm || (current->flags & PF_KTHREAD))
		return -ENODEV;
	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->mm = mm;
	mmgrab(mm);
	b->mn.ops = &pl_mn_ops;
	ret = mmu_notifier_register(&b->mn, mm);
	if (ret)
		goto out_free;

	mutex_lock(&pl_mutex);
	b->pm = pl_mm_get_or_create(mm);
	if (!b->pm) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	/* The static key goes on before the mm has a PASID. */
	pl_switch_probe_force_on();
	raw_spin_lock_irqsave(&pl_lock, flags);
	t = pl_current_task();
	if (t)
		b->pm->device_binds++;
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	if (!t) {
		ret = -ENOMEM;	/* max_tasks threads have emulated state */
		goto out_unlock;
	}

	ret = pl_policy->bind(t, b->pm, &r);
	raw_spin_lock_irqsave(&pl_lock, flags);
	if (!ret && b->pm->pasid == PL_INVALID)
		ret = -ENOSPC;
	if (ret) {
		b->pm->device_binds--;
	} else {
		b->pasid = b->pm->pasid;
		pl_install(b->pasid, b->pm);
		pl_count(PASIDLAB_CTR_BINDS);
		pl_count_mm(b->pm, PASIDLAB_CTR_BINDS);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	if (r.ipis)
		pl_ipis(r.ipis, mm);
	if (r.wait_for_acks && pl_policy->acks_done)
		pl_policy->acks_done(t, b->pm, r.cookie);
	if (ret) {
		pl_switch_probe_recheck();
		goto out_unlock;
	}
	mutex_unlock(&pl_mutex);
	file->private_data = b;
	return 0;

out_unlock:
	mutex_unlock(&pl_mutex);
	mmu_notifier_unregister(&b->mn, mm);
	pl_mm_put(b->pm);
out_free:
	mmdrop(mm);
	kfree(b);
	return ret;
}

static int pl_wq_release(struct inode *inode, struct file *file)
{
	struct pl_bind *b = file->private_data;
	struct pl_hook_result r = {};
	struct pl_task *t;
	unsigned long flags;
	bool last;

	/*
	 * munmap() drops the portal count in the vma's close, after it
	 * downgraded its mmap lock: an ENQCMD may have found the portal still
	 * counted and not have queued its descriptor yet. Each holds the lock
	 * for reading until it has; taking it for writing once waits for them,
	 * so the drain sees every descriptor sent through a portal (after
	 * munmap() returned, none can be).
	 */
	mmap_write_lock(b->mm);
	mmap_write_unlock(b->mm);
	pl_device_drain(b->pasid);

	mutex_lock(&pl_mutex);
	raw_spin_lock_irqsave(&pl_lock, flags);
	t = pl_current_task();	/* the releasing thread; any mm, or exiting */
	last = --b->pm->device_binds == 0;
	if (last)
		pl_uninstall(b->pasid);
	pl_count(PASIDLAB_CTR_UNBINDS);
	pl_count_mm(b->pm, PASIDLAB_CTR_UNBINDS);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	if (pl_policy->unbind)
		pl_policy->unbind(t, b->pm, last, &r);
	if (r.ipis)
		pl_ipis(r.ipis, b->mm);
	if (r.wait_for_acks && pl_policy->acks_done)
		pl_policy->acks_done(t, b->pm, r.cookie);
	mutex_unlock(&pl_mutex);

	mmu_notifier_unregister(&b->mn, b->mm);
	/* The driver's reference: possibly the mm's last, then __mmdrop() runs. */
	mmdrop(b->mm);
	pl_mm_put(b->pm);
	kfree(b);
	return 0;
}

static void pl_portal_open(struct vm_area_struct *vma)
{
	struct pl_bind *b = vma->vm_private_data;

	atomic_inc(&b->pm->portals);
}

static void pl_portal_close(struct vm_area_struct *vma)
{
	struct pl_bind *b = vma->vm_private_data;

	atomic_dec(&b->pm->portals);
}

static const struct vm_operations_struct pl_portal_ops = {
	.open = pl_portal_open,
	.close = pl_portal_close,
};

static int pl_wq_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct pl_bind *b = file->private_data;
	struct page *page;
	int ret;

	/* 8dfa57aabff6 "dmaengine: idxd: Fix allowing write() from different address spaces" */
	if (current->mm != b->mm)
		return -EPERM;
	if (vma->vm_end - vma->vm_start != PAGE_SIZE || vma->vm_pgoff)
		return -EINVAL;
#ifdef PL_HAVE_VM_FLAGS_SET	/* Kbuild: 6.3 made vm_flags read-only */
	vm_flags_set(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP);
#else
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP;
#endif
	/* A page of its own: the portal is write-only MMIO on a real device. */
	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page)
		return -ENOMEM;
	ret = vm_insert_page(vma, vma->vm_start, page);
	put_page(page);
	if (ret)
		return ret;
	vma->vm_ops = &pl_portal_ops;
	vma->vm_private_data = b;
	pl_portal_open(vma);
	return 0;
}

/*
 * ENQCMD: IA32_PASID goes into the descriptor; invalid raises #GP. The
 * instruction is atomic: once munmap() of the last portal returned, no
 * descriptor can still be on its way to the queue, so the release's drain
 * sees every one. The emulated one holds the mmap lock for reading from the
 * portal check to the queueing, and the release waits for it (above).
 */
static long pl_enqcmd(void __user *uarg)
{
	struct mm_struct *mm = current->mm;
	struct pasidlab_enqcmd req;
	struct page *cr_page;
	struct pl_mm *pm;
	struct pl_task *t;
	unsigned long flags;
	u64 msr = PL_INVALID;
	bool gp = false;
	long ret = 0;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (req.flags & ~PASIDLAB_ENQ_FLAGS || req.completion_addr % 32)
		return -EINVAL;
	if (req.completion_addr &&
	    !access_ok(u64_to_user_ptr(req.completion_addr), sizeof(struct pasidlab_completion)))
		return -EFAULT;
	if (!mm)
		return -EINVAL;
	req.result = 0;
	req.msr = 0;
	req.gp_fixed = 0;

	/*
	 * Pinned before the mmap lock: pinning may fault the page in, which
	 * takes the lock again, and a nested read deadlocks behind a writer
	 * (munmap, the release's wait below).
	 */
	cr_page = pl_pin_completion(req.completion_addr);
	if (mmap_read_lock_killable(mm)) {
		if (cr_page)
			unpin_user_page(cr_page);
		return -EINTR;
	}
	rcu_read_lock();
	pm = pl_mm_lookup_rcu(mm);
	if (pm && !refcount_inc_not_zero(&pm->ref))
		pm = NULL;
	rcu_read_unlock();
	pl_count(PASIDLAB_CTR_SUBMITS);
	pl_count_mm(pm, PASIDLAB_CTR_SUBMITS);
	if (!pm || !atomic_read(&pm->portals)) {
		/* No portal to ENQCMD to: nothing reaches the device. */
		pl_count_outcome(pm, PASIDLAB_OUT_FAULT_UNBOUND);
		req.result = PASIDLAB_ENQ_NO_PORTAL;
		goto out_unlock;
	}

	raw_spin_lock_irqsave(&pl_lock, flags);
	t = pl_current_task();
	if (t) {
		msr = t->msr;
		if (msr == PL_INVALID && pl_policy->gp_fault && pl_policy->gp_fault(t) &&
		    t->msr != PL_INVALID) {
			/* try_fixup_enqcmd_gp() or the policy's equivalent: retried. */
			msr = t->msr;
			req.gp_fixed = 1;
			pl_count(PASIDLAB_CTR_GP_FIXUPS);
			pl_count_mm(pm, PASIDLAB_CTR_GP_FIXUPS);
		}
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	if (!t) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	if (msr == PL_INVALID) {
		/* The #GP stands: exc_general_protection() from user mode. */
		pl_count_outcome(pm, PASIDLAB_OUT_GP_SIGSEGV);
		pl_count(PASIDLAB_CTR_GP_SIGSEGVS);
		pl_count_mm(pm, PASIDLAB_CTR_GP_SIGSEGVS);
		req.result = PASIDLAB_ENQ_GP;
		gp = true;
		goto out_unlock;
	}
	req.msr = pl_msr_value(msr);
	ret = pl_device_submit(msr, pm, req.completion_addr, cr_page, req.cookie);
	cr_page = NULL;	/* the descriptor's, or unpinned */
	if (ret == -EAGAIN) {
		pl_count(PASIDLAB_CTR_ENQCMD_RETRIES);
		pl_count_mm(pm, PASIDLAB_CTR_ENQCMD_RETRIES);
		req.result = PASIDLAB_ENQ_RETRY;
		ret = 0;
	} else if (!ret) {
		req.result = PASIDLAB_ENQ_QUEUED;
	}
out_unlock:
	mmap_read_unlock(mm);
	if (cr_page)
		unpin_user_page(cr_page);
	pl_mm_put(pm);
	if (ret)
		return ret;
	if (gp && !(req.flags & PASIDLAB_ENQ_NO_SIGNAL))
		force_sig(SIGSEGV);
	return copy_to_user(uarg, &req, sizeof(req)) ? -EFAULT : 0;
}

static long pl_thread_state(void __user *uarg)
{
	struct pasidlab_thread st = {};
	struct pl_task *t;
	struct pl_mm *pm;
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	pm = pl_mm_lookup_rcu(current->mm);
	t = pl_task_lookup_rcu(current);
	if (t) {
		st.msr = pl_msr_value(t->msr);
		st.pasid_activated = t->pasid_activated;
		st.task_work_queued = atomic_read(&t->twork_queued);
	}
	if (pm) {
		st.mm_pasid = pl_pasid(pm->pasid);
		st.mm_binds = pm->device_binds;
		st.mm_portals = atomic_read(&pm->portals);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long pl_info(void __user *uarg)
{
	struct pasidlab_info info = {
		.version = PASIDLAB_VERSION,
		.switch_probe = pl_switch_probe_on(),
		.pasid_max = pl_pasid_max,
		.wq_size = pl_wq_size,
		.device_delay_us = READ_ONCE(pl_device_delay_us),
		.max_tasks = pl_max_tasks,
	};

	strscpy(info.policy, pl_policy->name, sizeof(info.policy));
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long pl_counters(void __user *uarg, bool mm_only)
{
	struct pasidlab_counters *out;
	struct pl_mm *pm = NULL;
	u32 size;
	long ret = 0;

	if (get_user(size, (u32 __user *)uarg))
		return -EFAULT;
	if (size < offsetof(struct pasidlab_counters, counters))
		return -EINVAL;
	size = min_t(u32, size, sizeof(*out));
	if (mm_only) {
		rcu_read_lock();
		pm = pl_mm_lookup_rcu(current->mm);
		if (pm && !refcount_inc_not_zero(&pm->ref))
			pm = NULL;
		rcu_read_unlock();
		if (!pm)
			return -ENOENT;
	}
	out = kmalloc(sizeof(*out), GFP_KERNEL);
	if (!out) {
		ret = -ENOMEM;
		goto out_put;
	}
	if (pm)
		pl_counters_read_mm(pm, out);
	else
		pl_counters_read(out);
	out->size = size;
	if (copy_to_user(uarg, out, size))
		ret = -EFAULT;
	kfree(out);
out_put:
	pl_mm_put(pm);
	return ret;
}

static long pl_ctl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case PASIDLAB_IOC_ENQCMD:
		return pl_enqcmd(uarg);
	case PASIDLAB_IOC_INFO:
		return pl_info(uarg);
	case PASIDLAB_IOC_THREAD:
		return pl_thread_state(uarg);
	case PASIDLAB_IOC_COUNTERS:
		return pl_counters(uarg, false);
	case PASIDLAB_IOC_MM_COUNTERS:
		return pl_counters(uarg, true);
	case PASIDLAB_IOC_RESET:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		pl_counters_reset();
		pl_restart_peak();
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations pl_wq_fops = {
	.owner = THIS_MODULE,
	.open = pl_wq_open,
	.release = pl_wq_release,
	.mmap = pl_wq_mmap,
	.unlocked_ioctl = pl_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static const struct file_operations pl_ctl_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = pl_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice pl_wq_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pasidlab_wq0",
	.nodename = "pasidlab/wq0",
	.fops = &pl_wq_fops,
	.mode = 0666,
};

static struct miscdevice pl_ctl_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pasidlab_ctl",
	.nodename = "pasidlab/ctl",
	.fops = &pl_ctl_fops,
	.mode = 0666,
};

/* --- debugfs: the same counters as text ---------------------------------- */

static struct dentry *pl_debugfs;

static const char *const pl_outcome_names[] = PASIDLAB_OUTCOME_NAMES;
static const char *const pl_violation_names[] = PASIDLAB_VIOLATION_NAMES;
static const char *const pl_counter_names[] = PASIDLAB_COUNTER_NAMES;

static_assert(ARRAY_SIZE(pl_outcome_names) == PASIDLAB_NR_OUTCOMES);
static_assert(ARRAY_SIZE(pl_violation_names) == PASIDLAB_NR_VIOLATIONS);
static_assert(ARRAY_SIZE(pl_counter_names) == PASIDLAB_NR_COUNTERS);

static void pl_show_counters(struct seq_file *m, const char *prefix,
			     const struct pasidlab_counters *c)
{
	int i;

	for (i = 0; i < PASIDLAB_NR_COUNTERS; i++)
		seq_printf(m, "%s%s %llu\n", prefix, pl_counter_names[i], c->counters[i]);
	for (i = 0; i < PASIDLAB_NR_OUTCOMES; i++)
		seq_printf(m, "%soutcomes.%s %llu\n", prefix, pl_outcome_names[i], c->outcomes[i]);
	for (i = 0; i < PASIDLAB_NR_VIOLATIONS; i++)
		seq_printf(m, "%sviolations.%s %llu\n", prefix, pl_violation_names[i],
			   c->violations[i]);
}

static int pl_counters_show(struct seq_file *m, void *v)
{
	struct pasidlab_counters *c = kmalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return -ENOMEM;
	pl_counters_read(c);
	seq_printf(m, "policy %s\nswitch_probe %d\n", pl_policy->name, pl_switch_probe_on());
	pl_show_counters(m, "", c);
	kfree(c);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pl_counters);

static void pl_show_mm(struct pl_mm *pm, void *arg)
{
	struct seq_file *m = arg;

	seq_printf(m, "mm tgid %d comm %s pasid %u binds %d portals %d refs %d%s%s\n",
		   pm->tgid, pm->comm, pl_pasid(pm->pasid), pm->device_binds,
		   atomic_read(&pm->portals), pm->pasid_refs, pm->exited ? " exited" : "",
		   pm->dropped ? " dropped" : "");
}

static int pl_mms_show(struct seq_file *m, void *v)
{
	pl_mm_for_each(pl_show_mm, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pl_mms);

int pl_wq_init(void)
{
	int ret;

	ret = misc_register(&pl_ctl_dev);
	if (ret)
		return ret;
	ret = misc_register(&pl_wq_dev);
	if (ret) {
		misc_deregister(&pl_ctl_dev);
		return ret;
	}
	pl_debugfs = debugfs_create_dir("pasidlab", NULL);
	debugfs_create_file("counters", 0444, pl_debugfs, NULL, &pl_counters_fops);
	debugfs_create_file("mms", 0400, pl_debugfs, NULL, &pl_mms_fops);
	return 0;
}

void pl_wq_exit(void)
{
	debugfs_remove_recursive(pl_debugfs);
	misc_deregister(&pl_wq_dev);
	misc_deregister(&pl_ctl_dev);
}
