"""Policies on kernel builds: what pasidlab.ko measured for each policy in
each kernel (records of the kmod:<policy> backends, docs/kmod.md).

One row per kernel x policy, from the records alone (never from the
backend's name): the context-switch price of the policy against the same
kernel with no module, the cost of a PASID change with 0 and with the most
threads spinning elsewhere, idle PASID-seconds and the PASID peak over the
workloads, and violations. Fits the 72-column mail; the HTML shows the same
lines and a plot of the PASID-change cost against running threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import stats
from .text import WIDTH, clip

SWITCH = "micro:pasidlab-switch"
CHANGE = "micro:pasidlab-pasid-change"


@dataclass
class PolicyOnKernel:
    kernel: str
    policy: str
    time_base: str = "real"
    switch: dict = field(default_factory=dict)   # binding -> ctxsw_ns samples (same CPU)
    change: dict = field(default_factory=dict)   # spinning CPUs -> bind+unbind ns median
    idle_s: float = 0.0
    peak: float = 0.0
    workloads: int = 0
    violations: int = 0


def _samples(record, metric):
    m = record.get("metrics", {}).get(metric)
    if not m:
        return []
    return m.get("samples") or ([m["value"]] if "value" in m else [])


def _value(record, metric):
    m = record.get("metrics", {}).get(metric)
    return None if not m or "value" not in m else m["value"]


def collect(result_sets) -> list:
    """Rows for every kernel x policy that has pasidlab records."""
    rows = {}
    for result_set in result_sets:
        for record in result_set.tests.values():
            if not record.get("backend", "").startswith("kmod:"):
                continue
            prov = record.get("provenance", {})
            kernel = prov.get("kernel", {}).get("name", "?")
            key = (kernel, record.get("policy", "?"))
            row = rows.setdefault(key, PolicyOnKernel(
                kernel, key[1], prov.get("machine", {}).get("time_base", "real")))
            workload, params = record["workload"], record.get("params", {})
            if record.get("outcome") not in ("pass", "fail"):
                continue
            if workload == SWITCH and params.get("placement") == "same_cpu":
                row.switch[params.get("binding")] = _samples(record, "ctxsw_ns")
            elif workload == CHANGE:
                bind, unbind = _value(record, "bind_ns"), _value(record, "unbind_ns")
                if bind is not None and unbind is not None:
                    row.change[int(params.get("spinning_cpus", 0))] = bind + unbind
            elif not workload.startswith("micro:"):
                row.workloads += 1
                row.idle_s += _value(record, "pasid_seconds_idle") or 0.0
                row.peak = max(row.peak, _value(record, "pasid_peak_live") or 0.0)
                row.violations += sum(record.get("violations", {}).values())
    return [rows[k] for k in sorted(rows)]


def switch_price(row: PolicyOnKernel, alpha: float = stats.DEFAULT_ALPHA):
    """(ns added per switch in a bound mm against no module, mark): '*'
    when significant (real time), '=' in virtual time, '' noise."""
    base, bound = row.switch.get("no_module"), row.switch.get("bound")
    if not base or not bound:
        return None, ""
    delta = float(np.median(bound) - np.median(base))
    if row.time_base == "virtual-icount":
        return delta, "="
    c = stats.compare_samples(base, bound, "lower", alpha=alpha, resamples=500,
                              seed=stats.stable_seed(row.kernel + row.policy))
    return delta, "*" if c.significant else ""


def _num(v, width, fmt="{:,.0f}"):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-".rjust(width)
    return fmt.format(v).rjust(width)


def lines(result_sets) -> list:
    rows = collect(result_sets)
    if not rows:
        return []
    most = max((max(r.change) for r in rows if r.change), default=0)
    out = ["Policies on kernel builds (pasidlab.ko), medians:",
           "  switch+: ns a context switch in a bound mm adds against no",
           "  module (* significant, U test; = virtual time); chg N: bind +",
           "  unbind in us with N threads spinning elsewhere; idle: PASID-s",
           "  over the workloads; peak PASIDs; vio: violations"]
    # "debian-6.1-amd64", "debian-6.12-amd64": the common tail says nothing.
    names = [r.kernel for r in rows]
    tail = names[0][names[0].rfind("-"):] if "-" in names[0] else ""
    if len(set(names)) > 1 and tail and all(n.endswith(tail) for n in names):
        names = [n[:-len(tail)] for n in names]
    head = (f"  {'kernel':15}{'policy':20}{'switch+':>8}{'chg 0':>6}"
            f"{f'chg {most}':>6}{'idle':>5}{'peak':>5}{'vio':>4}")
    out.append(head)
    for r, kernel in zip(rows, names):
        delta, mark = switch_price(r)
        sw = "-" if delta is None else f"{delta:+,.0f}{mark}"
        chg0 = r.change.get(0)
        chgn = r.change.get(most)
        line = (f"  {clip(kernel, 14):15}{clip(r.policy, 19):20}{sw:>8}"
                f"{_num(None if chg0 is None else chg0 / 1000, 6, '{:.0f}')}"
                f"{_num(None if chgn is None else chgn / 1000, 6, '{:.0f}')}"
                f"{_num(r.idle_s, 5, '{:.2f}')}{_num(r.peak, 5)}{r.violations:>4}")
        out.append(line[:WIDTH])
    return out


def plot(result_sets, out_dir):
    """PASID-change cost against running threads, per policy and kernel:
    a plots.PlotFile (kind "policykernel"), or None without data."""
    rows = [r for r in collect(result_sets) if len(r.change) >= 1]
    if not rows:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for r in rows:
        xs = sorted(r.change)
        ax.plot(xs, [r.change[x] / 1000 for x in xs], marker="o",
                label=f"{r.policy} on {r.kernel}")
    ax.set_xlabel("threads of the mm spinning on other CPUs")
    ax.set_ylabel("bind + unbind, us (median)")
    ax.set_title("PASID change cost (pasidlab.ko)")
    ax.legend(fontsize=7)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "policykernel-pasid-change-vs-threads.png"
    svg = png.with_suffix(".svg")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    fig.savefig(svg)
    plt.close(fig)
    from .plots import PlotFile
    return PlotFile("policykernel", "PASID change cost against threads running "
                    "elsewhere, per policy and kernel (pasidlab.ko)", png, svg,
                    {f"{r.policy} on {r.kernel}": len(r.change) for r in rows})
