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

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define PASIDLAB_WQ_PATH	"/dev/pasidlab/wq0"
#define PASIDLAB_CTL_PATH	"/dev/pasidlab/ctl"

/* IA32_PASID (MSR 0xd93): bit 31 valid, bits 19:0 the PASID. */
#define PASIDLAB_MSR_VALID	_BITUL(31)
#define PASIDLAB_PASID_MASK	0xfffffU

/*
 * What became of a submission: the model backend's outcome names, in its
 * order. A completion record's status is the outcome plus one (0: not
 * written yet). PASIDLAB_OUTCOME_NAMES initializes an array of the names.
 */
enum pasidlab_outcome_id {
	PASIDLAB_OUT_OK,
	PASIDLAB_OUT_GP_SIGSEGV,
	PASIDLAB_OUT_FAULT_UNBOUND,
	PASIDLAB_OUT_ISOLATION_VIOLATION,
	PASIDLAB_OUT_USE_AFTER_FREE,
	PASIDLAB_NR_OUTCOMES
};

#define PASIDLAB_OUTCOME_NAMES { \
	"ok", \
	"gp_sigsegv", \
	"fault_unbound", \
	"isolation_violation", \
	"use_after_free", \
}

/* Safety violations the module can see, by the model's names. */
enum pasidlab_violation_id {
	PASIDLAB_VIO_ISOLATION_VIOLATION,
	PASIDLAB_VIO_USE_AFTER_FREE,
	PASIDLAB_VIO_STALE_PASID_HELD,
	PASIDLAB_VIO_FREED_WHILE_INSTALLED,
	PASIDLAB_VIO_DOUBLE_FREE,
	PASIDLAB_NR_VIOLATIONS
};

#define PASIDLAB_VIOLATION_NAMES { \
	"isolation_violation", \
	"use_after_free", \
	"stale_pasid_held", \
	"pasid_freed_while_installed", \
	"pasid_double_free", \
}

/*
 * Counters, global and per mm. The first eleven are the model's metric
 * names (pasid_idle_ns is its PASID-seconds idle, in ns); context_switches
 * counts only while the sched_switch probe is registered.
 */
enum pasidlab_counter_id {
	PASIDLAB_CTR_PASID_ALLOCS,
	PASIDLAB_CTR_PASID_FREES,
	PASIDLAB_CTR_PASID_PEAK_LIVE,
	PASIDLAB_CTR_PASID_IDLE_NS,
	PASIDLAB_CTR_CONTEXT_SWITCHES,
	PASIDLAB_CTR_CONTEXT_SWITCHES_PASID_WORK,
	PASIDLAB_CTR_IPIS,
	PASIDLAB_CTR_TASK_WORK_RUNS,
	PASIDLAB_CTR_GP_FIXUPS,
	PASIDLAB_CTR_SUBMITS,
	PASIDLAB_CTR_ENQCMD_RETRIES,
	PASIDLAB_CTR_PASID_LIVE,
	PASIDLAB_CTR_GP_SIGSEGVS,
	PASIDLAB_CTR_IPIS_HANDLED,
	PASIDLAB_CTR_IPIS_NOT_MM,
	PASIDLAB_CTR_TASK_WORK_ADDED,
	PASIDLAB_CTR_MSR_WRITES,
	PASIDLAB_CTR_BINDS,
	PASIDLAB_CTR_UNBINDS,
	PASIDLAB_CTR_MM_EXITS,
	PASIDLAB_CTR_MM_DROPS,
	PASIDLAB_CTR_COMPLETIONS,
	PASIDLAB_CTR_COMPLETION_FAULTS,
	PASIDLAB_CTR_SWITCH_PROBE_REGS,
	PASIDLAB_CTR_TASK_TABLE_FULL,
	PASIDLAB_CTR_MMDROP_MISSED,
	PASIDLAB_NR_COUNTERS
};

#define PASIDLAB_COUNTER_NAMES { \
	"pasid_allocs", \
	"pasid_frees", \
	"pasid_peak_live", \
	"pasid_idle_ns", \
	"context_switches", \
	"context_switches_pasid_work", \
	"ipis", \
	"task_work_runs", \
	"gp_fixups", \
	"submits", \
	"enqcmd_retries", \
	"pasid_live", \
	"gp_sigsegvs", \
	"ipis_handled", \
	"ipis_not_mm", \
	"task_work_added", \
	"msr_writes", \
	"binds", \
	"unbinds", \
	"mm_exits", \
	"mm_drops", \
	"completions", \
	"completion_faults", \
	"switch_probe_registrations", \
	"task_table_full", \
	"mmdrop_kprobe_missed", \
}

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
#define PASIDLAB_ENQ_NO_SIGNAL	_BITUL(0)
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

#define PASIDLAB_VERSION	2

#define PASIDLAB_IOC_MAGIC	0xb4
#define PASIDLAB_IOC_ENQCMD	_IOWR(PASIDLAB_IOC_MAGIC, 1, struct pasidlab_enqcmd)
#define PASIDLAB_IOC_INFO	_IOR(PASIDLAB_IOC_MAGIC, 2, struct pasidlab_info)
#define PASIDLAB_IOC_THREAD	_IOR(PASIDLAB_IOC_MAGIC, 3, struct pasidlab_thread)
#define PASIDLAB_IOC_COUNTERS	_IOWR(PASIDLAB_IOC_MAGIC, 4, struct pasidlab_counters)
#define PASIDLAB_IOC_MM_COUNTERS _IOWR(PASIDLAB_IOC_MAGIC, 5, struct pasidlab_counters)
/*
 * CAP_SYS_ADMIN: zero the global counters and restart pasid_peak_live from
 * the PASIDs live now (per-mm counters, pasid_live and pasid_idle_ns stay).
 */
#define PASIDLAB_IOC_RESET	_IO(PASIDLAB_IOC_MAGIC, 6)

#endif /* _UAPI_LINUX_PASIDLAB_H */
