"""The summary: what a run answers, on one screen (at most MAX_LINES lines
of at most 72 columns), before the full report.

  - conformance: policy x workload outcomes with the schedules explored
    (complete or not), each seeded mutant caught or not, with its violation,
    trace length and the command that replays its counterexample;
  - per workload, one row per policy with the measures that decide between
    policies, from the reference schedule, with the range over the explored
    schedules where it differs (counts over schedules: no tests);
  - each kernel build's context-switch and IPI costs: median, spread and
    samples, and against the first kernel its change;
  - one line per thing the reader must know: skips, noisy metrics, warnings,
    what was left out.

It formats the reports built by compare.py; it reads no file.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from . import rows as row_model
from .compare import Report, set_letter
from .outcomes import outcome_text, verdict
from .text import WIDTH, clean, clip, wrap

MAX_LINES = 60

# (heading, metric, scale, unit note): what decides between policies.
POLICY_MEASURES = (
    ("alloc/pk", ("pasid_allocs", "pasid_peak_live"), 1,
     "alloc/pk PASIDs allocated/peak"),
    ("idle", "pasid_seconds_idle", 1e6, "idle PASID-us unbound"),
    ("IPIs", "ipis", 1, ""),
    ("swPW", "context_switches_pasid_work", 1, "swPW switches with PASID work"),
    ("twork", "task_work_runs", 1, ""),
    ("#GP", "gp_fixups", 1, ""),
    ("ovh", "modelled_overhead_ns", 1e-3, "ovh modelled overhead us"),
)
POLICY_CELL = 10
# The kernel costs shown: per test, the first metric in ns whose name
# says it is a context switch or an IPI.
KERNEL_METRIC = re.compile(r"ctxsw|switch|ipi|membarrier")


def _compact(value: float) -> str:
    """A count or small quantity in at most 4 characters where it can."""
    if value is None or not math.isfinite(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.0f}M" if magnitude >= 1e7 else \
            f"{value / 1e6:.1f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.0f}k"
    if magnitude >= 1e3:
        return f"{value / 1e3:.1f}k".replace(".0k", "k")
    if magnitude >= 10 or value == int(value):
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.2f}".rstrip("0").rstrip(".")


def reference_and_range(column, scale: float) -> str:
    """'3' when every explored schedule gave 3, else '3(1-9)': the
    reference schedule's value and the range; '3~' when that is too wide."""
    ref = column.samples[0] * scale
    low, high = column.summary.min * scale, column.summary.max * scale
    text = _compact(ref)
    if _compact(low) == _compact(high):
        return text
    ranged = f"{text}({_compact(low)}-{_compact(high)})"
    return ranged if len(ranged) < POLICY_CELL else text + "~"


# ---------------------------------------------------------------- parts

def _legend(report: Report, what: str = "") -> list:
    text = "  ".join(f"{set_letter(i)} {clean(s.label)}"
                     for i, s in enumerate(report.sets))
    return wrap(f"{what}: {text}" if what else text, indent="  ",
                subsequent="    ")


def _search_cell(record) -> str:
    if record is None:
        return "-"
    word = outcome_text(record)
    word = {"INCOMPLETE": "INCOMP", "NOT CAUGHT": "MISSED"}.get(word, word)
    search = record.get("search") or {}
    schedules = search.get("schedules")
    if schedules is None:
        return word
    return f"{word} {_compact(schedules)}"


def _conformance_lines(report: Report) -> list:
    if not report.conformance:
        return []
    count = len(report.sets)
    cell = 10
    # Panels of at most four sets, so that a lab of many kernel x policy
    # sets still fits the 72 columns with room for the test's name.
    per_panel = max(1, min(count, (WIDTH - 24) // cell))
    model = report.sets[0].is_model
    records = [r for row in report.conformance for r in row.records if r]
    if not model and all(r["outcome"] == "skip" for r in records):
        return []   # the notices name the skips
    incomplete = []
    names = short_names(r.key for r in report.conformance)
    for conformance_row in report.conformance:
        for i, record in enumerate(conformance_row.records):
            if record is not None and (
                    record["outcome"] == "incomplete"
                    or (record.get("search") or {}).get("complete") is False):
                incomplete.append(f"{set_letter(i)} "
                                  f"{names[conformance_row.key]}")
    title = "Conformance (kernel)"
    if model:
        title = "Verdicts, schedules" + ("" if incomplete else
                                         " (complete)")
    lines = []
    for start in range(0, count, per_panel):
        panel = range(start, min(count, start + per_panel))
        label_width = WIDTH - cell * len(panel)
        header = title if start == 0 else ""
        lines.append(clip(header, label_width - 1).ljust(label_width) + "".join(
            set_letter(i).rjust(cell) for i in panel))
        if start == 0:
            lines += _legend(report)
        for conformance_row in report.conformance:
            label = clip(clean(names[conformance_row.key]), label_width - 1)
            lines.append(label.ljust(label_width) + "".join(
                _search_cell(conformance_row.records[i]).rjust(cell)
                for i in panel))
    if incomplete:
        lines += wrap("INCOMPLETE search (not a pass): "
                      + "; ".join(incomplete), indent="  ",
                      subsequent="    ")
    for i, set_verdict in enumerate(report.verdicts):
        if set_verdict.failed:
            lines += wrap(f"{set_letter(i)} {set_verdict.describe()}",
                          indent="  ", subsequent="    ")
    return lines


def mutant_caught(record: dict) -> bool:
    """A seeded mutant's test caught it: it failed (expected or not; the
    run's rule, results/verdict.cc)."""
    return bool(record.get("mutant_of")) and record["outcome"] == "fail"


def short_names(keys, values_only: bool = False) -> dict:
    """TestKey -> its workload and only the parameters whose values differ
    between the keys of that workload: 'thread-pool binder=stays' rather
    than every default the record spells out."""
    by_workload = {}
    for key in keys:
        by_workload.setdefault(key.workload, []).append(key)
    names = {}
    for workload, members in by_workload.items():
        params = [k.params for k in members]
        varying = sorted({name for p in params for name in p
                          if len({repr(q.get(name)) for q in params}) > 1})
        for key in members:
            parts = [workload]
            for name in varying:
                value = key.params.get(name)
                if isinstance(value, bool):
                    value = "true" if value else "false"
                if values_only and isinstance(key.params.get(name), str):
                    parts.append(str(value))
                else:
                    parts.append(f"{name}={value}")
            names[key] = " ".join(parts)
    return names


def replay_command(record: dict) -> str | None:
    example = record.get("counterexample") or {}
    path = example.get("replay_file")
    return f"pasidbench check --replay {path}" if path else None


def _mutant_lines(report: Report | None, run_dir: str | None) -> list:
    """Two lines per mutant: what caught it, and its replay file (under
    $R, the run directory the header names, where the run wrote them)."""
    if report is None or not report.sets:
        return []
    lines = ["Seeded mutants, caught by (replay: pasidbench check --replay "
             "FILE)"]
    for result_set in report.sets:
        records = [r for r in result_set.tests.values()
                   if r["kind"] == "conformance"]
        caught = [r for r in records if mutant_caught(r)]
        if not caught:
            lines.append(clip(f"  {clean(result_set.label)} NOT CAUGHT by "
                              f"its {len(records)} test(s)", WIDTH))
            continue
        record = caught[0]
        example = record.get("counterexample") or {}
        what = example.get("violation", "violation")
        events = example.get("events")
        what = what.replace("_violation", "")
        lines.append(clip(clean(
            f"  {result_set.label}: {record['workload']}, {what}"
            + (f", {events} events" if events else "")), WIDTH))
        path = example.get("replay_file")
        if path:
            if run_dir and str(Path(path).parent) == run_dir:
                path = "$R/" + Path(path).name
            lines.append(clip(clean("    " + path), WIDTH))
    return lines


def _policy_lines(report: Report) -> list:
    if not report.metrics:
        return []
    by_test = {}
    for metric in report.metrics:
        by_test.setdefault(metric.key, {})[metric.metric] = metric
    lines = ["Policies: reference schedule (range over schedules), no tests"]
    lines.append("  " + "".join(
        heading.rjust(POLICY_CELL) for heading, _, _, _ in POLICY_MEASURES))
    names = short_names(by_test)
    sources = set()
    shown_any = False
    for key, metrics in by_test.items():
        if not any(name in metrics for _, wanted, _, _ in POLICY_MEASURES
                   for name in (wanted if isinstance(wanted, tuple)
                                else (wanted,))):
            continue
        shown_any = True
        lines.append(clip(clean(names[key]), WIDTH))
        for i, result_set in enumerate(report.sets):
            cells = []
            present = False
            for _, wanted, scale, _ in POLICY_MEASURES:
                texts = []
                for name in (wanted if isinstance(wanted, tuple)
                             else (wanted,)):
                    metric = metrics.get(name)
                    column = metric.columns[i] if metric else None
                    if column is None:
                        texts.append("-")
                        continue
                    present = True
                    texts.append(reference_and_range(column, scale))
                    if name == "modelled_overhead_ns" and column.note:
                        sources.add(column.note)
                cells.append("/".join(texts).rjust(POLICY_CELL))
            if present:
                lines.append(set_letter(i).ljust(2) + "".join(cells))
    if not shown_any:
        return []
    notes = [n for _, _, _, n in POLICY_MEASURES if n]
    if any("~" in line for line in lines):
        notes.append("~ range too wide")
    if sources:
        notes[notes.index("ovh modelled overhead us")] += (
            " (" + "; ".join(sorted(sources)) + ")")
    lines += wrap("; ".join(notes), indent="  ", subsequent="  ")
    return lines


def _kernel_metric(metrics: dict, workload: str):
    for name, metric in sorted(metrics.items()):
        if metric.unit == "ns" and KERNEL_METRIC.search(name):
            return metric
    return None


def _spread_text(column, mode: str) -> str:
    if mode == "deterministic":
        return (f"{_compact(column.summary.min)}-"
                f"{_compact(column.summary.max)}")
    return f"cv {column.summary.coeff_var:.1f}%"



def _kernel_lines(report: Report) -> list:
    by_test = {}
    for metric in report.metrics:
        by_test.setdefault(metric.key, {})[metric.metric] = metric
    chosen = []
    for key, metrics in by_test.items():
        metric = _kernel_metric(metrics, key.workload)
        if metric is not None:
            chosen.append(metric)
    if not chosen:
        return []
    count = len(report.sets)
    units = sorted({m.unit for m in chosen})
    samples = sorted({c.summary.n for m in chosen for c in m.columns
                      if c is not None})
    modes = {m.mode for m in chosen}
    lines = wrap(f"Kernel costs ({', '.join(units)}), median and spread; "
                 + " ".join(_legend(report)).strip()
                 + f"; samples per set: {', '.join(map(str, samples))}"
                 + ("; against A, *..* = significant" if count > 1
                    and modes == {"measured"} else ""), subsequent="  ")
    if "deterministic" in modes:
        lines += wrap("virtual time (icount): figures repeat to the "
                      "instruction; differences are shown as they are, "
                      "without noise statistics", indent="  ",
                      subsequent="  ")
    base_width, other_width = 17, 20
    label_width = WIDTH - base_width - other_width * (count - 1)
    if count > 1 and label_width >= 2:
        lines.append(" " * label_width + "A".rjust(base_width) + "".join(
            set_letter(i).rjust(other_width) for i in range(1, count)))
    names = short_names((m.key for m in chosen), values_only=True)
    for metric in chosen:
        head = clean(f"{metric.metric} {names[metric.key]}"
                     .replace("micro:", ""))
        stat_rows = row_model.stat_rows(report, metric)
        median_row = next(r for r in stat_rows if r.name == "Median")
        verdicts = stat_rows[-1].cells
        cells = []
        for i, column in enumerate(metric.columns):
            width = base_width if i == 0 else other_width
            if column is None:
                cells.append("missing".rjust(width))
                continue
            text = f"{column.summary.median:,.0f} "
            if i == 0:
                text += _spread_text(column, metric.mode)
            else:
                pct = median_row.cells[i].pct
                word = verdicts[i].text or ""
                text += (f"{pct:+.1f}% {word}" if pct is not None
                         and math.isfinite(pct) else word)
            if label_width < 2:
                text = f"{set_letter(i)} {text}"
            cells.append(clip(text, width - 1).rjust(width))
        if label_width < 2:
            # Too many kernels for one line: the label, then the cells in
            # lines of three.
            lines.append(clip(f"  {head}", WIDTH))
            for k in range(0, len(cells), 3):
                lines.append("  " + "".join(cells[k:k + 3]))
            continue
        if len(head) + 2 > label_width:
            lines.append(clip(f"  {head}", WIDTH))
            head = ""
        lines.append(f"  {head}".ljust(label_width) + "".join(cells))
    return lines


def _notice_lines(reports: list, mutant_report) -> list:
    """One line per thing the reader must know."""
    lines = []
    everything = reports + ([mutant_report] if mutant_report else [])
    for report in everything:
        for warning in report.warnings:
            lines += wrap("!! " + clean(warning), subsequent="   ")
    skips = {}
    for report in everything:
        for result_set in report.sets:
            for record in result_set.tests.values():
                if record["outcome"] == "skip":
                    reason = record.get("reason") or "no reason"
                    skips.setdefault(reason, []).append(
                        f"{record['workload']} ({result_set.label})")
    for reason, tests in skips.items():
        lines.append(clip(clean(f"SKIP {', '.join(tests)}: {reason}"),
                          WIDTH))
    noisy = []
    for report in reports:
        for metric in report.metrics:
            if metric.mode != "measured":
                continue
            if any(c is not None and c.summary.n > 1
                   and c.summary.coeff_var > report.cov_warn_pct
                   for c in metric.columns):
                noisy.append(metric.metric)
    if noisy:
        counts = {name: noisy.count(name) for name in dict.fromkeys(noisy)}
        lines += wrap(f"NOISY (cv above {reports[0].cov_warn_pct:g}%, too "
                      f"noisy to trust): " + ", ".join(
                          f"{n} x{c}" if c > 1 else n
                          for n, c in counts.items()), subsequent="  ")
    left = sum(len(r.left_out) for r in everything)
    if left:
        lines.append(f"{left} thing(s) left out of the report: see its "
                     f"footer")
    return lines


def _verdict_line(reports: list, mutant_report) -> str:
    failed = [f"{clean(r.sets[i].label)}" for r in reports
              for i, v in enumerate(r.verdicts) if v.failed]
    uncaught = []
    if mutant_report is not None:
        uncaught = [clean(s.label) for s in mutant_report.sets
                    if not any(mutant_caught(r) for r in s.tests.values())]
    if not failed and not uncaught:
        return "verdict: ok (every conformance test as expected, every " \
               "mutant caught)"
    parts = []
    if failed:
        parts.append("FAILED: " + ", ".join(failed))
    if uncaught:
        parts.append("mutant NOT CAUGHT: " + ", ".join(uncaught))
    return "verdict: " + "; ".join(parts)


def render(reports: list, mutant_report=None) -> str:
    from . import policy_kernels
    all_sets = [s for r in reports for s in r.sets]
    if mutant_report is not None:
        all_sets += mutant_report.sets
    sources = list(dict.fromkeys(str(s.path) for s in all_sets))
    revisions = sorted({s.first_test["provenance"].get(
        "pasidbench_revision", "?") for s in all_sets if s.first_test})
    run_dir = None
    if len(sources) == 1:
        run_dir = str(Path(sources[0]).parent)
        where = f"R={run_dir}"
        if Path(sources[0]).name != "results.jsonl":
            where += f" ({Path(sources[0]).name})"
    else:
        where = ", ".join(sources)
    lines = wrap(f"pasidbench summary: {where} (revision "
                 f"{', '.join(revisions)})", subsequent="  ")
    lines += wrap(_verdict_line(reports, mutant_report), subsequent="  ")
    sections = []
    for report in reports:
        if report.sets and report.sets[0].is_model:
            sections.append(_conformance_lines(report))
    sections.append(_mutant_lines(mutant_report, run_dir))
    for report in reports:
        if report.sets and report.sets[0].is_model:
            sections.append(_policy_lines(report))
        else:
            # Policies on kernel builds (pasidlab.ko) answer with their own
            # table; a kernel's generic costs per policy set would repeat
            # the same benchmarks eight times.
            policy_lines = policy_kernels.lines(report.sets)
            sections.append(policy_lines or _kernel_lines(report))
            sections.append(_conformance_lines(report))
    sections.append(_notice_lines(reports, mutant_report))
    # Sections start unindented, their lines are indented: no blank lines,
    # so that the whole fits a screen.
    for section in sections:
        lines += section
    footer = ("-- details: the full report (report.txt, report.html) --",)
    if len(lines) + len(footer) > MAX_LINES:
        cut = len(lines) + len(footer) - MAX_LINES + 1
        lines = lines[:MAX_LINES - len(footer) - 1] + [
            f"({cut} more summary lines cut)"]
    lines += footer
    return "\n".join(line.rstrip() for line in lines).rstrip("\n") + "\n"
