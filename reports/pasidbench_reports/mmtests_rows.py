"""The comparison in mmtests' own row layout, for scripts written against
compare-mmtests.pl's output: one row per (statistic, operation), the
statistic first and the operation (here: metric and parameters) on every
row, so `grep ^Amean` finds every mean. Rows may be wider than 72 columns,
as mmtests' are.

Which cells are marked *x.xx%* is a choice:
- "utest" (default): this report's own rule (U test and bootstrap interval,
  docs/reports.md), marked on the Amean/Hmean row only;
- "mmtests": mmtests' rule (bin/lib/MMTests/Compare.pm and Stat.pm): each
  set's interval is mean +- qnorm(1 - alpha/2) * stddev with alpha 0.05 (the
  spread of the samples, not of the mean; for Hmean the harmonic stddev
  sqrt(sum((1/x - 1/H)^2) * H^4 / n)), and a change is significant when the
  two intervals do not overlap, marked on the Amean/Hmean row only.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from . import rows as row_model
from . import stats
from .compare import Report, MetricRow, set_letter
from .table import choose_decimals, format_pct, format_value
from .text import clean

STAT_WIDTH = 10      # "CoeffVar  "
FIELD_WIDTH = 12     # mmtests' default FieldLength
MMTESTS_ALPHA = 0.05  # Summarise.pm's fixed alpha
MARKINGS = ("utest", "mmtests")


def operation(metric: MetricRow) -> str:
    """'ctxsw_ns-micro:context-switch,mechanism=pipe,...': no spaces, so
    that awk's fields line up as in mmtests' tables."""
    params = ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                      for k, v in sorted(metric.key.params.items()))
    return clean(f"{metric.metric}-{metric.key.workload}"
                 + (f",{params}" if params else "")).replace(" ", "_")


def _mmtests_interval(samples: list, central: str):
    """(low, high) as mmtests' _calc_meanci, or None when undefined."""
    n = len(samples)
    if n < 2:
        return None
    if central == "Hmean":
        if any(x <= 0 for x in samples):
            return None
        mean = n / sum(1 / x for x in samples)
        stddev = math.sqrt(sum((1 / x - 1 / mean) ** 2 for x in samples)
                           * mean ** 4 / n)
    else:
        mean = sum(samples) / n
        stddev = math.sqrt(sum((x - mean) ** 2 for x in samples) / (n - 1))
    q = NormalDist(0, stddev).inv_cdf(1 - MMTESTS_ALPHA / 2) if stddev > 0 else 0.0
    return mean - q, mean + q


def mmtests_significant(base_samples, samples, central) -> bool:
    """Stat.pm's cidiff: the difference of the means over the two
    intervals' half-widths that face each other; |ratio| > 1 marks it."""
    a = _mmtests_interval(base_samples, central)
    b = _mmtests_interval(samples, central)
    if a is None or b is None:
        return False
    base, new = (a[0] + a[1]) / 2, (b[0] + b[1]) / 2
    diff = new - base
    facing = (b[1] - new + base - a[0]) if new < base else (new - b[0] + a[1] - base)
    ratio = diff if facing == 0 else diff / facing
    return abs(ratio) > 1


def _header(report: Report, op_width: int) -> list:
    lead = " " * (STAT_WIDTH + op_width)
    tops, bottoms = [], []
    width = FIELD_WIDTH + 11
    for i, result_set in enumerate(report.sets):
        name = clean(result_set.label).replace(" ", "_")
        head, sep, tail = name.partition("-")
        top, bottom = (head, tail) if sep else ("", name)
        tops.append(f"{set_letter(i)} {top}"[:width - 1].rjust(width))
        bottoms.append(bottom[:width - 1].rjust(width))
    return [(lead + "".join(tops)).rstrip(), (lead + "".join(bottoms)).rstrip()]


MMTESTS_STATS = ("Min", "central", "Stddev", "CoeffVar", "Max")


def _rows(report: Report, metric: MetricRow, op: str, op_width: int,
          marking: str) -> list:
    """mmtests' statistics, taken from the metric's rows (rows.py); only
    the marking of the central row may follow mmtests' rule instead."""
    base = metric.columns[0]
    by_name = {r.name: r for r in row_model.stat_rows(report, metric)}
    wanted = [metric.central if n == "central" else n for n in MMTESTS_STATS]
    if metric.mode == "counted":
        wanted = ["Ref", "Min", "Max"]
    elif metric.mode == "deterministic":
        wanted = ["Median", "Min", "Max"]
    chosen = [by_name[n] for n in wanted]
    decimals = choose_decimals([c.value for r in chosen if r.location
                                for c in r.cells if c.text is None])
    lines = []
    for stat_row in chosen:
        text = stat_row.name.ljust(STAT_WIDTH) + op.ljust(op_width)
        for i, stat_cell in enumerate(stat_row.cells):
            column = metric.columns[i]
            if stat_cell.text is not None:
                text += "missing".rjust(FIELD_WIDTH) + " " + format_pct(None)
                continue
            places = 2 if stat_row.name == "CoeffVar" else decimals
            marked = stat_cell.marked
            if (marking == "mmtests" and stat_row.name == metric.central
                    and i > 0 and base is not None):
                marked = mmtests_significant(base.samples, column.samples,
                                             metric.central)
            text += (format_value(stat_cell.value, places).rjust(FIELD_WIDTH)
                     + " " + format_pct(stat_cell.pct, marked))
        lines.append(text.rstrip())
    return lines


def render(report: Report, marking: str = "utest") -> str:
    if marking not in MARKINGS:
        raise ValueError(f"marking must be one of {', '.join(MARKINGS)}")
    ops = [operation(m) for m in report.metrics]
    op_width = max([len(o) for o in ops] + [10]) + 2
    rule = ("mmtests' rule: the mean +- qnorm(0.975) x stddev intervals do "
            "not overlap" if marking == "mmtests" else
            f"{stats.TEST_METHOD}, p < {report.alpha:g}, and the "
            f"{stats.CI_METHOD} excludes 0")
    lines = [f"# pasidbench comparison in mmtests rows: "
             + ", ".join(f"{set_letter(i)}={clean(s.label)}"
                         for i, s in enumerate(report.sets))
             + "; A is the baseline, + is better in every row",
             f"# *x%* on the Amean/Hmean row = significant by {rule}"]
    lines += _header(report, op_width)
    for metric, op in zip(report.metrics, ops):
        lines += _rows(report, metric, op, op_width, marking)
    for problem in report.left_out:
        lines.append(f"# left out: {clean(problem)}")
    return "\n".join(lines) + "\n"
