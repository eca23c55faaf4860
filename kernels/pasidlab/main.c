// SPDX-License-Identifier: GPL-2.0
/*
 * pasidlab: PASID policies run in the kernel's own paths.
 *
 * One of pasidbench's PASID policies (shared/design/policies.md), chosen at
 * load time, runs in a real kernel: the context-switch resync in the
 * sched_switch tracepoint, IPIs to mm_cpumask() and task_work at return to
 * user, fork/exec/exit in the sched_process_* tracepoints (exit first in a
 * kprobe on exit_mm_release()), the mm's lifetime in an mmu notifier
 * (__mmput) and a kprobe on __mmdrop(). What the machine
 * lacks is emulated: the shared work queue and its device, the IOMMU's
 * PASID table and the IA32_PASID MSR (a per-thread variable). docs/kmod.md.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>

#include "pasidlab.h"

static char pl_policy_name[PASIDLAB_POLICY_NAME_MAX] = "mm-lifetime-lazy-gp";
module_param_string(policy, pl_policy_name, sizeof(pl_policy_name), 0444);
MODULE_PARM_DESC(policy,
		 "the PASID policy: task-refcount, mm-lifetime, mm-lifetime-lazy-gp (default), resync-ipi, or a seeded mutant (resync-ipi/free-before-ack, resync-ipi/no-switch-resync, mm-lifetime/fork-inherits, task-refcount/unbind-frees)");

unsigned int pl_pasid_max = 4095;
module_param_named(pasid_max, pl_pasid_max, uint, 0444);
MODULE_PARM_DESC(pasid_max, "highest PASID the emulated IOMMU hands out (1..1048575)");

unsigned int pl_wq_size = 128;
module_param_named(wq_size, pl_wq_size, uint, 0444);
MODULE_PARM_DESC(wq_size, "descriptors the shared work queue holds; ENQCMD retries when full");

unsigned int pl_max_tasks = 4096;
module_param_named(max_tasks, pl_max_tasks, uint, 0444);
MODULE_PARM_DESC(max_tasks, "threads with emulated PASID state at once (preallocated)");

unsigned int pl_device_delay_us;
module_param_named(device_delay_us, pl_device_delay_us, uint, 0644);
MODULE_PARM_DESC(device_delay_us, "the device executes a descriptor this long after ENQCMD, at least (at most 1 s)");

/* See pasidlab.h: the state every context touches (raw: IPIs, the scheduler). */
DEFINE_RAW_SPINLOCK(pl_lock);
/* Serializes bind, release and the sched_switch probe's registration. */
DEFINE_MUTEX(pl_mutex);
const struct pl_policy *pl_policy;

/* Catalogue order of kernels/policies/catalog.cc: mutants after the policies. */
static const struct pl_policy *const pl_policies[] = {
	&pl_task_refcount,
	&pl_mm_lifetime,
	&pl_mm_lifetime_lazy_gp,
	&pl_resync_ipi,
	&pl_resync_ipi_free_before_ack,
	&pl_resync_ipi_no_switch_resync,
	&pl_mm_lifetime_fork_inherits,
	&pl_task_refcount_unbind_frees,
};

static const struct pl_policy *pl_find_policy(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(pl_policies); i++)
		if (!strcmp(pl_policies[i]->name, name))
			return pl_policies[i];
	return NULL;
}

static void pl_print_policies(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(pl_policies); i++) {
		if (pl_policies[i]->parent)
			pr_err("  %s (a seeded mutant of %s)\n", pl_policies[i]->name,
			       pl_policies[i]->parent);
		else
			pr_err("  %s\n", pl_policies[i]->name);
	}
}

/* mm_drop: __mmdrop() is where mainline frees an mm's PASID. */
static int pl_mmdrop_pre(struct kprobe *kp, struct pt_regs *regs)
{
	pl_mm_dropped((struct mm_struct *)regs_get_kernel_argument(regs, 0));
	return 0;
}

static struct kprobe pl_mmdrop_kprobe = {
	.symbol_name = "__mmdrop",
	.pre_handler = pl_mmdrop_pre,
};

/* A missed __mmdrop would leave an mm's state behind: counted, never silent. */
unsigned long pl_mmdrop_missed(void)
{
	return READ_ONCE(pl_mmdrop_kprobe.nmissed);
}

static int __init pl_init(void)
{
	int ret;

	pl_policy = pl_find_policy(pl_policy_name);
	if (!pl_policy) {
		pr_err("unknown policy \"%s\"; the policies are:\n", pl_policy_name);
		pl_print_policies();
		return -EINVAL;
	}
	if (!pl_pasid_max || pl_pasid_max > PASIDLAB_PASID_MASK || !pl_wq_size ||
	    pl_max_tasks < 2) {
		pr_err("pasid_max must be 1..%u, wq_size at least 1, max_tasks at least 2\n",
		       PASIDLAB_PASID_MASK);
		return -EINVAL;
	}

	ret = pl_pasid_init();
	if (ret)
		return ret;
	ret = pl_task_init();
	if (ret)
		goto out_pasid;
	ret = pl_device_init();
	if (ret)
		goto out_task;
	/*
	 * Every policy needs __mmdrop(): it frees the mm's PASID under
	 * mm-lifetime, and it is where any mm's emulator state ends (an mm
	 * struct's address is reused after it).
	 */
	ret = register_kprobe(&pl_mmdrop_kprobe);
	if (ret) {
		pr_err("policy %s needs a kprobe on __mmdrop: register_kprobe() = %d\n",
		       pl_policy->name, ret);
		goto out_device;
	}
	ret = pl_task_register();
	if (ret)
		goto out_kprobe;
	ret = pl_wq_init();
	if (ret)
		goto out_tracepoints;
	pr_info("policy %s%s%s; pasid_max %u, wq_size %u, device_delay_us %u\n",
		pl_policy->name, pl_policy->parent ? ", a seeded mutant of " : "",
		pl_policy->parent ? pl_policy->parent : "", pl_pasid_max, pl_wq_size,
		pl_device_delay_us);
	return 0;

out_tracepoints:
	pl_task_unregister();
out_kprobe:
	unregister_kprobe(&pl_mmdrop_kprobe);
out_device:
	pl_device_exit();
out_task:
	pl_task_exit();
out_pasid:
	pl_pasid_exit();
	pl_mm_release_all();
	rcu_barrier();
	return ret;
}

static void __exit pl_exit(void)
{
	/* No file is open (each holds the module), no task_work is queued. */
	pl_wq_exit();
	unregister_kprobe(&pl_mmdrop_kprobe);
	pl_task_unregister();
	pl_device_exit();
	pl_task_exit();
	pl_pasid_exit();
	pl_mm_release_all();
	rcu_barrier();
	pr_info("unloaded\n");
}

module_init(pl_init);
module_exit(pl_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("PASID policy emulator: the policies in the kernel's context-switch, IPI, task_work and exit paths");
MODULE_AUTHOR("pasidbench");
