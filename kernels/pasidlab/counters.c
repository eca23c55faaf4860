// SPDX-License-Identifier: GPL-2.0
/*
 * Counters: global ones per CPU (the sched_switch probe counts on every
 * switch), per-mm ones atomic in struct pl_mm. Names and order are the uapi
 * header's, which are the model backend's metric names.
 */
#include <linux/ktime.h>
#include <linux/percpu.h>

#include "pasidlab.h"

struct pl_pcpu_counters {
	u64 outcomes[PASIDLAB_NR_OUTCOMES];
	u64 violations[PASIDLAB_NR_VIOLATIONS];
	u64 counters[PASIDLAB_NR_COUNTERS];
};

static DEFINE_PER_CPU(struct pl_pcpu_counters, pl_pcpu);

void pl_count(int id)
{
	this_cpu_inc(pl_pcpu.counters[id]);
}

void pl_count_n(int id, u64 n)
{
	this_cpu_add(pl_pcpu.counters[id], n);
}

void pl_count_mm(struct pl_mm *pm, int id)
{
	if (pm)
		atomic64_inc(&pm->ctr.counters[id]);
}

void pl_count_outcome(struct pl_mm *pm, int outcome)
{
	this_cpu_inc(pl_pcpu.outcomes[outcome]);
	if (pm)
		atomic64_inc(&pm->ctr.outcomes[outcome]);
}

void pl_count_violation(struct pl_mm *pm, int violation)
{
	this_cpu_inc(pl_pcpu.violations[violation]);
	if (pm)
		atomic64_inc(&pm->ctr.violations[violation]);
}

void pl_counters_reset(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(&pl_pcpu, cpu), 0, sizeof(struct pl_pcpu_counters));
}

void pl_counters_read(struct pasidlab_counters *out)
{
	unsigned long flags;
	int cpu, i;

	memset(out, 0, sizeof(*out));
	for_each_possible_cpu(cpu) {
		struct pl_pcpu_counters *c = per_cpu_ptr(&pl_pcpu, cpu);

		for (i = 0; i < PASIDLAB_NR_OUTCOMES; i++)
			out->outcomes[i] += READ_ONCE(c->outcomes[i]);
		for (i = 0; i < PASIDLAB_NR_VIOLATIONS; i++)
			out->violations[i] += READ_ONCE(c->violations[i]);
		for (i = 0; i < PASIDLAB_NR_COUNTERS; i++)
			out->counters[i] += READ_ONCE(c->counters[i]);
	}
	raw_spin_lock_irqsave(&pl_lock, flags);
	pl_snapshot_pasids(ktime_get_ns(), &out->counters[PASIDLAB_CTR_PASID_LIVE],
			   &out->counters[PASIDLAB_CTR_PASID_PEAK_LIVE],
			   &out->counters[PASIDLAB_CTR_PASID_IDLE_NS]);
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	out->counters[PASIDLAB_CTR_MMDROP_MISSED] = pl_mmdrop_missed();
	out->size = sizeof(*out);
	out->nr_counters = PASIDLAB_NR_COUNTERS;
}

void pl_counters_read_mm(struct pl_mm *pm, struct pasidlab_counters *out)
{
	unsigned long flags;
	u64 now;
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < PASIDLAB_NR_OUTCOMES; i++)
		out->outcomes[i] = atomic64_read(&pm->ctr.outcomes[i]);
	for (i = 0; i < PASIDLAB_NR_VIOLATIONS; i++)
		out->violations[i] = atomic64_read(&pm->ctr.violations[i]);
	for (i = 0; i < PASIDLAB_NR_COUNTERS; i++)
		out->counters[i] = atomic64_read(&pm->ctr.counters[i]);
	raw_spin_lock_irqsave(&pl_lock, flags);
	now = ktime_get_ns();
	out->counters[PASIDLAB_CTR_PASID_IDLE_NS] += (u64)pm->idle_count * now - pm->idle_open_sum;
	out->counters[PASIDLAB_CTR_PASID_LIVE] = pm->pasid != PL_INVALID;
	raw_spin_unlock_irqrestore(&pl_lock, flags);
	out->size = sizeof(*out);
	out->nr_counters = PASIDLAB_NR_COUNTERS;
}
