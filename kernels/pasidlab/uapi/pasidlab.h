/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * pasidlab: the user interface of the PASID policy emulator module.
 *
 * /dev/pasidlab/wq0 is an emulated shared work queue shaped like an idxd
 * user work queue (/dev/dsa/wqX.Y): open() binds the caller's mm (SVA bind),
 * mmap() of one page maps the portal, and PASIDLAB_IOC_ENQCMD stands for
 * ENQCMD to the portal. The descriptor carries the calling thread's emulated
 * IA32_PASID; the device executes it later and writes a completion record
 * into the submitter's memory.
 *
 * /dev/pasidlab/ctl opens without binding: counters, the thread's emulated
 * PASID state, the module's configuration. PASIDLAB_IOC_ENQCMD works on
 * either device: like ENQCMD, its outcome depends on the calling thread and
 * the portals mapped in its mm, not on the fd it came through.
 *
 * Counter names are the metric names of pasidbench's model backend
 * (results/metric_registry.cc); see docs/kmod.md. Usable from C and C++.
 */
#ifndef _UAPI_LINUX_PASIDLAB_H
#define _UAPI_LINUX_PASIDLAB_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define PASIDLAB_WQ_PATH	"/dev/pasidlab/wq0"
#define PASIDLAB_CTL_PATH	"/dev/pasidlab/ctl"

/* IA32_PASID (MSR 0xd93): bit 31 valid, bits 19:0 the PASID. */
#define PASIDLAB_MSR_VALID	(1U << 31)
#define PASIDLAB_PASID_MASK	0xfffffU

/*
 * What became of a submission: the model backend's outcome names, in its
 * order. A completion record's status is the outcome plus one (0: not
 * written yet).
 */
#define PASIDLAB_OUTCOMES(X)					\
	X(OK, "ok")						\
	X(GP_SIGSEGV, "gp_sigsegv")				\
	X(FAULT_UNBOUND, "fault_unbound")			\
	X(ISOLATION_VIOLATION, "isolation_violation")		\
	X(USE_AFTER_FREE, "use_after_free")

/* Safety violations the module can see, by the model's names. */
#define PASIDLAB_VIOLATIONS(X)					\
	X(ISOLATION_VIOLATION, "isolation_violation")		\
	X(USE_AFTER_FREE, "use_after_free")			\
	X(FREED_WHILE_INSTALLED, "pasid_freed_while_installed")	\
	X(DOUBLE_FREE, "pasid_double_free")

/*
 * Counters, global and per mm. The first group has the model's metric
 * names; pasid_idle_ns is the model's PASID-seconds idle, in ns.
 */
#define PASIDLAB_COUNTERS(X)						\
	X(PASID_ALLOCS, "pasid_allocs")					\
	X(PASID_FREES, "pasid_frees")					\
	X(PASID_PEAK_LIVE, "pasid_peak_live")				\
	X(PASID_IDLE_NS, "pasid_idle_ns")				\
	X(CONTEXT_SWITCHES, "context_switches")				\
	X(CONTEXT_SWITCHES_PASID_WORK, "context_switches_pasid_work")	\
	X(IPIS, "ipis")							\
	X(TASK_WORK_RUNS, "task_work_runs")				\
	X(GP_FIXUPS, "gp_fixups")					\
	X(SUBMITS, "submits")						\
	X(ENQCMD_RETRIES, "enqcmd_retries")				\
	X(PASID_LIVE, "pasid_live")					\
	X(GP_SIGSEGVS, "gp_sigsegvs")					\
	X(IPIS_HANDLED, "ipis_handled")					\
	X(IPIS_NOT_MM, "ipis_not_mm")					\
	X(TASK_WORK_ADDED, "task_work_added")				\
	X(MSR_WRITES, "msr_writes")					\
	X(BINDS, "binds")						\
	X(UNBINDS, "unbinds")						\
	X(MM_EXITS, "mm_exits")						\
	X(MM_DROPS, "mm_drops")						\
	X(COMPLETIONS, "completions")					\
	X(COMPLETION_FAULTS, "completion_faults")			\
	X(SWITCH_PROBE_REGS, "switch_probe_registrations")		\
	X(TASK_TABLE_FULL, "task_table_full")

#define PASIDLAB_OUT_ENTRY(id, name) PASIDLAB_OUT_##id,
#define PASIDLAB_VIO_ENTRY(id, name) PASIDLAB_VIO_##id,
#define PASIDLAB_CTR_ENTRY(id, name) PASIDLAB_CTR_##id,
enum pasidlab_outcome_id { PASIDLAB_OUTCOMES(PASIDLAB_OUT_ENTRY) PASIDLAB_NR_OUTCOMES };
enum pasidlab_violation_id { PASIDLAB_VIOLATIONS(PASIDLAB_VIO_ENTRY) PASIDLAB_NR_VIOLATIONS };
enum pasidlab_counter_id { PASIDLAB_COUNTERS(PASIDLAB_CTR_ENTRY) PASIDLAB_NR_COUNTERS };
#undef PASIDLAB_OUT_ENTRY
#undef PASIDLAB_VIO_ENTRY
#undef PASIDLAB_CTR_ENTRY

/*
 * PASIDLAB_IOC_COUNTERS, PASIDLAB_IOC_MM_COUNTERS. @size: in, the caller's
 * sizeof(struct pasidlab_counters) (at least up to @violations); out, the
 * bytes filled. A newer module fills what an older caller has room for.
 */
struct pasidlab_counters {
	__u32 size;
	__u32 nr_counters;	/* out: PASIDLAB_NR_COUNTERS of the module */
	__u64 outcomes[PASIDLAB_NR_OUTCOMES];
	__u64 violations[PASIDLAB_NR_VIOLATIONS];
	__u64 counters[PASIDLAB_NR_COUNTERS];
};

/* PASIDLAB_IOC_ENQCMD flags. */
/* Report a #GP that no policy fixed up in @result, without SIGSEGV. */
#define PASIDLAB_ENQ_NO_SIGNAL	(1U << 0)
#define PASIDLAB_ENQ_FLAGS	PASIDLAB_ENQ_NO_SIGNAL

/* PASIDLAB_IOC_ENQCMD results. */
enum pasidlab_enq_result {
	PASIDLAB_ENQ_QUEUED = 1,	/* accepted (ENQCMD ZF=0) */
	PASIDLAB_ENQ_RETRY,		/* queue full (ZF=1): try again */
	PASIDLAB_ENQ_NO_PORTAL,		/* no portal mapped in this mm: fault_unbound */
	PASIDLAB_ENQ_GP,		/* #GP not fixed up: gp_sigsegv (SIGSEGV sent
					 * unless PASIDLAB_ENQ_NO_SIGNAL)
					 */
};

/*
 * The device writes one, as DSA does, at @completion_addr (32-byte aligned,
 * in the submitter's memory); @status last.
 */
struct pasidlab_completion {
	__u8 status;		/* 0: not yet; else enum pasidlab_outcome_id + 1 */
	__u8 rsvd[3];
	__u32 pasid;		/* the PASID the descriptor carried */
	__u64 cookie;
	__u64 submit_ns;	/* CLOCK_MONOTONIC at ENQCMD */
	__u64 complete_ns;	/* CLOCK_MONOTONIC at execution */
};

struct pasidlab_enqcmd {
	__u64 completion_addr;	/* in: 0 for none, else 32-byte aligned */
	__u64 cookie;		/* in: copied into the completion record */
	__u32 flags;		/* in: PASIDLAB_ENQ_* */
	__u32 result;		/* out: enum pasidlab_enq_result */
	__u32 msr;		/* out: the IA32_PASID the descriptor took */
	__u32 gp_fixed;		/* out: 1 when a #GP was fixed up first */
};

/* PASIDLAB_IOC_THREAD: the calling thread's emulated state. */
struct pasidlab_thread {
	__u32 msr;		/* IA32_PASID: PASIDLAB_MSR_VALID | PASID, or 0 */
	__u32 mm_pasid;		/* its mm's PASID, 0 when none */
	__u32 pasid_activated;	/* task_struct::pasid_activated */
	__u32 task_work_queued;	/* a resync is queued for its return to user */
	__u32 mm_binds;		/* live binds of its mm */
	__u32 mm_portals;	/* portal mappings in its mm */
};

#define PASIDLAB_POLICY_NAME_MAX	32

/* PASIDLAB_IOC_INFO */
struct pasidlab_info {
	__u32 version;			/* PASIDLAB_VERSION */
	__u32 switch_probe;		/* sched_switch probe registered now */
	__u32 pasid_max;		/* highest PASID the emulated IOMMU hands out */
	__u32 wq_size;			/* descriptors the queue holds */
	__u32 device_delay_us;		/* submission to execution, at least */
	__u32 max_tasks;		/* threads with emulated state at once */
	char policy[PASIDLAB_POLICY_NAME_MAX];
};

#define PASIDLAB_VERSION	1

#define PASIDLAB_IOC_MAGIC	0xb4
#define PASIDLAB_IOC_ENQCMD	_IOWR(PASIDLAB_IOC_MAGIC, 1, struct pasidlab_enqcmd)
#define PASIDLAB_IOC_INFO	_IOR(PASIDLAB_IOC_MAGIC, 2, struct pasidlab_info)
#define PASIDLAB_IOC_THREAD	_IOR(PASIDLAB_IOC_MAGIC, 3, struct pasidlab_thread)
#define PASIDLAB_IOC_COUNTERS	_IOWR(PASIDLAB_IOC_MAGIC, 4, struct pasidlab_counters)
#define PASIDLAB_IOC_MM_COUNTERS _IOWR(PASIDLAB_IOC_MAGIC, 5, struct pasidlab_counters)
/* CAP_SYS_ADMIN: zero the global counters (per-mm counters stay). */
#define PASIDLAB_IOC_RESET	_IO(PASIDLAB_IOC_MAGIC, 6)

#endif /* _UAPI_LINUX_PASIDLAB_H */
