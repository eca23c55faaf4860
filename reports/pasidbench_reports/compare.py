"""Line up result sets: per test and metric, summaries and comparisons
against the baseline (the first set), plus conformance outcomes.

The Report built here is what table, plots and html render; none of them
reads result records directly except for pieces of text they show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import load, outcomes, stats

SET_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def set_letter(index: int) -> str:
    if index < len(SET_LETTERS):
        return SET_LETTERS[index]
    return f"S{index + 1}"


@dataclass
class SetMetric:
    """One set's samples of one metric, and how they compare to baseline."""
    samples: list
    summary: stats.Summary
    comparison: stats.Comparison | None   # None for the baseline column
    note: str = ""
    from_value_only: bool = False         # no samples array: one value

    @property
    def too_few_samples(self) -> bool:
        return self.summary.n < stats.RECOMMENDED_SAMPLES


@dataclass
class MetricRow:
    key: load.TestKey
    metric: str
    unit: str
    better: str
    central: str                          # "Amean" or "Hmean"
    columns: list                         # per set: SetMetric or None
    # measured (samples: tested), counted (model counts over schedules:
    # reference and range) or deterministic (virtual time): see rows.py
    mode: str = "measured"
    notes: list = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.metric} ({self.key.describe()})"


@dataclass
class ConformanceRow:
    key: load.TestKey
    records: list                         # per set: test record or None


@dataclass
class SetVerdict:
    """What one set's conformance records add up to (results/verdict.cc):
    counts per verdict, and the seeded mutants no test of the set caught."""
    counts: dict                          # verdict -> number of records
    uncaught: list                        # uncaught mutants (policies)

    @property
    def failed(self) -> bool:
        return bool(self.counts.get("failed") or self.uncaught)

    def describe(self) -> str:
        order = (("passed", "passed"), ("failed", "failed"),
                 ("skipped", "skipped"), ("xfail", "failed as expected"),
                 ("caught", "caught the seeded mutant"),
                 ("not-caught", "did not catch it"))
        parts = [f"{self.counts[k]} {words}" for k, words in order
                 if self.counts.get(k)]
        text = ", ".join(parts) or "no conformance records"
        if self.uncaught:
            text += "; seeded mutant caught by NO test: " + ", ".join(
                self.uncaught)
        return ("FAIL: " if self.failed else "ok: ") + text


def set_verdict(records: list) -> SetVerdict:
    counts, mutants = {}, {}
    for record in records:
        if record is None:
            continue
        v = outcomes.verdict(record)
        counts[v] = counts.get(v, 0) + 1
        if record.get("mutant_of"):
            name = record.get("policy") or record["backend"]
            mutants[name] = mutants.get(name, False) or \
                record["outcome"] == "fail"
    return SetVerdict(counts, sorted(b for b, c in mutants.items() if not c))


@dataclass
class Report:
    sets: list                            # ResultSets, baseline first
    alpha: float
    cov_warn_pct: float
    resamples: int
    metrics: list = field(default_factory=list)
    conformance: list = field(default_factory=list)
    verdicts: list = field(default_factory=list)   # per set: SetVerdict
    warnings: list = field(default_factory=list)   # shown at the top
    left_out: list = field(default_factory=list)   # shown in the footer
    selection_note: str = ""              # what --changes-only hid
    title: str = ""                       # what the sets are: "Policies"...
    conformance_only: bool = False        # seeded mutants: no metrics

    def significant_metrics(self) -> list:
        """The metric rows where some set differs from A: significantly
        for measurements, at all for exact values (rows.changed)."""
        from . import rows
        return [row for row in self.metrics if rows.changed(self, row)]

    @property
    def baseline(self):
        return self.sets[0]

    def letter(self, index: int) -> str:
        return set_letter(index)


def _samples_of(metric: dict) -> tuple:
    samples = metric.get("samples") or []
    if samples:
        return list(samples), False
    return [metric["value"]], True


def _usable(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _provenance_warnings(sets: list) -> list:
    warnings = []
    letters = {id(s): set_letter(i) for i, s in enumerate(sets)}
    emulated = [letters[id(s)] for s in sets if s.emulated]
    bare = [letters[id(s)] for s in sets if not s.emulated and not s.is_model]
    if emulated:
        warnings.append(
            f"EMULATED: {', '.join(emulated)} measured in an emulated VM "
            f"(TCG): emulator numbers, not hardware numbers.")
    if emulated and bare:
        warnings.append(
            f"MIXED: this compares emulated ({', '.join(emulated)}) with "
            f"bare-metal ({', '.join(bare)}) sets; their differences are "
            f"mostly the emulator, not the kernel.")
    virtual = [letters[id(s)] for s in sets if "virtual-icount" in s.time_bases]
    if virtual:
        warnings.append(
            f"VIRTUAL TIME: {', '.join(virtual)} timed by instruction count "
            f"(icount), not wall clock.")
    bases = {tuple(s.time_bases) for s in sets}
    if len(bases) > 1:
        listed = "; ".join(f"{letters[id(s)]}: {', '.join(s.time_bases)}"
                           for s in sets)
        warnings.append(f"MIXED CLOCKS: sets were timed differently ({listed});"
                        f" compare their times with care.")
    return warnings


def _measured(record: dict) -> bool:
    return record["outcome"] in load.MEASURED_OUTCOMES


def build_report(sets: list, alpha: float = stats.DEFAULT_ALPHA,
                 cov_warn_pct: float = 5.0,
                 resamples: int = stats.DEFAULT_BOOTSTRAP_RESAMPLES,
                 conformance_only: bool = False) -> Report:
    """conformance_only: sets that are not compared with each other (the
    seeded mutants, each run on its own tests): their conformance grid and
    verdicts only."""
    report = Report(sets=sets, alpha=alpha, cov_warn_pct=cov_warn_pct,
                    resamples=resamples, conformance_only=conformance_only)
    report.warnings.extend(_provenance_warnings(sets))
    for result_set in sets:
        report.left_out.extend(result_set.problems)

    all_keys = sorted({k for s in sets for k in s.tests}, key=_key_order)
    for key in all_keys:
        records = [s.tests.get(key) for s in sets]
        absent = [set_letter(i) for i, r in enumerate(records) if r is None]
        if absent and not conformance_only:
            report.left_out.append(
                f"test {key.describe()!r} is not in {', '.join(absent)}")
        for i, record in enumerate(records):
            if record is not None and not _measured(record) and \
                    record["metrics"] and not conformance_only:
                why = record.get("reason") or record["outcome"]
                report.left_out.append(
                    f"{set_letter(i)}: {key.describe()!r} ended "
                    f"'{record['outcome']}' ({why}); its metrics are left out")
        if any(r is not None and r["kind"] == "conformance" for r in records):
            report.conformance.append(ConformanceRow(key, records))
        if conformance_only:
            continue
        usable = [r if r is not None and _measured(r) else None
                  for r in records]
        metric_names = sorted({m for r in usable if r for m in r["metrics"]})
        for name in metric_names:
            report.metrics.append(
                _metric_row(report, key, name, usable))
    if report.conformance:
        report.verdicts = [set_verdict([row.records[i]
                                        for row in report.conformance])
                           for i in range(len(sets))]
        for i, verdict in enumerate(report.verdicts):
            if verdict.uncaught:
                report.warnings.append(
                    f"UNCAUGHT MUTANT: {set_letter(i)}: "
                    f"{', '.join(verdict.uncaught)} failed none of its "
                    f"conformance tests: the suite did not catch it.")
    return report


def _key_order(key: load.TestKey):
    # Numeric parameters sort as numbers, so 2 CPUs come before 16.
    params = []
    for name, value in sorted(key.params.items()):
        if isinstance(value, bool):
            params.append((name, 0, str(value)))
        elif isinstance(value, (int, float)):
            params.append((name, 1, f"{float(value):030.9f}"))
        else:
            params.append((name, 2, str(value)))
    return (key.workload, params)


def _metric_row(report: Report, key, name: str, records: list) -> MetricRow:
    title = f"{name} ({key.describe()})"
    metrics = [r["metrics"].get(name) if r else None for r in records]
    reference = next(m for m in metrics if m is not None)
    unit, better = reference["unit"], reference["better"]

    columns = []
    mismatched, missing, single, unusable, row_notes = [], [], [], [], []
    for i, metric in enumerate(metrics):
        if metric is None:
            if records[i] is not None:   # test there, this metric not
                missing.append(set_letter(i))
            columns.append(None)
            continue
        if (metric["unit"], metric["better"]) != (unit, better):
            mismatched.append(f"{set_letter(i)} ({metric['unit']}, "
                              f"{metric['better']} is better)")
            columns.append(None)
            continue
        samples, value_only = _samples_of(metric)
        usable = [float(v) for v in samples if _usable(v)]
        if len(usable) < len(samples):
            dropped = len(samples) - len(usable)
            if value_only and metric.get("value") is None:
                what = "no value: " + (metric.get("note") or "not measured")
            else:
                what = f"{dropped} of {len(samples)} values not finite numbers"
            if not usable:
                unusable.append(f"{set_letter(i)} ({what})")
                columns.append(None)
                continue
            row_notes.append(f"{set_letter(i)}: {what}; left out of its "
                             f"statistics")
            samples = usable
        summary = stats.summarize(samples)
        if not all(math.isfinite(v) for v in (summary.amean, summary.min,
                                              summary.max)):
            unusable.append(f"{set_letter(i)} (values too large to "
                            f"summarise)")
            columns.append(None)
            continue
        if summary.n == 1:
            single.append(set_letter(i))
        columns.append(SetMetric(samples=samples, summary=summary,
                                 comparison=None,
                                 note=metric.get("note", ""),
                                 from_value_only=value_only))

    baseline = columns[0]
    present = [report.sets[i] for i, c in enumerate(columns) if c is not None]
    mode = "measured"
    if present and all(s.is_model for s in present):
        mode = "counted"
    elif present and all(s.time_bases == ["virtual-icount"] for s in present):
        mode = "deterministic"
    seed = stats.stable_seed(title)
    for i, column in enumerate(columns[1:], start=1):
        if column is not None and baseline is not None and \
                mode == "measured":
            column.comparison = stats.compare_samples(
                baseline.samples, column.samples, better, alpha=report.alpha,
                resamples=report.resamples, seed=seed + i)

    summaries = [c.summary for c in columns if c is not None]
    central = "Amean"
    if stats.is_rate(unit):
        if all(not math.isnan(s.hmean) for s in summaries):
            central = "Hmean"
    row = MetricRow(key=key, metric=name, unit=unit, better=better,
                    central=central, columns=columns, mode=mode)
    row.notes.extend(row_notes)
    if unusable:
        row.notes.append("no usable value in " + ", ".join(unusable))
        report.left_out.append(
            f"metric {title}: no usable value in {'; '.join(unusable)}")
    for note in row_notes:
        report.left_out.append(f"metric {title}: {note}")
    if stats.is_rate(unit) and central == "Amean":
        row.notes.append("Hmean undefined (a sample <= 0); Amean shown")
    if missing:
        report.left_out.append(
            f"metric {title}: missing from {', '.join(missing)}")
    if baseline is None:
        row.notes.append("not in the baseline: no changes computed")
    if mismatched:
        report.left_out.append(
            f"metric {title}: unit or direction differs from {unit}, "
            f"{better} is better in {'; '.join(mismatched)}; those left out")
    if single and mode == "measured":
        report.left_out.append(
            f"metric {title}: a single sample in {', '.join(single)}; "
            f"shown without spread or significance test")
    return row
