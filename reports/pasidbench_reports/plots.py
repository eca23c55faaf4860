"""Figures for the report, as PNG (for the HTML page) and SVG (for papers
and slides). Each kind is drawn only when the results hold its data:

  sweep          model counts of tests that differ in one SWEEP_AXES
                 parameter (suites/policy-scaling.toml): a curve per policy
                 of the reference schedule's value, the range shaded
  distribution   every metric not in a sweep: box plot per set with the
                 samples on top
  scaling        measurements with an integer parameter spinning_cpus (or
                 cpus): median cost against the number of CPUs running
                 the mm
  pasid          metrics with a boolean parameter with_pasid: cost with and
                 without a PASID-bound mm, per set
  timeline       model results with pasid_timeline: PASID lifetimes
                 (allocated / bound / idle-held) per policy

Output is deterministic (fixed SVG hash salt, no dates in metadata, seeded
jitter), so rerunning a report over the same files does not churn.
"""

from __future__ import annotations

import io
import json
import re
import textwrap
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402  (matplotlib depends on it)

from .compare import Report, set_letter  # noqa: E402
from .text import clean  # noqa: E402

CPU_COUNT_PARAMS = ("spinning_cpus", "cpus")
PASID_PARAM = "with_pasid"
BASELINE_COLOR = "#d95f02"
OTHER_COLORS = ("#1f78b4", "#33a02c", "#6a3d9a", "#b15928", "#e31a1c",
                "#a6761d", "#666666", "#1b9e77")
BOUND_COLOR = "#1f78b4"
IDLE_COLOR = "#fdae61"
MAX_TIMELINE_ROWS = 30

RC = {
    "svg.hashsalt": "pasidbench",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.titlesize": 10,
    "figure.dpi": 100,
}
SVG_METADATA = {"Date": None, "Creator": None}
PNG_METADATA = {"Software": None}
PNG_COLORS = 64


@dataclass
class PlotFile:
    kind: str
    title: str
    png: Path
    svg: Path
    # Sweeps: curve label -> how many points it has (tests check >= 5).
    points: dict = field(default_factory=dict)


def set_color(index: int) -> str:
    if index == 0:
        return BASELINE_COLOR
    return OTHER_COLORS[(index - 1) % len(OTHER_COLORS)]


def plot_text(text) -> str:
    """Result text shown in a figure: no control characters, and '$' kept
    literal (matplotlib would otherwise parse it as mathtext)."""
    return clean(text).replace("$", r"\$")


def set_name(report: Report, index: int) -> str:
    suffix = " (baseline)" if index == 0 else ""
    return plot_text(f"{set_letter(index)}  {report.sets[index].label}{suffix}")


def file_stem(kind: str, *parts) -> str:
    text = " ".join(str(p) for p in parts)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:70]
    return f"{kind}-{slug}-{zlib.crc32(text.encode()):08x}"


def _save(fig, directory: Path, kind: str, title: str, stem: str,
          points: dict | None = None) -> PlotFile:
    png, svg = directory / f"{stem}.png", directory / f"{stem}.svg"
    # A palette of 64 colours keeps the antialiased text and lines and
    # makes each PNG about 4 times smaller: the smoke run's page loads
    # some 80 plots, and under 1 MB they must be (docs/reports.md, HTML).
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata=PNG_METADATA)
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(
            colors=PNG_COLORS, method=Image.Quantize.FASTOCTREE).save(
                png, format="PNG", optimize=True)
    fig.savefig(svg, format="svg", metadata=SVG_METADATA)
    plt.close(fig)
    return PlotFile(kind, title, png, svg, points or {})


def _title(text: str, width: int = 80) -> str:
    return "\n".join(textwrap.wrap(plot_text(text), width)) or " "


def _verdict_text(column) -> str:
    comparison = column.comparison
    if comparison is None:
        return ""
    change = ("n/a" if comparison.change_pct is None
              else f"{comparison.change_pct:+.2f}%")
    return f"{change} {comparison.verdict}"


def distribution_plots(report: Report, directory: Path) -> list:
    files = []
    jitter = np.random.default_rng(0)
    # A sweep's points are read from its curves; a box per point and
    # metric would be hundreds of plots.
    in_sweeps = sweep_keys(report)
    for metric in report.metrics:
        if metric.key in in_sweeps:
            continue
        present = [(i, c) for i, c in enumerate(metric.columns)
                   if c is not None]
        if not present:
            continue
        fig, ax = plt.subplots(
            figsize=(8.0, 1.4 + 0.55 * len(present)), layout="constrained")
        positions = list(range(len(present), 0, -1))  # baseline on top
        data = [np.asarray(c.samples, dtype=float) for _, c in present]
        boxes = ax.boxplot(data, positions=positions, vert=False,
                           widths=0.55, patch_artist=True, showfliers=False,
                           medianprops={"color": "black"})
        for patch, (i, _) in zip(boxes["boxes"], present):
            patch.set_facecolor(set_color(i))
            patch.set_alpha(0.35 if i else 0.6)
            patch.set_edgecolor(set_color(i))
            patch.set_linewidth(2.0 if i == 0 else 1.0)
        for position, values, (i, column) in zip(positions, data, present):
            ax.scatter(values, position + jitter.uniform(-0.18, 0.18,
                                                         values.size),
                       s=9, color=set_color(i), alpha=0.8, zorder=3,
                       linewidths=0)
            verdict = _verdict_text(column)
            if verdict:
                ax.annotate(plot_text(verdict), xy=(1.01, position),
                            xycoords=("axes fraction", "data"),
                            va="center", fontsize=8,
                            fontweight="bold" if column.comparison.significant
                            else "normal")
        ax.set_yticks(positions)
        ax.set_yticklabels([set_name(report, i) for i, _ in present])
        for label, (i, _) in zip(ax.get_yticklabels(), present):
            if i == 0:
                label.set_fontweight("bold")
                label.set_color(BASELINE_COLOR)
        direction = {"lower": "lower is better",
                     "higher": "higher is better"}.get(metric.better, "")
        ax.set_xlabel(plot_text(f"{metric.metric} [{metric.unit}]"
                                + (f", {direction}" if direction else "")))
        ax.set_title(_title(f"{metric.metric}: {metric.key.describe()}"))
        if len(present) > 1:
            ax.annotate("change in median vs A\n(bold: significant)",
                        xy=(1.01, 1.0), xycoords="axes fraction",
                        va="bottom", fontsize=7, color="#555555")
        ax.grid(axis="x", alpha=0.3)
        files.append(_save(fig, directory, "distribution",
                           f"{metric.metric} ({metric.key.describe()})",
                           file_stem("dist", metric.metric,
                                     metric.key.describe())))
    return files


def _grouped(report: Report, param_names, accept):
    """Group metric rows by (metric, workload, other params) over the values
    of one parameter named in param_names whose values pass accept()."""
    groups = {}
    for metric in report.metrics:
        params = metric.key.params
        name = next((p for p in param_names if p in params
                     and accept(params[p])), None)
        if name is None:
            continue
        rest = {k: v for k, v in params.items() if k != name}
        group_id = (metric.metric, metric.key.workload,
                    tuple(sorted((k, str(v)) for k, v in rest.items())))
        group = groups.setdefault(group_id, {"param": name, "rows": {},
                                             "metric": metric, "rest": rest})
        group["rows"][params[name]] = metric
    return groups


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe_rest(workload: str, rest: dict) -> str:
    parts = [workload] + [f"{k}={v}" for k, v in sorted(rest.items())]
    return " ".join(parts)


def scaling_plots(report: Report, directory: Path) -> list:
    files = []
    for (metric_name, workload, _), group in sorted(
            _grouped(report, CPU_COUNT_PARAMS, _is_count).items()):
        # Model counts against CPUs are the sweep plots' (reference value
        # and range, not median and IQR of schedules).
        if len(group["rows"]) < 2 or group["metric"].mode == "counted":
            continue
        param, sample_row = group["param"], group["metric"]
        fig, ax = plt.subplots(figsize=(8.0, 4.6), layout="constrained")
        for i in range(len(report.sets)):
            points = []
            for cpus, row in sorted(group["rows"].items()):
                column = row.columns[i]
                if column is not None and np.isfinite(column.summary.median):
                    s = column.summary
                    points.append((cpus, s.median, s.median - s.q1,
                                   s.q3 - s.median))
            if not points:
                continue
            x, y, low, high = (np.array(v, dtype=float) for v in zip(*points))
            ax.errorbar(x, y, yerr=[low, high], marker="o", capsize=3,
                        color=set_color(i), linewidth=2.6 if i == 0 else 1.4,
                        label=set_name(report, i),
                        # the thick baseline goes under, so sets that match
                        # it stay visible on top
                        zorder=2 if i == 0 else 3)
        ticks = sorted(group["rows"])
        # 0 spinning CPUs (the IPI-free baseline) has no place on a log axis.
        if ticks[0] > 0:
            ax.set_xscale("log", base=2)
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.set_xlabel(plot_text(f"{param} (CPUs running the mm)"))
        ax.set_ylabel(plot_text(f"{metric_name} [{sample_row.unit}], "
                                f"median and IQR"))
        description = _describe_rest(workload, group["rest"])
        ax.set_title(_title(f"{metric_name} against {param}: {description}"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        files.append(_save(fig, directory, "scaling",
                           f"{metric_name} against {param} ({description})",
                           file_stem("scaling", metric_name, description)))
    return files


def pasid_plots(report: Report, directory: Path) -> list:
    files = []
    for (metric_name, workload, _), group in sorted(
            _grouped(report, (PASID_PARAM,),
                     lambda v: isinstance(v, bool)).items()):
        rows = group["rows"]
        if set(rows) != {False, True}:
            continue
        fig, ax = plt.subplots(figsize=(8.0, 4.6), layout="constrained")
        indices = [i for i in range(len(report.sets))
                   if rows[False].columns[i] or rows[True].columns[i]]
        width = 0.38
        for slot, i in enumerate(indices):
            medians = {}
            for offset, with_pasid in ((-width / 2, False), (width / 2, True)):
                column = rows[with_pasid].columns[i]
                if column is None:
                    continue
                s = column.summary
                medians[with_pasid] = s.median
                ax.bar(slot + offset, s.median, width,
                       yerr=[[s.median - s.q1], [s.q3 - s.median]],
                       capsize=3, color=set_color(i),
                       alpha=1.0 if with_pasid else 0.45,
                       edgecolor="black", linewidth=1.8 if i == 0 else 0.5,
                       hatch="//" if with_pasid else None)
            if len(medians) == 2 and medians[False]:
                overhead = (medians[True] / medians[False] - 1) * 100
                top = max(rows[w].columns[i].summary.q3 for w in medians)
                ax.annotate(f"with PASID: {overhead:+.1f}%", xy=(slot, top),
                            xytext=(0, 6), textcoords="offset points",
                            ha="center", fontsize=8)
        ax.set_xticks(range(len(indices)))
        ax.set_xticklabels([set_name(report, i) for i in indices],
                           rotation=15 if len(indices) > 3 else 0)
        for label, i in zip(ax.get_xticklabels(), indices):
            if i == 0:
                label.set_fontweight("bold")
                label.set_color(BASELINE_COLOR)
        from matplotlib.patches import Patch
        ax.legend(handles=[
            Patch(facecolor="#999999", alpha=0.45, label="without PASID"),
            Patch(facecolor="#999999", hatch="//", label="with PASID-bound mm"),
        ], fontsize=8, loc="upper left", ncols=2)
        unit = group["metric"].unit
        ax.set_ylabel(plot_text(f"{metric_name} [{unit}], median and IQR"))
        # headroom for the overhead labels and the legend
        ax.set_ylim(top=ax.get_ylim()[1] * 1.22)
        description = _describe_rest(workload, group["rest"])
        ax.set_title(_title(f"{metric_name} with and without a PASID: "
                            f"{description}"))
        ax.grid(axis="y", alpha=0.3)
        files.append(_save(fig, directory, "pasid",
                           f"{metric_name} with and without a PASID "
                           f"({description})",
                           file_stem("pasid", metric_name, description)))
    return files


def _time_scale(largest_ns: float):
    for factor, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "us")):
        if largest_ns >= factor:
            return factor, unit
    return 1.0, "ns"


def _merge_runs(spans: list) -> list:
    """Contiguous intervals of one (pasid, mm): the allocation as a whole."""
    runs = []
    for start, end in sorted((s["start_ns"], s["end_ns"]) for s in spans):
        if runs and start <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    return runs


def timeline_plots(report: Report, directory: Path) -> list:
    from matplotlib.patches import Patch
    files = []
    in_sweeps = sweep_keys(report)
    keys = sorted({k for s in report.sets for k, r in s.tests.items()
                   if r.get("pasid_timeline") and k not in in_sweeps})
    for key in keys:
        panels = [(i, s.tests[key]["pasid_timeline"])
                  for i, s in enumerate(report.sets)
                  if key in s.tests and s.tests[key].get("pasid_timeline")]
        largest = max(span["end_ns"] for _, spans in panels for span in spans)
        factor, unit = _time_scale(largest)
        heights = []
        for _, spans in panels:
            heights.append(min(MAX_TIMELINE_ROWS,
                               len({(s["pasid"], s["mm"]) for s in spans})))
        fig, axes = plt.subplots(
            len(panels), 1, sharex=True, squeeze=False, layout="constrained",
            figsize=(8.0, 1.0 + sum(0.9 + 0.28 * h for h in heights)),
            gridspec_kw={"height_ratios": [1 + h for h in heights]})
        for ax, (i, spans) in zip(axes[:, 0], panels):
            by_row = {}
            for span in sorted(spans, key=lambda s: (s["start_ns"], s["pasid"],
                                                     s["mm"])):
                by_row.setdefault((span["pasid"], span["mm"]), []).append(span)
            rows = list(by_row.items())
            hidden = max(0, len(rows) - MAX_TIMELINE_ROWS)
            rows = rows[:MAX_TIMELINE_ROWS]
            for y, ((pasid, mm), row_spans) in enumerate(rows):
                for start, end in _merge_runs(row_spans):
                    ax.broken_barh([(start / factor, (end - start) / factor)],
                                   (y - 0.42, 0.84), facecolors="none",
                                   edgecolors="#555555", linewidth=0.8)
                for span in row_spans:
                    bound = span["state"] == "bound"
                    ax.broken_barh(
                        [(span["start_ns"] / factor,
                          (span["end_ns"] - span["start_ns"]) / factor)],
                        (y - 0.3, 0.6),
                        facecolors=BOUND_COLOR if bound else IDLE_COLOR,
                        hatch=None if bound else "xx", edgecolor="white",
                        linewidth=0)
            ax.set_yticks(range(len(rows)))
            ax.set_yticklabels([plot_text(f"PASID {p}  {mm}")
                                for (p, mm), _ in rows], fontsize=7)
            ax.set_ylim(len(rows) - 0.5, -0.5)
            title = set_name(report, i)
            if hidden:
                title += f"  ({hidden} more PASIDs not shown)"
            ax.set_title(title, loc="left", fontsize=9,
                         color=BASELINE_COLOR if i == 0 else "black",
                         fontweight="bold" if i == 0 else "normal")
            ax.grid(axis="x", alpha=0.3)
        axes[-1, 0].set_xlabel(f"time [{unit}]")
        # above the first panel, beside its left-aligned title, so that it
        # never covers a lifetime bar
        axes[0, 0].legend(handles=[
            Patch(facecolor="none", edgecolor="#555555",
                  label="allocated to the mm"),
            Patch(facecolor=BOUND_COLOR, label="bound"),
            Patch(facecolor=IDLE_COLOR, hatch="xx", label="idle-held"),
        ], fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 1.0),
            ncols=3, frameon=False)
        fig.suptitle(_title(f"PASID lifetimes: {key.describe()}"),
                     fontsize=10)
        files.append(_save(fig, directory, "timeline",
                           f"PASID lifetimes ({key.describe()})",
                           file_stem("timeline", key.describe())))
    return files


# Sweeps of policy models (suites/policy-scaling.toml): the parameter
# swept, its axis label, and the measures drawn against it.
SWEEP_AXES = {
    "tasks": ("pool size: tasks (the binder and its pool workers)",
              ("ipis", "context_switches_pasid_work",
               "modelled_overhead_ns")),
    "cpus": ("CPUs", ("ipis", "context_switches_pasid_work",
                      "modelled_overhead_ns")),
    "rounds": ("binder churn: clone-bind-exit rounds (bind/unbind cycles)",
               ("modelled_overhead_ns", "pasid_seconds_idle")),
    "turnover": ("process turnover: binding processes forked in turn",
                 ("pasid_seconds_idle", "modelled_overhead_ns")),
}
# Model times are short: drawn in microseconds.
SWEEP_SCALES = {"ns": (1e-3, "us"), "s": (1e6, "us"), "pasid-s": (1e6,
                                                                   "PASID-us")}


def _sweeps(report: Report) -> dict:
    """(axis, workload, other params) -> {axis value: {metric: row}} for
    model counts whose tests differ in one SWEEP_AXES parameter only."""
    sweeps = {}
    for metric in report.metrics:
        if metric.mode != "counted":
            continue
        params = metric.key.params
        for axis in SWEEP_AXES:
            value = params.get(axis)
            if not _is_count(value):
                continue
            rest = tuple(sorted((k, json.dumps(v)) for k, v in params.items()
                                if k != axis))
            group = sweeps.setdefault((axis, metric.key.workload, rest), {})
            group.setdefault(value, {})[metric.metric] = metric
    return {k: v for k, v in sweeps.items() if len(v) >= 2}


def sweep_keys(report: Report) -> set:
    """The tests that are points of some sweep."""
    return {row.key for group in _sweeps(report).values()
            for rows in group.values() for row in rows.values()}


def sweep_plots(report: Report, directory: Path) -> list:
    """One plot per sweep and measure, one curve per policy: the value in
    the reference schedule (the timed default, the realistic timeline),
    with the range over the explored schedules shaded. Counts over
    schedules a search enumerated are not samples: no medians here."""
    files = []
    for (axis, workload, rest), group in sorted(_sweeps(report).items()):
        label, measures = SWEEP_AXES[axis]
        xs = sorted(group)
        # The search's own parameters are in the record, not the title.
        rest_text = _describe_rest(workload, {
            k: v.strip('"') for k, v in rest
            if k not in ("strategy", "schedules", "pct_depth", "seed",
                         "preemption_bound")})
        for measure in measures:
            rows = [group[x].get(measure) for x in xs]
            sample = next((r for r in rows if r is not None), None)
            if sample is None:
                continue
            scale, unit = SWEEP_SCALES.get(sample.unit, (1, sample.unit))
            fig, ax = plt.subplots(figsize=(8.0, 4.6), layout="constrained")
            points = {}
            top_ref, top_range, least = 0.0, 0.0, None
            for i, result_set in enumerate(report.sets):
                curve = [(x, r.columns[i]) for x, r in zip(xs, rows)
                         if r is not None and r.columns[i] is not None]
                if not curve:
                    continue
                x = np.array([p for p, _ in curve], dtype=float)
                ref = np.array([c.samples[0] for _, c in curve]) * scale
                low = np.array([c.summary.min for _, c in curve]) * scale
                high = np.array([c.summary.max for _, c in curve]) * scale
                ax.fill_between(x, low, high, color=set_color(i), alpha=0.12,
                                linewidth=0)
                ax.plot(x, ref, marker="o", color=set_color(i),
                        linewidth=2.4 if i == 0 else 1.4,
                        label=plot_text(result_set.label),
                        zorder=2 if i == 0 else 3)
                points[result_set.label] = len(curve)
                top_ref = max(top_ref, float(ref.max()))
                top_range = max(top_range, float(high.max()))
                positive = ref[ref > 0]
                if positive.size:
                    least = min(least or positive.min(), positive.min())
            # Late IPIs and descriptors make some schedules far costlier
            # than the timed one: on a linear axis their range would flatten
            # the reference curves.
            if top_range > 20 * max(top_ref, 1e-12):
                ax.set_yscale("symlog", linthresh=least or 1.0)
            # 0 (no turnover) has no place on a log axis: symlog keeps it.
            if xs[0] > 0:
                ax.set_xscale("log", base=2)
            else:
                ax.set_xscale("symlog", base=2, linthresh=1)
            ax.set_xticks(xs)
            ax.set_xticklabels([str(x) for x in xs])
            ax.set_xlabel(plot_text(label))
            ax.set_ylabel(plot_text(f"{measure} [{unit}]"
                                    + (", symlog" if ax.get_yscale() ==
                                       "symlog" else "")))
            ax.set_title(_title(f"{measure} against {axis}: {rest_text} "
                                f"(line: reference schedule; shade: range "
                                f"over explored schedules)"))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            title = f"{measure} against {axis} ({rest_text})"
            files.append(_save(fig, directory, "sweep", title,
                               file_stem("sweep", measure, axis, rest_text),
                               points))
    return files


PLOT_KINDS = ("dist", "scaling", "pasid", "timeline", "sweep")


def write_all(report: Report, directory: Path) -> list:
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    with matplotlib.rc_context(RC):
        for draw in (sweep_plots, distribution_plots, scaling_plots,
                     pasid_plots, timeline_plots):
            files.extend(draw(report, directory))
    # Plots of an earlier report into the same directory would be mistaken
    # for this one's; only files named like ours are removed.
    written = {p for f in files for p in (f.png, f.svg)}
    for path in directory.iterdir():
        if (path.suffix in (".png", ".svg") and path not in written
                and path.name.split("-", 1)[0] in PLOT_KINDS):
            path.unlink()
    return files
