/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pasidlab internals: the emulated IOMMU PASID table and allocator, the
 * per-mm and per-thread PASID state, and the policy hooks.
 *
 * The hooks carry the names and events of pasidbench's policy models
 * (kernels/policies/policy.h); what is the same under every policy (the
 * device, the PASID table, fork clearing the PASID state, the exit order)
 * is here and in the core files, as the simulator does it for the models.
 *
 * Locking: pl_lock, a raw spinlock taken with interrupts off, protects the
 * allocator, the PASID table, the fields of struct pl_mm and struct pl_task
 * marked (L), and the two hash tables. It is taken from the tracepoints,
 * the __mmdrop kprobe, the IPI handler and process context, so nothing under
 * it may sleep or allocate (PREEMPT_RT included). pl_mutex serializes bind,
 * release and the sched_switch probe's registration. Lookups in the hash
 * tables are RCU: entries are freed after a grace period.
 */
#ifndef PASIDLAB_H
#define PASIDLAB_H

#include <linux/atomic.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rculist.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/task_work.h>
#include <linux/types.h>

#include "uapi/pasidlab.h"

/*
 * A PASID as the emulator keeps it: the value in bits 19:0 and the id of
 * the allocation it came from in bits 63:32, so that a stale holder can be
 * told from the PASID's next owner (the model's msr_alloc). 0 is INVALID:
 * mm->pasid unset, IA32_PASID's valid bit clear (PASID 0 is never handed
 * out: the kernel keeps it for RID_PASID).
 */
#define PL_INVALID	0ULL

static inline u32 pl_pasid(u64 word)
{
	return (u32)word & PASIDLAB_PASID_MASK;
}

static inline u32 pl_alloc_id(u64 word)
{
	return (u32)(word >> 32);
}

static inline u64 pl_word(u32 pasid, u32 alloc_id)
{
	return (u64)alloc_id << 32 | pasid;
}

static inline u32 pl_msr_value(u64 word)
{
	return word ? pl_pasid(word) | PASIDLAB_MSR_VALID : 0;
}

/* Counters: global ones are per CPU, per-mm ones atomic. */
struct pl_counters {
	atomic64_t outcomes[PASIDLAB_NR_OUTCOMES];
	atomic64_t violations[PASIDLAB_NR_VIOLATIONS];
	atomic64_t counters[PASIDLAB_NR_COUNTERS];
};

/* The emulator's view of one mm_struct, from its first bind to __mmdrop(). */
struct pl_mm {
	struct hlist_node node;		/* pl_mm_hash (L, RCU) */
	struct mm_struct *mm;		/* identity only; NULL after __mmdrop (L) */
	refcount_t ref;			/* the hash, binds, threads, descriptors */
	struct rcu_head rcu;
	u64 pasid;			/* mm->pasid (L; read locklessly) */
	int device_binds;		/* live SVA binds of this mm (L) */
	int pasid_refs;			/* task-refcount: binds + activated threads (L) */
	atomic_t portals;		/* portal mappings in this mm */
	bool exited;			/* __mmput() ran: mmu notifier .release (L) */
	bool dropped;			/* __mmdrop() ran (L) */
	int idle_count;			/* its PASIDs with no table entry (L) */
	u64 idle_open_sum;		/* the sum of their idle_since (L) */
	pid_t tgid;			/* the process that first bound it */
	char comm[TASK_COMM_LEN];
	struct pl_counters ctr;
};

/* A thread's emulated PASID state (the model's Task), from a pool. */
struct pl_task {
	struct hlist_node node;		/* pl_task_hash or the free list (L) */
	struct task_struct *task;	/* key; no reference: unhashed at free */
	struct pl_mm *pm;		/* the mm it runs in, referenced; may be NULL (L) */
	u64 msr;			/* IA32_PASID (L; read locklessly) */
	bool pasid_activated;		/* (L) */
	bool exited;			/* past exit_mm() (L) */
	atomic_t twork_queued;
	struct callback_head twork;
	struct rcu_head rcu;
};

/* What a bind/unbind hook asks the core to do after it returns. */
struct pl_hook_result {
	struct pl_mm *ipis;		/* send IPIs to this mm's CPUs */
	bool wait_for_acks;		/* then call acks_done(cookie) */
	u64 cookie;
};

/*
 * A policy: the hooks of kernels/policies/policy.h. NULL means "nothing
 * beyond what the kernel does for every policy".
 *
 * bind, unbind and acks_done run in process context with pl_mutex held and
 * pl_lock free (they take it); IPIs they ask for are sent after they return.
 * context_switch runs in the sched_switch probe with pl_lock free (it takes
 * it only to write). All other hooks run with pl_lock held, in any context.
 */
struct pl_policy {
	const char *name;
	const char *parent;		/* seeded mutants: the policy they deviate from */

	/* t opened the work queue; the bind is counted. Leaves pm->pasid valid. */
	int (*bind)(struct pl_task *t, struct pl_mm *pm, struct pl_hook_result *r);
	/* A binding of pm was released after the drain; last: no bind is left
	 * and the PASID-table entry is already gone. t may not belong to pm.
	 */
	void (*unbind)(struct pl_task *t, struct pl_mm *pm, bool last,
		       struct pl_hook_result *r);
	void (*acks_done)(struct pl_task *t, struct pl_mm *pm, u64 cookie);
	/* After the kernel built the child (its PASID state cleared). */
	void (*clone_thread)(struct pl_task *parent, struct pl_task *child);
	void (*fork)(struct pl_task *parent, struct pl_task *child);
	/* t left old for a new mm; the kernel then clears t's IA32_PASID. */
	void (*exec)(struct pl_task *t, struct pl_mm *old);
	/* t left its mm at exit. */
	void (*exit)(struct pl_task *t, struct pl_mm *pm);
	void (*mm_exit)(struct pl_mm *pm);	/* __mmput() */
	void (*mm_drop)(struct pl_mm *pm);	/* __mmdrop() */
	/* next is about to run user code; returns whether PASID work ran. */
	bool (*context_switch)(struct task_struct *next, struct pl_mm *next_pm);
	/* The handler of an IPI sent for pm, in hard interrupt context. */
	void (*ipi)(struct pl_mm *pm);
	/* The task_work this policy queued, at t's return to user. */
	void (*return_to_user)(struct pl_task *t);
	/* ENQCMD with IA32_PASID invalid; true when fixed up. */
	bool (*gp_fault)(struct pl_task *t);
};

extern raw_spinlock_t pl_lock;
extern struct mutex pl_mutex;
extern const struct pl_policy *pl_policy;
extern unsigned int pl_pasid_max;
extern unsigned int pl_wq_size;
extern unsigned int pl_max_tasks;
extern unsigned int pl_device_delay_us;

/* The operations a policy may call (the model's KernelOps); pl_lock held. */
u64 pl_pasid_alloc(struct pl_mm *owner);	/* PL_INVALID when none is free */
void pl_pasid_free(u64 pasid);
void pl_set_mm_pasid(struct pl_mm *pm, u64 pasid);
void pl_write_msr(struct pl_task *t, u64 pasid);
void pl_copy_msr(struct pl_task *to, const struct pl_task *from);
void pl_task_exited(struct pl_task *t);
/* task_work_add(t->task, ..., TWA_RESUME); the policy's return_to_user runs. */
void pl_task_work_add(struct pl_task *t);
/* The state of current, created if it has none; NULL when the pool is empty. */
struct pl_task *pl_current_task(void);
/* current runs in pm's mm. */
bool pl_current_in(const struct pl_mm *pm);
int pl_mms_with_pasid(void);
int pl_tasks_with_valid_msr(void);

/* The IPIs a bind/unbind hook asks for (sent once it returned). */
static inline void pl_send_ipis(struct pl_hook_result *r, struct pl_mm *pm)
{
	r->ipis = pm;
}

unsigned long pl_mmdrop_missed(void);

/* Core: pasid.c */
int pl_pasid_init(void);
void pl_pasid_exit(void);
void pl_install(u64 pasid, struct pl_mm *pm);
void pl_uninstall(u64 pasid);
int pl_lookup(u64 pasid_word, const struct pl_mm *submitter);
void pl_snapshot_pasids(u64 now, u64 *live, u64 *peak, u64 *idle_ns);
void pl_restart_peak(void);

/* Core: counters.c */
void pl_count(int id);
void pl_count_n(int id, u64 n);
void pl_count_mm(struct pl_mm *pm, int id);
void pl_count_outcome(struct pl_mm *pm, int outcome);
void pl_count_violation(struct pl_mm *pm, int violation);
void pl_counters_reset(void);
void pl_counters_read(struct pasidlab_counters *out);
void pl_counters_read_mm(struct pl_mm *pm, struct pasidlab_counters *out);

/* Core: mm.c */
struct pl_mm *pl_mm_lookup_rcu(const struct mm_struct *mm);
struct pl_mm *pl_mm_get_or_create(struct mm_struct *mm);	/* pl_mutex held */
void pl_mm_get(struct pl_mm *pm);
void pl_mm_put(struct pl_mm *pm);
void pl_mm_release_all(void);
void pl_mm_exited(struct pl_mm *pm);
void pl_mm_dropped(struct mm_struct *mm);
void pl_mm_for_each(void (*fn)(struct pl_mm *pm, void *arg), void *arg);

/* Core: task.c */
struct pl_task *pl_task_lookup_rcu(const struct task_struct *tsk);
struct pl_task *pl_task_get_or_create(struct task_struct *tsk, struct pl_mm *pm);
int pl_task_init(void);
void pl_task_exit(void);
int pl_task_register(void);
void pl_task_unregister(void);
void pl_check_stale_holders(u64 pasid);	/* pl_lock held */
void pl_switch_probe_force_on(void);	/* pl_mutex held */
void pl_switch_probe_recheck(void);	/* any context */
bool pl_switch_probe_on(void);
void pl_ipis(struct pl_mm *pm, struct mm_struct *mm);	/* pl_mutex held */

/* Core: wq.c and device.c */
int pl_wq_init(void);
void pl_wq_exit(void);
int pl_device_init(void);
void pl_device_exit(void);
struct page *pl_pin_completion(u64 completion_addr);
int pl_device_submit(u64 msr, struct pl_mm *pm, u64 cr_addr, struct page *cr_page, u64 cookie);
void pl_device_drain(u64 pasid);

/* Policies: one file each; mutants reuse their parent's hooks. */
extern const struct pl_policy pl_task_refcount;
extern const struct pl_policy pl_mm_lifetime;
extern const struct pl_policy pl_mm_lifetime_lazy_gp;
extern const struct pl_policy pl_resync_ipi;
extern const struct pl_policy pl_resync_ipi_free_before_ack;
extern const struct pl_policy pl_resync_ipi_no_switch_resync;
extern const struct pl_policy pl_mm_lifetime_fork_inherits;
extern const struct pl_policy pl_task_refcount_unbind_frees;

/* The parents' hooks the mutants build on. */
int pl_task_refcount_bind(struct pl_task *t, struct pl_mm *pm, struct pl_hook_result *r);
void pl_task_refcount_unbind(struct pl_task *t, struct pl_mm *pm, bool last,
			     struct pl_hook_result *r);
bool pl_task_refcount_gp_fault(struct pl_task *t);
void pl_task_refcount_exit(struct pl_task *t, struct pl_mm *pm);
void pl_task_refcount_exec(struct pl_task *t, struct pl_mm *old);
int pl_mm_lifetime_assign(struct pl_mm *pm);
int pl_mm_lifetime_bind(struct pl_task *t, struct pl_mm *pm, struct pl_hook_result *r);
void pl_mm_lifetime_mm_drop(struct pl_mm *pm);
int pl_resync_ipi_bind(struct pl_task *t, struct pl_mm *pm, struct pl_hook_result *r);
void pl_resync_ipi_unbind(struct pl_task *t, struct pl_mm *pm, bool last,
			  struct pl_hook_result *r);
void pl_resync_ipi_acks_done(struct pl_task *t, struct pl_mm *pm, u64 cookie);
bool pl_resync_ipi_context_switch(struct task_struct *next, struct pl_mm *next_pm);
void pl_resync_ipi_ipi(struct pl_mm *pm);
void pl_resync_ipi_return_to_user(struct pl_task *t);

#endif /* PASIDLAB_H */
