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
import textwrap
import unicodedata

from . import stats
from .compare import Report, MetricRow, set_letter

WIDTH = 72
LABEL_WIDTH = 8
VALUE_WIDTH = 9
PCT_WIDTH = 7
# " " value " (" pct "%)"
CELL_WIDTH = 1 + VALUE_WIDTH + 2 + PCT_WIDTH + 2
SETS_PER_PANEL = (WIDTH - LABEL_WIDTH) // CELL_WIDTH
OUTCOME_WIDTH = 11
TRACE_LINES_SHOWN = 6
ENV_KEYS = ("kernel", "cpu", "topology", "governor", "mitigations",
            "pasid hw", "pasidbench")
ENV_VALUE_MAX = 120


def clean(text) -> str:
    """Text from result files, made safe for a fixed-width mail body:
    control characters (escape sequences, tabs, newlines) become spaces or
    '?', so that a hostile or broken string cannot reflow the table."""
    out = []
    for ch in str(text):
        if ch in "\t\n\r":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def wrap(text: str, indent: str = "", subsequent: str | None = None) -> list:
    if subsequent is None:
        subsequent = indent
    return textwrap.wrap(clean(text), width=WIDTH, initial_indent=indent,
                         subsequent_indent=subsequent,
                         break_on_hyphens=False) or [indent.rstrip()]


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


def _legend(report: Report) -> list:
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
    return wrap(text)


def _flatten(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_flatten(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def environment_value(environment: dict, key: str) -> str | None:
    if key not in environment:
        return None
    value = environment[key]
    if key == "kernel" and isinstance(value, dict):
        return value.get("release", _flatten(value))
    if key == "pasidbench" and isinstance(value, dict):
        return value.get("revision", _flatten(value))
    return _flatten(value)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _cpu_summary(cpu: dict) -> str:
    parts = [str(cpu.get("model", "?"))]
    ids = " ".join(f"{name} {cpu[key]}" for name, key in (
        ("family", "family"), ("model", "model_number"),
        ("stepping", "stepping")) if key in cpu)
    if ids:
        parts[0] += f" ({ids})"
    count = cpu.get("count", cpu.get("logical_cpus"))
    if count is not None:
        parts.append(f"{count} CPUs")
    microcode = str(cpu.get("microcode", ""))
    if microcode and not microcode.startswith("not "):
        parts.append(f"microcode {microcode}")
    if _dict(cpu.get("flags")).get("hypervisor"):
        parts.append("under a hypervisor")
    return ", ".join(parts)


def _mitigations_summary(environment: dict) -> str | None:
    """The kernel's mitigations= choice and which vulnerabilities the
    kernel reports as open; the full list is in the HTML page."""
    parts = []
    cmdline = str(_dict(environment.get("kernel")).get("cmdline", ""))
    chosen = [word for word in cmdline.split()
              if word.startswith("mitigations=")]
    parts.append(chosen[-1] if chosen else "mitigations= not set")
    vulnerabilities = _dict(_dict(environment.get("cpu")).get(
        "vulnerabilities"))
    if not vulnerabilities and not chosen:
        return None
    if vulnerabilities:
        states = [str(v) for v in vulnerabilities.values()]
        open_ = sorted(k for k, v in vulnerabilities.items()
                       if str(v).startswith("Vulnerable"))
        mitigated = sum(v.startswith("Mitigation") for v in states)
        parts.append("vulnerable: " + (", ".join(open_) or "none"))
        parts.append(f"{mitigated} mitigated")
    return "; ".join(parts)


def _pasid_hardware_summary(environment: dict) -> str | None:
    flags = _dict(_dict(environment.get("cpu")).get("flags"))
    dsa = _dict(environment.get("dsa"))
    sva = _dict(_dict(environment.get("iommu")).get("sva"))
    if not (flags or dsa or sva):
        return None
    def yes_no(value):
        return "?" if value is None else ("yes" if value else "no")
    return (f"ENQCMD {yes_no(flags.get('enqcmd'))}, DSA "
            f"{yes_no(dsa.get('present'))}, IOMMU PASID "
            f"{yes_no(sva.get('iommu_pasid_capable'))}")


def environment_summary(environment: dict, key: str) -> str | None:
    """One short line per ENV_KEYS key for the mail table, from the
    environment record as the host backend writes it (details nested under
    cpu/kernel/iommu/dsa); a top-level key of that name wins."""
    if key in environment and key not in ("cpu", "kernel"):
        return environment_value(environment, key)
    cpu = _dict(environment.get("cpu"))
    if key == "cpu" and cpu:
        return _cpu_summary(cpu)
    if key in ("topology", "governor") and key in cpu:
        return _flatten(cpu[key])
    if key == "mitigations":
        return _mitigations_summary(environment)
    if key == "pasid hw":
        return _pasid_hardware_summary(environment)
    return environment_value(environment, key)


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


def _stat_rows(report: Report, metric: MetricRow, panel: list) -> list:
    base = metric.columns[0]
    columns = [metric.columns[i] for i in panel]
    stat_getters = [
        ("Min", lambda s: s.min, metric.better),
        (metric.central,
         lambda s: stats.central_value(s, metric.central), metric.better),
        ("Median", lambda s: s.median, metric.better),
        ("Stddev", lambda s: s.stddev, "lower"),
        ("CoeffVar", lambda s: s.coeff_var, "lower"),
        ("Max", lambda s: s.max, metric.better),
    ]
    # Spread rows take the decimals of the location rows, so a tiny
    # stddev cannot push the values out of their columns.
    shown = [get(c.summary) for c in metric.columns if c is not None
             for name, get, _ in stat_getters
             if name not in ("CoeffVar", "Stddev")]
    decimals = choose_decimals(shown)
    lines = []
    for name, get, better in stat_getters:
        cells = []
        places = 2 if name == "CoeffVar" else decimals
        for i, column in zip(panel, columns):
            if column is None:
                cells.append(cell("missing"))
                continue
            value = get(column.summary)
            value_text = format_value(value, places)
            if base is None:
                cells.append(cell(value_text, format_pct(None)))
                continue
            pct = stats.percent_change(get(base.summary), value, better)
            if i == 0 and value is not None and math.isfinite(value):
                pct = 0.0
            marked = (name in (metric.central, "Median")
                      and column.comparison is not None
                      and column.comparison.significant)
            cells.append(cell(value_text, format_pct(pct, marked)))
        lines.append(row(name, cells))

    lines.append(row("Samples", [
        cell("missing" if c is None else str(c.summary.n)) for c in columns]))
    level = round((1 - report.alpha) * 100)
    p_cells, ci_cells, verdict_cells = [], [], []
    for i, column in zip(panel, columns):
        comparison = column.comparison if column is not None else None
        if i == 0:
            p_cells.append(whole_cell("-"))
            ci_cells.append(whole_cell("-"))
            verdict_cells.append(whole_cell("baseline"))
        elif comparison is None:
            p_cells.append(whole_cell("-"))
            ci_cells.append(whole_cell("-"))
            verdict_cells.append(whole_cell("n/a"))
        else:
            p_cells.append(whole_cell(format_p(comparison.p_value)))
            ci_cells.append(whole_cell(format_ci(comparison.ci_low,
                                                 comparison.ci_high)))
            verdict = comparison.verdict
            if comparison.significant:
                verdict = f"*{verdict}*"
            verdict_cells.append(whole_cell(verdict))
    lines.append(row("U-test p", p_cells))
    lines.append(row(f"CI{level}", ci_cells))
    lines.append(row("Verdict", verdict_cells))
    return lines


def metric_notes(report: Report, metric: MetricRow) -> list:
    """Warnings and notes for one metric, as unwrapped sentences."""
    notes = []
    present = [(set_letter(i), c) for i, c in enumerate(metric.columns)
               if c is not None]
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
        notes.append(f"! {', '.join(single)}: a single sample: no spread, "
                     f"no significance test")
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

OUTCOME_TEXT = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP",
                "error": "ERROR", "crashed": "CRASHED", "timeout": "TIMEOUT",
                "incomplete": "INCOMPLETE"}


def verdict(record: dict) -> str:
    """What the run makes of a record, as results/verdict.cc decides it:
    passed, failed, skipped, xfail (failed as the suite expects), caught (a
    seeded mutant caught here) or not-caught (a seeded mutant this test did
    not catch; some other test must)."""
    outcome = record["outcome"]
    if outcome == "skip":
        return "skipped"
    if record.get("expected_outcome") == "fail":
        return "xfail" if outcome == "fail" else "failed"
    if record.get("mutant_of"):
        if outcome == "fail":
            return "caught"
        if outcome in ("pass", "incomplete"):
            return "not-caught"
        return "failed"
    return "passed" if outcome == "pass" else "failed"


def is_expected(record: dict) -> bool:
    """Not a failure of the run: passed, skipped, xfail, caught, not-caught."""
    return verdict(record) != "failed"


def outcome_text(record: dict) -> str:
    """PASS/FAIL/INCOMPLETE/...; a failure the suite expects is XFAIL, one
    that passed XPASS; a seeded mutant's failure is CAUGHT, its pass (or
    incomplete search) NOT CAUGHT."""
    outcome = record["outcome"]
    v = verdict(record)
    if v == "xfail":
        return "XFAIL"
    if record.get("expected_outcome") == "fail" and outcome == "pass":
        return "XPASS"
    if v == "caught" or (record.get("mutant_of") and outcome == "fail"):
        return "CAUGHT"
    if v == "not-caught":
        return "NOT CAUGHT"
    return OUTCOME_TEXT[outcome]


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
    lines = wrap(f"pasidbench comparison: {len(report.sets)} result "
                 f"set{'s' if len(report.sets) != 1 else ''}, A is the "
                 f"baseline")
    lines.append("-" * WIDTH)
    lines += _set_lines(report)
    for warning in report.warnings:
        lines += wrap("!! " + warning, subsequent="   ")
    lines.append("")
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
