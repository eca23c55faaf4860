"""The statistic rows of one metric block, built once: what the mail
table, the mmtests rows and the HTML page show for a metric, as values,
changes against A and words. Those modules only format these rows.

Which rows a block has depends on what its numbers are (MetricRow.mode):

- measured: samples of a measurement (host, lab on real time): Min,
  Amean/Hmean, Median, Stddev, CoeffVar, Max, the U test's p, the bootstrap
  interval of the shift and the verdict;
- counted: counts over the schedules a model search explored. Schedules
  are enumerated, not drawn at random, so no test applies: the value in the
  reference schedule, the range over the explored ones, and the change of
  the reference value;
- deterministic: runs timed in virtual time (icount), which repeat to the
  instruction: Median, Min, Max and the change, without noise statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import stats
from .compare import MetricRow, Report, set_letter


@dataclass
class StatCell:
    value: float | None = None   # a number, formatted by the renderer
    pct: float | None = None     # change against A, + is better
    marked: bool = False         # a significant change (measured only)
    text: str | None = None      # a word or ready text instead of a number
    high: float | None = None    # with value: a pair (Q1/Q3, an interval)
    css: str = ""                # better, worse, changed (the HTML colours)


@dataclass
class StatRow:
    name: str
    cells: list = field(default_factory=list)   # one StatCell per set
    numeric: bool = True         # value (pct) cells; else text cells
    location: bool = True        # shares decimals with the location rows
    detail: bool = False         # HTML only (quartiles)
    count: bool = False          # a count per set (samples, schedules)


def _value_row(name, metric: MetricRow, get, better, marks=False,
               location=True) -> StatRow:
    base = metric.columns[0]
    base_value = get(base) if base is not None else None
    out = StatRow(name, location=location)
    for i, column in enumerate(metric.columns):
        if column is None:
            out.cells.append(StatCell(text="missing"))
            continue
        value = get(column)
        pct = None
        if base is not None:
            pct = 0.0 if i == 0 else stats.percent_change(base_value, value,
                                                          better)
        comparison = column.comparison
        marked = bool(marks and comparison is not None
                      and comparison.significant)
        out.cells.append(StatCell(value=value, pct=pct, marked=marked,
                                  css=comparison.verdict if marked else ""))
    return out


def _text_row(name, metric: MetricRow, get) -> StatRow:
    out = StatRow(name, numeric=False)
    for i, column in enumerate(metric.columns):
        out.cells.append(StatCell(text="missing") if column is None
                         else get(i, column))
    return out


def _measured_rows(report: Report, metric: MetricRow) -> list:
    central = metric.central
    rows = [
        _value_row("Min", metric, lambda c: c.summary.min, metric.better),
        _value_row(central, metric,
                   lambda c: stats.central_value(c.summary, central),
                   metric.better, marks=True),
        _value_row("Median", metric, lambda c: c.summary.median,
                   metric.better, marks=True),
        _value_row("Stddev", metric, lambda c: c.summary.stddev, "lower",
                   location=False),
        _value_row("CoeffVar", metric, lambda c: c.summary.coeff_var,
                   "lower", location=False),
        _value_row("Max", metric, lambda c: c.summary.max, metric.better),
    ]
    quartiles = _text_row("Q1 / Q3", metric, lambda i, c: StatCell(
        value=c.summary.q1, high=c.summary.q3))
    quartiles.detail = True
    rows.append(quartiles)
    samples = _text_row("Samples", metric,
                        lambda i, c: StatCell(text=str(c.summary.n)))
    samples.count = True
    rows.append(samples)

    def tested(word_for):
        def get(i, column):
            comparison = column.comparison
            if i == 0:
                return StatCell(text="baseline" if word_for == "verdict"
                                else "-")
            if comparison is None:
                return StatCell(text="n/a")
            return word_for_cell(word_for, comparison)
        return get

    level = round((1 - report.alpha) * 100)
    rows.append(_text_row("U-test p", metric, tested("p")))
    rows.append(_text_row(f"CI{level}", metric, tested("ci")))
    rows.append(_text_row("Verdict", metric, tested("verdict")))
    return rows


def word_for_cell(what: str, comparison: stats.Comparison) -> StatCell:
    if what == "p":
        p = comparison.p_value
        return StatCell(text="-" if p is None else
                        "<0.0001" if p < 0.0001 else f"{p:.4f}")
    if what == "ci":
        if comparison.ci_low is None or comparison.ci_high is None:
            return StatCell(text="-")
        return StatCell(value=comparison.ci_low, high=comparison.ci_high)
    verdict = comparison.verdict
    significant = comparison.significant
    return StatCell(text=f"*{verdict}*" if significant else verdict,
                    css=verdict if significant else "noise")


def plain_verdict(base_value, value, better: str) -> str:
    """better, worse, changed or same: a difference of two exact values."""
    if base_value is None or value is None:
        return "n/a"
    if abs(value - base_value) <= 1e-9 * max(1.0, abs(base_value)):
        return "same"
    if better == "none":
        return "changed"
    lower = value < base_value
    return "better" if lower == (better == "lower") else "worse"


def _exact_rows(metric: MetricRow, first: str, get_first, count_name: str
                ) -> list:
    rows = [_value_row(first, metric, get_first, metric.better),
            _value_row("Min", metric, lambda c: c.summary.min, metric.better),
            _value_row("Max", metric, lambda c: c.summary.max, metric.better),
            _text_row(count_name, metric,
                      lambda i, c: StatCell(text=str(c.summary.n)))]
    rows[-1].count = True
    base = metric.columns[0]

    def verdict(i, column):
        if i == 0:
            return StatCell(text="baseline")
        if base is None:
            return StatCell(text="n/a")
        word = plain_verdict(get_first(base), get_first(column),
                             metric.better)
        return StatCell(text=word, css="" if word == "same" else word)

    rows.append(_text_row("Verdict", metric, verdict))
    return rows


def stat_rows(report: Report, metric: MetricRow) -> list:
    """The rows of one metric block, in order."""
    if metric.mode == "counted":
        return _exact_rows(metric, "Ref",
                           lambda c: c.samples[0], "Scheds")
    if metric.mode == "deterministic":
        return _exact_rows(metric, "Median", lambda c: c.summary.median,
                           "Samples")
    return _measured_rows(report, metric)


def changed(report: Report, metric: MetricRow) -> bool:
    """Some set differs from A: significantly (measured), or at all (exact
    values: counted, deterministic)."""
    verdicts = stat_rows(report, metric)[-1].cells[1:]
    if metric.mode == "measured":
        return any(c.text and c.text.startswith("*") for c in verdicts)
    return any(c.text in ("better", "worse", "changed") for c in verdicts)


def metric_notes(report: Report, metric: MetricRow) -> list:
    """Warnings and notes for one metric, as unwrapped sentences. The
    sample warnings (noise, too few samples) concern measurements only."""
    notes = []
    present = [(set_letter(i), c) for i, c in enumerate(metric.columns)
               if c is not None]
    if metric.mode == "measured":
        noisy = [(letter, c.summary.coeff_var) for letter, c in present
                 if c.summary.coeff_var > report.cov_warn_pct]
        if noisy:
            notes.append(
                f"! {', '.join(l for l, _ in noisy)}: CoeffVar above "
                f"{report.cov_warn_pct:g}% ("
                + ", ".join(f"{v:.1f}%" for _, v in noisy)
                + "): too noisy to trust")
        single = [letter for letter, c in present if c.summary.n == 1]
        if single:
            notes.append(f"! {', '.join(single)}: a single sample: no "
                         f"spread, no significance test")
        few = [(letter, c.summary.n) for letter, c in present
               if 1 < c.summary.n < stats.RECOMMENDED_SAMPLES]
        if few:
            notes.append(
                f"! {', '.join(l for l, _ in few)}: fewer than "
                f"{stats.RECOMMENDED_SAMPLES} samples ("
                + ", ".join(str(n) for _, n in few)
                + "): the test has little power")
    for letter, column in present:
        if column.note:
            notes.append(f"note {letter}: {column.note}")
    notes.extend(f"note: {text}" for text in metric.notes)
    return notes
