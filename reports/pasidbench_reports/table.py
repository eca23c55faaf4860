"""The plain-text comparison table for mail: fixed width, <= 72 columns.

Shaped like mmtests' compare-kernels output, which kernel developers read
already: one column per kernel (or policy), the baseline at 0.00 %, every
other cell's change in percent where + is better, significant changes
written *x.xx%* instead of (x.xx%). Metric and parameters go on a heading
line above each block rather than in every row, to stay within 72 columns;
when more sets are given than fit side by side, the table is printed in
panels that each repeat the baseline.
"""

from __future__ import annotations

import math

from . import rows as row_model
from . import stats
from .compare import Report, MetricRow, set_letter
from .environment import ENV_KEYS, environment_summary, environment_value  # noqa: F401
from .outcomes import OUTCOME_TEXT, is_expected, outcome_text, verdict  # noqa: F401
from .text import WIDTH, clean, clip, wrap  # noqa: F401

LABEL_WIDTH = 8
VALUE_WIDTH = 9
PCT_WIDTH = 7
# " " value " (" pct "%)"
CELL_WIDTH = 1 + VALUE_WIDTH + 2 + PCT_WIDTH + 2
SETS_PER_PANEL = (WIDTH - LABEL_WIDTH) // CELL_WIDTH
OUTCOME_WIDTH = 11
TRACE_LINES_SHOWN = 6
ENV_VALUE_MAX = 120


# ---------------------------------------------------------------- numbers

def choose_decimals(values) -> int | None:
    """Decimals that give the smallest non-zero value three significant
    digits (at least 2 decimals, as mmtests prints) while every value fits
    VALUE_WIDTH; None means use exponent notation."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    smallest = min((abs(v) for v in finite if v != 0), default=1.0)
    decimals = min(6, max(2, 2 - math.floor(math.log10(smallest))))
    while decimals >= 0:
        if all(len(f"{v:.{decimals}f}") <= VALUE_WIDTH for v in finite):
            return decimals
        decimals -= 1
    return None


def format_value(value, decimals) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-".rjust(VALUE_WIDTH)
    if decimals is None:
        return f"{value:.2e}".rjust(VALUE_WIDTH)
    return f"{value:.{decimals}f}".rjust(VALUE_WIDTH)


def format_pct(pct, significant: bool = False) -> str:
    """'(  -5.35%)', or '* -5.35%*' when significant; always 10 columns."""
    if pct is None or not math.isfinite(pct):
        return "(" + "n/a".rjust(PCT_WIDTH) + " )"
    for decimals in (2, 1, 0):
        if round(pct, decimals) == 0:
            pct = 0.0  # no "-0.00%"
        text = f"{pct:{PCT_WIDTH}.{decimals}f}"
        if len(text) <= PCT_WIDTH:
            break
    else:
        text = f"{pct:{PCT_WIDTH}.0e}"
    return ("*" + text + "%*") if significant else ("(" + text + "%)")


def format_p(p) -> str:
    if p is None:
        return "-"
    return "<0.0001" if p < 0.0001 else f"{p:.4f}"


def format_ci(low, high) -> str:
    if low is None or high is None:
        return "-"
    for decimals in (2, 1, 0):
        low, high = (0.0 if round(v, decimals) == 0 else v
                     for v in (low, high))
        text = f"[{low:+.{decimals}f}, {high:+.{decimals}f}]"
        if len(text) <= CELL_WIDTH - 1:
            return text
    return "[wide]"


def cell(value_text: str, pct_text: str = "") -> str:
    return " " + value_text.rjust(VALUE_WIDTH) + " " + pct_text.ljust(
        PCT_WIDTH + 3)


def whole_cell(text: str) -> str:
    """A cell holding one right-aligned item (p-value, CI, verdict)."""
    return " " + clip(text, CELL_WIDTH - 1).rjust(CELL_WIDTH - 1)


def row(label: str, cells: list) -> str:
    return (label.ljust(LABEL_WIDTH) + "".join(cells)).rstrip()


# ---------------------------------------------------------------- header

def _set_lines(report: Report) -> list:
    lines = []
    for i, result_set in enumerate(report.sets):
        role = " (baseline)" if i == 0 else ""
        lines += wrap(f"{set_letter(i)}  {result_set.label}{role}")
        kernel, machine = result_set.kernel, result_set.machine
        facts = []
        if result_set.is_model:
            facts.append("model backend: " + ", ".join(result_set.backends))
        else:
            facts.append(f"kernel {kernel.get('name', '?')}")
            facts.append(f"release {kernel.get('release', '?')}")
            facts.append(f"build {kernel.get('build_id', '?')}")
            if kernel.get("policy"):
                facts.append(f"policy {kernel['policy']}")
        host = machine.get("hostname", "?")
        if machine.get("cpu_model"):
            host += f" ({machine['cpu_model']})"
        facts.append(f"on {host}")
        if result_set.emulated:
            facts.append("EMULATED (TCG)")
        facts.append("time: " + ", ".join(result_set.time_bases))
        count = len(result_set.tests)
        facts.append(f"{count} test{'s' if count != 1 else ''} from "
                     f"{result_set.source}")
        lines += wrap("  ".join(facts), indent="     ")
    return lines


LEGEND_COUNTED = (
    "Per metric: Ref, the value in the reference schedule, and Min and Max "
    "over the explored schedules (Scheds), each with (x%) its change "
    "against A, where + is better. These are counts over schedules a "
    "search enumerated, not random samples: no significance test applies; "
    "Verdict compares the reference values.")
LEGEND_DETERMINISTIC = (
    "Per metric: Median, Min and Max of each set and (x%) its change "
    "against A, where + is better. Timed in virtual time (icount), runs "
    "repeat to the instruction: differences are shown as they are, without "
    "noise statistics.")


def _legend(report: Report) -> list:
    modes = {m.mode for m in report.metrics}
    lines = []
    if "counted" in modes:
        lines += wrap(LEGEND_COUNTED)
    if "deterministic" in modes:
        lines += wrap(LEGEND_DETERMINISTIC)
    if modes and "measured" not in modes:
        return lines
    level = round((1 - report.alpha) * 100)
    text = (
        f"Per metric: Min, Amean (Hmean for rates), Median, Stddev, CoeffVar"
        f" (%), Max of each set, and (x%) its change against A, where + is"
        f" better in every row. *x%* = significant: {stats.TEST_METHOD}, "
        f"p < {report.alpha:g}, and the {stats.CI_METHOD} ({level}%, "
        f"{report.resamples} resamples; row CI{level}) excludes 0. noise ="
        f" not significant. Warnings: CoeffVar over "
        f"{report.cov_warn_pct:g}%, fewer than {stats.RECOMMENDED_SAMPLES}"
        f" samples.")
    return lines + wrap(text)


def _environment_lines(report: Report) -> list:
    lines = ["Environment"]
    for key in ENV_KEYS:
        values = [environment_summary(s.environment, key)
                  for s in report.sets]
        if all(v is None for v in values):
            continue
        label = f"  {key:<12} "
        if len(set(values)) == 1:
            text = "(all) " + clip(clean(values[0]), ENV_VALUE_MAX)
        else:
            text = "  ".join(f"{set_letter(i)}: "
                             + clip(clean(v if v is not None else "?"),
                                    ENV_VALUE_MAX)
                             for i, v in enumerate(values))
        lines += wrap(text, indent=label, subsequent=" " * len(label))
    if len(lines) == 1:
        lines.append("  (no environment records)")
    return lines


# ---------------------------------------------------------------- benchmarks

def _header_lines(report: Report, panel: list) -> list:
    letters, tops, bottoms = [], [], []
    for i in panel:
        name = clean(report.sets[i].label)
        room = CELL_WIDTH - 1
        # mmtests splits "6.10.0-vanilla" into version over variant; names
        # that are not versions (policies) stay whole when they fit.
        head, sep, tail = name.partition("-")
        splits = sep and (name[:1].isdigit() or len(name) > room)
        if splits and len(head) <= room and len(tail) <= room:
            top, bottom = head, tail
        else:
            top, bottom = "", clip(name, room)
        letters.append(whole_cell(set_letter(i)))
        tops.append(whole_cell(top))
        bottoms.append(whole_cell(bottom))
    lines = [row("", letters), row("", tops), row("", bottoms)]
    return [line for line in lines if line]


def _text_cell(stat_cell) -> str:
    if stat_cell.text is not None:
        return whole_cell(stat_cell.text)
    return whole_cell(format_ci(stat_cell.value, stat_cell.high))


def _stat_rows(report: Report, metric: MetricRow, panel: list) -> list:
    """Formats the metric's rows (rows.stat_rows) for the columns of one
    panel; spread rows take the decimals of the location rows, so that a
    tiny stddev cannot push the values out of their columns."""
    stat_rows = [r for r in row_model.stat_rows(report, metric)
                 if not r.detail]
    shown = [c.value for r in stat_rows if r.numeric and r.location
             for c in r.cells if c.text is None]
    decimals = choose_decimals(shown)
    lines = []
    for stat_row in stat_rows:
        cells = []
        for i in panel:
            stat_cell = stat_row.cells[i]
            if stat_row.count:
                cells.append(cell(stat_cell.text))
            elif not stat_row.numeric:
                cells.append(_text_cell(stat_cell))
            elif stat_cell.text is not None:
                cells.append(cell(stat_cell.text))
            else:
                places = 2 if stat_row.name == "CoeffVar" else decimals
                cells.append(cell(format_value(stat_cell.value, places),
                                  format_pct(stat_cell.pct,
                                             stat_cell.marked)))
        lines.append(row(stat_row.name, cells))
    return lines


def metric_notes(report: Report, metric: MetricRow) -> list:
    return row_model.metric_notes(report, metric)


def _metric_note_lines(report: Report, metric: MetricRow) -> list:
    lines = []
    for note in metric_notes(report, metric):
        lines += wrap(note, indent="  ", subsequent="    ")
    return lines


def _direction_text(better: str) -> str:
    return {"lower": "lower is better", "higher": "higher is better"}.get(
        better, "no better direction: raw change")


def _benchmark_lines(report: Report) -> list:
    if not report.metrics:
        return ["Benchmarks", "  (no metrics to compare)"]
    others = list(range(1, len(report.sets)))
    step = SETS_PER_PANEL - 1
    panels = [[0] + others[k:k + step] for k in range(0, len(others), step)]
    panels = panels or [[0]]
    lines = []
    for number, panel in enumerate(panels, start=1):
        title = "Benchmarks"
        if len(panels) > 1:
            title += (f" (panel {number} of {len(panels)}: sets "
                      f"{', '.join(set_letter(i) for i in panel)})")
        lines += [title, ""] + _header_lines(report, panel)
        for metric in report.metrics:
            lines.append("")
            lines += wrap(f"{metric.metric} [{metric.unit}, "
                          f"{_direction_text(metric.better)}]")
            lines += wrap(metric.key.describe(), indent="  ")
            lines += _stat_rows(report, metric, panel)
            lines += _metric_note_lines(report, metric)
        lines.append("")
    return lines


# ---------------------------------------------------------------- conformance

def _skip_reason_lines(report: Report) -> list:
    """Each distinct SKIP reason once, with the sets it came from."""
    reasons = {}
    for conformance_row in report.conformance:
        for i, record in enumerate(conformance_row.records):
            if record is not None and record["outcome"] == "skip":
                letters = reasons.setdefault(record.get("reason") or "no reason", [])
                if set_letter(i) not in letters:
                    letters.append(set_letter(i))
    lines = []
    for reason, letters in reasons.items():
        lines += wrap(f"SKIP ({','.join(letters)}): {clean(reason)}",
                      subsequent="    ")
    return lines


def _conformance_lines(report: Report) -> list:
    if not report.conformance:
        return []
    lines = ["Conformance (outcome per set; details below)"]
    count = len(report.sets)
    per_panel = max(1, min(count, (WIDTH - 24) // OUTCOME_WIDTH))
    for start in range(0, count, per_panel):
        panel = list(range(start, min(count, start + per_panel)))
        label_width = WIDTH - OUTCOME_WIDTH * len(panel)
        lines.append(" " * label_width + "".join(
            set_letter(i).rjust(OUTCOME_WIDTH) for i in panel))
        for conformance_row in report.conformance:
            label = clean(conformance_row.key.describe())
            cells = "".join(
                (outcome_text(r) if r is not None else "-")
                .rjust(OUTCOME_WIDTH)
                for r in (conformance_row.records[i] for i in panel))
            if len(label) < label_width:
                lines.append(label.ljust(label_width) + cells)
            else:
                lines += wrap(label)
                lines.append(" " * label_width + cells)
    for i, set_v in enumerate(report.verdicts):
        lines += wrap(f"{set_letter(i)} {set_v.describe()}",
                      subsequent="    ")
    details = _skip_reason_lines(report)
    for conformance_row in report.conformance:
        for i, record in enumerate(conformance_row.records):
            if record is None or verdict(record) in ("passed", "skipped"):
                continue
            details += _failure_lines(set_letter(i), conformance_row, record)
    if details:
        lines += [""] + details
    return lines


def _failure_lines(letter: str, conformance_row, record: dict) -> list:
    outcome = outcome_text(record)
    lines = wrap(f"{letter} {outcome} {conformance_row.key.describe()}")
    if record.get("reason"):
        lines += wrap(record["reason"], indent="    ")
    violations = {k: v for k, v in (record.get("violations") or {}).items()
                  if v}
    if violations:
        lines += wrap("violations: " + ", ".join(
            f"{k}={v}" for k, v in sorted(violations.items())), indent="    ")
    example = record.get("counterexample") or {}
    if example:
        what = example.get("violation", "counterexample")
        if "events" in example:
            what += f" after {example['events']} events"
        lines += wrap(f"shrunk trace ({what}):", indent="    ")
        trace = example.get("trace") or []
        for line in trace[:TRACE_LINES_SHOWN]:
            lines.append(clip("    | " + clean(line), WIDTH))
        if len(trace) > TRACE_LINES_SHOWN:
            more = len(trace) - TRACE_LINES_SHOWN
            lines.append(f"    ({more} more line{'s' if more != 1 else ''} "
                         f"in the HTML report and the result file)")
    return lines


# ---------------------------------------------------------------- whole

def render(report: Report) -> str:
    lines = []
    if report.title:
        lines += ["=" * WIDTH, clean(report.title), "=" * WIDTH]
    lines += wrap(f"pasidbench comparison: {len(report.sets)} result "
                 f"set{'s' if len(report.sets) != 1 else ''}, A is the "
                 f"baseline")
    lines.append("-" * WIDTH)
    lines += _set_lines(report)
    for warning in report.warnings:
        lines += wrap("!! " + warning, subsequent="   ")
    lines.append("")
    if not report.conformance_only:
        lines += _environment_lines(report)
        lines.append("")
        lines += _legend(report)
        lines.append("")
        if report.selection_note:
            lines += wrap(report.selection_note) + [""]
        lines += _benchmark_lines(report)
    conformance = _conformance_lines(report)
    if conformance:
        lines += conformance + [""]
    lines.append("-" * WIDTH)
    for warning in report.warnings:
        lines += wrap("!! " + warning, subsequent="   ")
    if report.left_out:
        lines.append("Left out (also printed on stderr):")
        for problem in report.left_out:
            lines += wrap(problem, indent="  - ", subsequent="    ")
    else:
        lines.append("Nothing was left out.")
    return "\n".join(line.rstrip() for line in lines) + "\n"
