// SPDX-License-Identifier: GPL-2.0
/*
 * Threads: the emulated IA32_PASID and pasid_activated of each thread that
 * has any (a preallocated pool, so that state can be made where nothing may
 * allocate: the scheduler, an IPI handler), and the real kernel paths the
 * policies hook into:
 *
 *   sched_process_fork  clone_thread / fork (the child's PASID state is
 *                       cleared, as fpu_clone() does: it has no entry)
 *   sched_process_exec  exec (then IA32_PASID is reset with the xstate)
 *   exit_mm_release()   exit, where the kernel runs deactivate_mm() (a
 *                       kprobe): before the CLONE_CHILD_CLEARTID futex wake,
 *                       so a pthread_join() returns after the policy's exit
 *   sched_process_exit  exit again, for a thread the kprobe missed (fires
 *                       after exit_mm(): p->mm is NULL, the thread's mm is
 *                       the one its entry recorded)
 *   sched_process_free  the task_struct goes: its entry goes
 *   sched_switch        context_switch, registered only while the
 *                       policy's static key would be on
 *   IPI + task_work     ipi, return_to_user
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/binfmts.h>
#include <linux/hashtable.h>
#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "pasidlab.h"

static struct pl_task *pl_pool;
static HLIST_HEAD(pl_free_list);
static DEFINE_HASHTABLE(pl_task_hash, 10);

/*
 * The mm each CPU switched to last, as the sched_switch probe saw it. The
 * probe runs before switch_mm() puts the CPU into mm_cpumask(next->mm), so
 * an mm whose PASID changes right then is not in that mask yet: the IPIs go
 * to the union of both.
 */
static DEFINE_PER_CPU(struct mm_struct *, pl_cpu_mm);

static bool pl_switch_registered;
static bool pl_stopping;
static void pl_switch_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(pl_switch_work, pl_switch_work_fn);
static void pl_recheck_fn(struct irq_work *work);
static struct irq_work pl_recheck_work = IRQ_WORK_INIT_HARD(pl_recheck_fn);

int pl_task_init(void)
{
	unsigned int i;

	pl_pool = vcalloc(pl_max_tasks, sizeof(*pl_pool));
	if (!pl_pool)
		return -ENOMEM;
	for (i = 0; i < pl_max_tasks; i++)
		hlist_add_head(&pl_pool[i].node, &pl_free_list);
	return 0;
}

void pl_task_exit(void)
{
	struct hlist_node *tmp;
	struct pl_task *t;
	unsigned long flags;
	int bkt;

	raw_spin_lock_irqsave(&pl_lock, flags);
	hash_for_each_safe(pl_task_hash, bkt, tmp, t, node) {
		hash_del(&t->node);
		pl_mm_put(t->pm);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	/* Entries still in an RCU callback come back first. */
	rcu_barrier();
	vfree(pl_pool);
	pl_pool = NULL;
}

struct pl_task *pl_task_lookup_rcu(const struct task_struct *tsk)
{
	struct pl_task *t;

	hash_for_each_possible_rcu(pl_task_hash, t, node, (unsigned long)tsk)
		if (READ_ONCE(t->task) == tsk)
			return t;
	return NULL;
}

static void pl_task_set_mm(struct pl_task *t, struct pl_mm *pm)
{
	if (t->pm == pm)
		return;
	if (pm)
		pl_mm_get(pm);
	pl_mm_put(t->pm);
	t->pm = pm;
}

struct pl_task *pl_task_get_or_create(struct task_struct *tsk, struct pl_mm *pm)
{
	struct pl_task *t;

	lockdep_assert_held(&pl_lock);
	t = pl_task_lookup_rcu(tsk);
	if (t)
		return t;
	if (hlist_empty(&pl_free_list)) {
		pl_count(PASIDLAB_CTR_TASK_TABLE_FULL);
		return NULL;
	}
	t = hlist_entry(pl_free_list.first, struct pl_task, node);
	hlist_del(&t->node);
	t->task = tsk;
	t->pm = NULL;
	pl_task_set_mm(t, pm);
	t->msr = PL_INVALID;
	t->pasid_activated = false;
	t->exited = false;
	atomic_set(&t->twork_queued, 0);
	hash_add_rcu(pl_task_hash, &t->node, (unsigned long)tsk);
	return t;
}

bool pl_current_in(const struct pl_mm *pm)
{
	return pm && current->mm && current->mm == READ_ONCE(pm->mm) &&
	       !(current->flags & PF_KTHREAD);
}

struct pl_task *pl_current_task(void)
{
	struct pl_mm *pm;
	struct pl_task *t;

	lockdep_assert_held(&pl_lock);
	if (current->flags & PF_KTHREAD)
		return NULL;
	pm = pl_mm_lookup_rcu(current->mm);
	t = pl_task_get_or_create(current, pm);
	if (t && current->mm)
		pl_task_set_mm(t, pm);
	return t;
}

static void pl_task_free_rcu(struct rcu_head *head)
{
	struct pl_task *t = container_of(head, struct pl_task, rcu);
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	pl_mm_put(t->pm);
	t->pm = NULL;
	t->task = NULL;
	hlist_add_head(&t->node, &pl_free_list);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

/* task_work: the resync before the thread's next user instruction. */
static void pl_twork_fn(struct callback_head *head)
{
	struct pl_task *t = container_of(head, struct pl_task, twork);
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	pl_count(PASIDLAB_CTR_TASK_WORK_RUNS);
	pl_count_mm(t->pm, PASIDLAB_CTR_TASK_WORK_RUNS);
	if (pl_policy->return_to_user)
		pl_policy->return_to_user(t);
	/*
	 * Cleared with the resync, under the lock: pl_check_stale_holders()
	 * must never see a thread with neither its work queued nor its MSR
	 * written.
	 */
	atomic_set(&t->twork_queued, 0);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	/* Taken when queued: the callback's text stays until it ran. */
	module_put(THIS_MODULE);
}

void pl_task_work_add(struct pl_task *t)
{
	lockdep_assert_held(&pl_lock);
	if (atomic_xchg(&t->twork_queued, 1))
		return;
	if (!try_module_get(THIS_MODULE))
		goto undo;
	init_task_work(&t->twork, pl_twork_fn);
	if (task_work_add(t->task, &t->twork, TWA_RESUME)) {
		module_put(THIS_MODULE);
		goto undo;	/* past exit_task_work(): it never returns to user */
	}
	pl_count(PASIDLAB_CTR_TASK_WORK_ADDED);
	return;
undo:
	atomic_set(&t->twork_queued, 0);
}

/*
 * The model's stale_pasid_held, checked where the emulator can see it: when
 * a PASID is freed, no other thread may be on a CPU holding it in
 * IA32_PASID with nothing queued to resync it before its next user
 * instruction. (A thread switched out is not stale: its policy still gets
 * the context switch; one exiting or past exec_mmap() never runs user code
 * with it.) The thread may be in the kernel just then; it returns to user
 * with the freed PASID all the same, unless it switches out first, which
 * the model counts as the same state.
 */
void pl_check_stale_holders(u64 pasid)
{
	struct pl_task *t;
	int bkt, stale = 0;

	lockdep_assert_held(&pl_lock);
	hash_for_each(pl_task_hash, bkt, t, node) {
		struct task_struct *tsk = t->task;

		if (t->msr != pasid || t->exited || tsk == current ||
		    atomic_read(&t->twork_queued) || !READ_ONCE(tsk->on_cpu))
			continue;
		if (t->pm && READ_ONCE(t->pm->mm) != READ_ONCE(tsk->mm))
			continue;	/* mid-exec: its state moves at sched_process_exec */
		pl_count_violation(t->pm, PASIDLAB_VIO_STALE_PASID_HELD);
		stale++;
	}
	if (stale)
		pr_debug("PASID %u freed while %d running thread(s) hold it\n",
			 pl_pasid(pasid), stale);
}

/* --- the sched_process_* tracepoints ----------------------------------- */

static void pl_probe_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	void (*hook)(struct pl_task *parent, struct pl_task *child);
	struct pl_task *pt, *ct;
	unsigned long flags;
	bool thread;

	if (!child->mm || (child->flags & PF_KTHREAD))
		return;
	thread = child->mm == parent->mm;	/* CLONE_VM */
	hook = thread ? pl_policy->clone_thread : pl_policy->fork;
	if (!hook)
		return;
	raw_spin_lock_irqsave(&pl_lock, flags);
	/* A parent with no entry has the cleared state the child starts with. */
	pt = pl_task_lookup_rcu(parent);
	if (pt) {
		ct = pl_task_get_or_create(child, thread ? pt->pm : NULL);
		if (ct)
			hook(pt, ct);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

static void pl_probe_exec(void *data, struct task_struct *p, pid_t old_pid,
			  struct linux_binprm *bprm)
{
	struct pl_task *t;
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	t = pl_task_lookup_rcu(p);
	if (t) {
		if (pl_policy->exec && t->pm)
			pl_policy->exec(t, t->pm);
		/* The new program starts with the xstate reset: IA32_PASID invalid. */
		pl_write_msr(t, PL_INVALID);
		pl_task_set_mm(t, pl_mm_lookup_rcu(p->mm));
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

static void pl_probe_exit(void *data, struct task_struct *p)
{
	struct pl_task *t;
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	t = pl_task_lookup_rcu(p);
	if (t) {
		if (pl_policy->exit && t->pm && !t->exited)
			pl_policy->exit(t, t->pm);
		pl_task_exited(t);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
}

/*
 * deactivate_mm() runs in mm_release(), before the joiner's futex wake;
 * sched_process_exit fires after it. A policy's exit hook must come first:
 * a joiner that binds again must find the exited thread's reference gone.
 */
static int pl_exit_mm_release_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if (current->flags & PF_KTHREAD)
		return 0;
	pl_probe_exit(NULL, current);
	return 0;
}

static struct kprobe pl_exit_mm_release_kprobe = {
	.symbol_name = "exit_mm_release",
	.pre_handler = pl_exit_mm_release_pre,
};

static bool pl_exit_kprobe_registered;

static void pl_probe_free(void *data, struct task_struct *p)
{
	struct pl_task *t;
	unsigned long flags;

	raw_spin_lock_irqsave(&pl_lock, flags);
	t = pl_task_lookup_rcu(p);
	if (t) {
		pl_task_exited(t);
		hash_del_rcu(&t->node);
	}
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	if (t)
		call_rcu(&t->rcu, pl_task_free_rcu);
}

/* --- context switch ----------------------------------------------------- */

static void pl_probe_switch(void *data, bool preempt, struct task_struct *prev,
			    struct task_struct *next, unsigned int prev_state)
{
	struct mm_struct *mm = next->mm;
	struct pl_mm *pm;

	if (is_idle_task(next)) {
		this_cpu_write(pl_cpu_mm, NULL);
		return;
	}
	pl_count(PASIDLAB_CTR_CONTEXT_SWITCHES);
	if (next->flags & PF_KTHREAD)
		mm = NULL;
	this_cpu_write(pl_cpu_mm, mm);
	/* Published before the PASID is read: pairs with pl_ipis(). */
	smp_mb();
	if (!mm)
		return;
	rcu_read_lock();
	pm = pl_mm_lookup_rcu(mm);
	if (pl_policy->context_switch(next, pm)) {
		pl_count(PASIDLAB_CTR_CONTEXT_SWITCHES_PASID_WORK);
		pl_count_mm(pm, PASIDLAB_CTR_CONTEXT_SWITCHES_PASID_WORK);
	}
	rcu_read_unlock();
}

/* --- IPIs ---------------------------------------------------------------- */

static void pl_ipi_handler(void *info)
{
	struct pl_mm *pm = info;

	pl_count(PASIDLAB_CTR_IPIS_HANDLED);
	if (!pl_current_in(pm))
		pl_count(PASIDLAB_CTR_IPIS_NOT_MM);
	raw_spin_lock(&pl_lock);
	if (pl_policy->ipi)
		pl_policy->ipi(pm);
	raw_spin_unlock(&pl_lock);
}

static struct cpumask pl_ipi_mask;	/* pl_mutex */

/* smp_call_function_many() to the CPUs that may run mm, the caller's excepted. */
void pl_ipis(struct pl_mm *pm, struct mm_struct *mm)
{
	unsigned int n;
	int cpu;

	lockdep_assert_held(&pl_mutex);
	/* The new mm->pasid before who runs mm is read: pairs with pl_probe_switch(). */
	smp_mb();
	cpumask_copy(&pl_ipi_mask, mm_cpumask(mm));
	for_each_online_cpu(cpu)
		if (READ_ONCE(per_cpu(pl_cpu_mm, cpu)) == mm)
			cpumask_set_cpu(cpu, &pl_ipi_mask);
	preempt_disable();
	cpumask_and(&pl_ipi_mask, &pl_ipi_mask, cpu_online_mask);
	__cpumask_clear_cpu(smp_processor_id(), &pl_ipi_mask);
	n = cpumask_weight(&pl_ipi_mask);
	/* wait: the handlers ran (each queued its task_work) on return. */
	smp_call_function_many(&pl_ipi_mask, pl_ipi_handler, pm, true);
	preempt_enable();
	pl_count_n(PASIDLAB_CTR_IPIS, n);
	if (pm)
		atomic64_add(n, &pm->ctr.counters[PASIDLAB_CTR_IPIS]);
}

/* --- registration ------------------------------------------------------ */

struct pl_tracepoint {
	const char *name;
	void *probe;
	struct tracepoint *tp;
	bool registered;
};

static struct pl_tracepoint pl_tps[] = {
	{ .name = "sched_process_fork", .probe = pl_probe_fork },
	{ .name = "sched_process_exec", .probe = pl_probe_exec },
	{ .name = "sched_process_exit", .probe = pl_probe_exit },
	{ .name = "sched_process_free", .probe = pl_probe_free },
	{ .name = "sched_switch", .probe = pl_probe_switch },
};

#define PL_TP_SWITCH (ARRAY_SIZE(pl_tps) - 1)

static void pl_find_tracepoint(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(pl_tps); i++)
		if (!strcmp(tp->name, pl_tps[i].name))
			pl_tps[i].tp = tp;
}

int pl_task_register(void)
{
	int i, ret;

	/* The sched tracepoints' structs are not exported: find them by name. */
	for_each_kernel_tracepoint(pl_find_tracepoint, NULL);
	for (i = 0; i < ARRAY_SIZE(pl_tps); i++) {
		if (i == PL_TP_SWITCH && !pl_policy->context_switch)
			continue;
		if (!pl_tps[i].tp) {
			pr_err("policy %s needs the %s tracepoint, which this kernel lacks\n",
			       pl_policy->name, pl_tps[i].name);
			ret = -ENOENT;
			goto fail;
		}
	}
	ret = register_kprobe(&pl_exit_mm_release_kprobe);
	if (ret) {
		pr_err("policy %s needs a kprobe on exit_mm_release: register_kprobe() = %d\n",
		       pl_policy->name, ret);
		goto fail;
	}
	pl_exit_kprobe_registered = true;
	for (i = 0; i < PL_TP_SWITCH; i++) {
		ret = tracepoint_probe_register(pl_tps[i].tp, pl_tps[i].probe, NULL);
		if (ret) {
			pr_err("tracepoint %s: tracepoint_probe_register() = %d\n", pl_tps[i].name,
			       ret);
			goto fail;
		}
		pl_tps[i].registered = true;
	}
	pl_stopping = false;
	return 0;
fail:
	pl_task_unregister();
	return ret;
}

void pl_task_unregister(void)
{
	int i;

	mutex_lock(&pl_mutex);
	pl_stopping = true;
	for (i = 0; i < ARRAY_SIZE(pl_tps); i++) {
		if (pl_tps[i].registered)
			tracepoint_probe_unregister(pl_tps[i].tp, pl_tps[i].probe, NULL);
		pl_tps[i].registered = false;
	}
	pl_switch_registered = false;
	mutex_unlock(&pl_mutex);
	if (pl_exit_kprobe_registered)
		unregister_kprobe(&pl_exit_mm_release_kprobe);
	pl_exit_kprobe_registered = false;
	/* No probe runs once this returns, so nothing queues the rechecks again. */
	tracepoint_synchronize_unregister();
	irq_work_sync(&pl_recheck_work);
	cancel_delayed_work_sync(&pl_switch_work);
}

/*
 * The sched_switch probe is the policy's static key: a tracepoint with no
 * probe is a static branch that is off. It goes on before an mm gets a
 * PASID and off once no mm has a PASID and no live thread holds one -- a
 * second after that became true, rate-limited as static_key_deferred is:
 * each change patches __schedule() (text_poke_bp() with IPIs to every CPU).
 */
static void pl_switch_probe_off_if_unused(void)
{
	struct pl_tracepoint *sw = &pl_tps[PL_TP_SWITCH];
	unsigned long flags;
	bool used;
	int cpu;

	lockdep_assert_held(&pl_mutex);
	if (!pl_switch_registered || pl_stopping)
		return;
	raw_spin_lock_irqsave(&pl_lock, flags);
	used = pl_mms_with_pasid() > 0 || pl_tasks_with_valid_msr() > 0;
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	if (used)
		return;
	tracepoint_probe_unregister(sw->tp, sw->probe, NULL);
	tracepoint_synchronize_unregister();
	for_each_possible_cpu(cpu)
		WRITE_ONCE(per_cpu(pl_cpu_mm, cpu), NULL);
	sw->registered = false;
	pl_switch_registered = false;
}

/* On before the first PASID appears (bind, pl_mutex held). */
void pl_switch_probe_force_on(void)
{
	struct pl_tracepoint *sw = &pl_tps[PL_TP_SWITCH];

	lockdep_assert_held(&pl_mutex);
	if (!pl_policy->context_switch || pl_stopping || pl_switch_registered)
		return;
	if (tracepoint_probe_register(sw->tp, sw->probe, NULL))
		return;
	pl_count(PASIDLAB_CTR_SWITCH_PROBE_REGS);
	sw->registered = true;
	pl_switch_registered = true;
}

#define PL_KEY_OFF_DELAY HZ

static void pl_switch_work_fn(struct work_struct *work)
{
	mutex_lock(&pl_mutex);
	pl_switch_probe_off_if_unused();
	mutex_unlock(&pl_mutex);
}

static void pl_recheck_fn(struct irq_work *work)
{
	mod_delayed_work(system_wq, &pl_switch_work, PL_KEY_OFF_DELAY);
}

/*
 * The condition may have gone false: re-evaluate it later, in process context.
 * Called from the sched_switch probe too, with the runqueue locked, where
 * waking a worker would take that lock again: an irq_work defers the
 * schedule_work() to the interrupt that follows.
 */
void pl_switch_probe_recheck(void)
{
	if (pl_policy->context_switch)
		irq_work_queue(&pl_recheck_work);
}

bool pl_switch_probe_on(void)
{
	return READ_ONCE(pl_switch_registered);
}
