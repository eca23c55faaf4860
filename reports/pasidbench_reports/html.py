"""The HTML report: one self-contained page (styles inline, plots embedded
as data: URIs) holding the tables, the plots and the mail table.

Every piece of text that comes from result files goes through esc(): kernel
names, hostnames, parameters, reasons and traces are written by whoever ran
the suite and must not become markup.
"""

from __future__ import annotations

import base64
import html as html_lib
import math

from . import stats, table
from .compare import Report, set_letter

STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 72em;
       padding: 0 1em; color: #222; line-height: 1.35; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; margin: 1.6em 0 0.3em; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-family: monospace; white-space: nowrap; }
.baseline { background: #fff1e6; }
.better { background: #d9f2d0; font-weight: bold; }
.worse { background: #f8d0d0; font-weight: bold; }
.changed { background: #fff3b0; font-weight: bold; }
.noise { color: #666; }
.warn { background: #fff3b0; border: 1px solid #d4b000; padding: 0.5em 1em; }
.warn p { margin: 0.3em 0; font-weight: bold; }
.PASS { background: #d9f2d0; } .FAIL { background: #f8d0d0; font-weight: bold; }
.ERROR, .CRASHED, .TIMEOUT, .INCOMPLETE, .XPASS { background: #fce0b0; }
.XFAIL, .CAUGHT { background: #d9f2d0; } .NOT-CAUGHT { background: #eeeeee; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; }
figure { margin: 0.6em 0 1.2em; } figure img { max-width: 100%; }
figcaption { font-size: 0.9em; color: #555; }
ul.notes { margin: 0.2em 0; font-size: 0.92em; }
"""


def esc(text) -> str:
    return html_lib.escape(str(text), quote=True)


def _num(value, decimals=4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1e7 or (0 < magnitude < 1e-3):
        return f"{value:.4g}"
    return f"{value:,.{2 if magnitude >= 10 else decimals}f}"


def _pct(value) -> str:
    if value is None:
        return "-"
    if round(value, 2) == 0:
        value = 0.0  # no "-0.00%"
    return f"{value:+.2f}%"


def _image(plot) -> str:
    data = base64.b64encode(plot.png.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" '
            f'alt="{esc(plot.title)}"><figcaption>{esc(plot.title)} '
            f'(<a href="plots/{esc(plot.svg.name)}">SVG</a>)</figcaption>'
            f'</figure>')


def _sets_section(report: Report) -> list:
    out = ["<h2>Result sets</h2>", "<table><tr><th>set</th><th>label</th>"
           "<th>kernel</th><th>release</th><th>version</th><th>build id</th>"
           "<th>policy</th><th>backend</th><th>machine</th><th>clock</th>"
           "<th>tests</th><th>from</th></tr>"]
    for i, result_set in enumerate(report.sets):
        kernel, machine = result_set.kernel, result_set.machine
        host = machine.get("hostname", "?")
        if machine.get("cpu_model"):
            host += f" ({machine['cpu_model']})"
        if result_set.emulated:
            host += " EMULATED (TCG)"
        policies = sorted({r.get("policy") or "" for r in
                           result_set.tests.values()} - {""})
        cells = [set_letter(i) + (" (baseline)" if i == 0 else ""),
                 result_set.label, kernel.get("name", ""),
                 kernel.get("release", ""), kernel.get("version", ""),
                 kernel.get("build_id", ""),
                 ", ".join(policies) or kernel.get("policy", ""),
                 ", ".join(result_set.backends), host,
                 ", ".join(result_set.time_bases), len(result_set.tests),
                 result_set.source]
        css = ' class="baseline"' if i == 0 else ""
        out.append(f"<tr{css}>" + "".join(f"<td>{esc(c)}</td>" for c in cells)
                   + "</tr>")
    out.append("</table>")
    return out


def _environment_section(report: Report) -> list:
    keys = []
    for result_set in report.sets:
        for key in result_set.environment:
            if key not in keys:
                keys.append(key)
    out = ["<h2>Environment</h2>"]
    if not keys:
        return out + ["<p>No environment records.</p>"]
    out.append("<table><tr><th></th>" + "".join(
        f"<th>{esc(set_letter(i))}</th>" for i in range(len(report.sets)))
        + "</tr>")
    for key in keys:
        values = [table.environment_value(s.environment, key)
                  for s in report.sets]
        out.append(f"<tr><th>{esc(key)}</th>" + "".join(
            f"<td>{esc(v if v is not None else '-')}</td>" for v in values)
            + "</tr>")
    out.append("</table>")
    return out


def _method_paragraph(report: Report) -> str:
    level = round((1 - report.alpha) * 100)
    return (f"<p>Each metric shows every set's samples summarised, and the "
            f"change against the baseline (A) in percent, <b>positive = "
            f"better</b> for every row. Amean for most metrics, Hmean for "
            f"rates. A change is marked <b>significant</b> when the "
            f"{esc(stats.TEST_METHOD)} test gives p &lt; {report.alpha:g} "
            f"<i>and</i> the {esc(stats.CI_METHOD)} ({level} %, "
            f"{report.resamples} resamples) excludes 0; otherwise it is "
            f"<span class=\"noise\">noise</span>. Warnings: CoeffVar above "
            f"{report.cov_warn_pct:g} %, fewer than "
            f"{stats.RECOMMENDED_SAMPLES} samples.</p>")


def _metric_table(report: Report, metric) -> list:
    base = metric.columns[0]
    out = ["<table><tr><th></th>" + "".join(
        f"<th>{esc(set_letter(i))} {esc(s.label)}</th>"
        for i, s in enumerate(report.sets)) + "</tr>"]
    rows = [("Min", lambda s: s.min, metric.better),
            (metric.central, lambda s: stats.central_value(s, metric.central),
             metric.better),
            ("Median", lambda s: s.median, metric.better),
            ("Stddev", lambda s: s.stddev, "lower"),
            ("CoeffVar %", lambda s: s.coeff_var, "lower"),
            ("Max", lambda s: s.max, metric.better),
            ("Q1 / Q3", None, None)]
    for name, get, better in rows:
        cells = []
        for i, column in enumerate(metric.columns):
            if column is None:
                cells.append("<td>missing</td>")
                continue
            s = column.summary
            if get is None:
                cells.append(f'<td class="num">{_num(s.q1)} / {_num(s.q3)}'
                             f'</td>')
                continue
            value = get(s)
            pct = None
            if base is not None:
                pct = (0.0 if i == 0 else
                       stats.percent_change(get(base.summary), value, better))
            css = "num"
            comparison = column.comparison
            if (name in (metric.central, "Median") and comparison
                    and comparison.significant):
                css += " " + comparison.verdict
            shown = (_num(value, 2) if name.startswith("CoeffVar")
                     else _num(value))
            cells.append(f'<td class="{css}">{shown} ({_pct(pct)})</td>')
        out.append(f"<tr><th>{esc(name)}</th>{''.join(cells)}</tr>")
    extra = (("Samples", lambda c, cmp: c.summary.n),
             ("U-test p", lambda c, cmp: "-" if cmp is None or
              cmp.p_value is None else f"{cmp.p_value:.4g}"),
             (f"CI{round((1 - report.alpha) * 100)} of the shift",
              lambda c, cmp: "-" if cmp is None or cmp.ci_low is None else
              f"[{cmp.ci_low:+.2f}%, {cmp.ci_high:+.2f}%]"),
             ("Verdict", lambda c, cmp: "baseline" if cmp is None else
              cmp.verdict + (f" ({cmp.reason})" if cmp.reason else "")))
    for name, get in extra:
        cells = []
        for i, column in enumerate(metric.columns):
            if column is None:
                cells.append("<td>missing</td>")
                continue
            comparison = column.comparison
            css = "num"
            if name == "Verdict" and comparison is not None:
                css += " " + comparison.verdict
            if i > 0 and comparison is None and name != "Samples":
                text = "n/a"
            else:
                text = get(column, comparison)
            cells.append(f'<td class="{css}">{esc(text)}</td>')
        out.append(f"<tr><th>{esc(name)}</th>{''.join(cells)}</tr>")
    out.append("</table>")
    notes = table.metric_notes(report, metric)
    if notes:
        out.append('<ul class="notes">' + "".join(
            f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    return out


def _conformance_section(report: Report) -> list:
    if not report.conformance:
        return []
    out = ["<h2>Conformance</h2>", "<table><tr><th>workload</th>" + "".join(
        f"<th>{esc(set_letter(i))} {esc(s.label)}</th>"
        for i, s in enumerate(report.sets)) + "</tr>"]
    details = []
    for row in report.conformance:
        cells = []
        for i, record in enumerate(row.records):
            if record is None:
                cells.append("<td>-</td>")
                continue
            outcome = table.outcome_text(record)
            css = outcome.replace(" ", "-")
            cells.append(f'<td class="{esc(css)}">{esc(outcome)}</td>')
            if table.verdict(record) not in ("passed", "skipped"):
                details.append((i, row, record))
        out.append(f"<tr><th>{esc(row.key.describe())}</th>"
                   f"{''.join(cells)}</tr>")
    out.append("</table>")
    if report.verdicts:
        out.append("<ul>" + "".join(
            f"<li>{esc(set_letter(i))} {esc(report.sets[i].label)}: "
            f"{esc(v.describe())}</li>"
            for i, v in enumerate(report.verdicts)) + "</ul>")
    for i, row, record in details:
        outcome = table.outcome_text(record)
        out.append(f"<h3>{esc(set_letter(i))} {esc(report.sets[i].label)}: "
                   f"{esc(outcome)} {esc(row.key.describe())}</h3>")
        if record.get("reason"):
            out.append(f"<p>{esc(record['reason'])}</p>")
        violations = {k: v for k, v in (record.get("violations") or {}).items()
                      if v}
        if violations:
            out.append("<p>violations: " + esc(", ".join(
                f"{k}={v}" for k, v in sorted(violations.items()))) + "</p>")
        example = record.get("counterexample") or {}
        trace = example.get("trace") or []
        if trace:
            what = example.get("violation", "counterexample")
            out.append(f"<details open><summary>shrunk trace: {esc(what)}, "
                       f"{esc(example.get('events', len(trace)))} events"
                       f"</summary><pre>"
                       + esc("\n".join(str(t) for t in trace))
                       + "</pre></details>")
    return out


def render(report: Report, text_table: str, figures: list) -> str:
    labels = ", ".join(s.label for s in report.sets)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>pasidbench comparison: {esc(labels)}</title>",
           f"<style>{STYLE}</style></head><body>",
           f"<h1>pasidbench comparison: {esc(labels)}</h1>",
           f"<p>Baseline: <b>A {esc(report.baseline.label)}</b>.</p>"]
    if report.warnings:
        out.append('<div class="warn">' + "".join(
            f"<p>{esc(w)}</p>" for w in report.warnings) + "</div>")
    out += _sets_section(report)
    out += _environment_section(report)

    distributions = {f.title: f for f in figures if f.kind == "distribution"}
    out.append("<h2>Benchmarks</h2>")
    out.append(_method_paragraph(report))
    if not report.metrics:
        out.append("<p>No metrics to compare.</p>")
    for metric in report.metrics:
        out.append(f"<h3>{esc(metric.metric)} [{esc(metric.unit)}, "
                   f"{esc(metric.better)} is better] &mdash; "
                   f"{esc(metric.key.describe())}</h3>")
        out += _metric_table(report, metric)
        figure = distributions.get(f"{metric.metric} "
                                   f"({metric.key.describe()})")
        if figure:
            out.append(_image(figure))

    sections = (("scaling", "IPI cost against CPUs running the mm"),
                ("pasid", "Context switches with and without a PASID"),
                ("timeline", "PASID lifetimes (model backend)"))
    for kind, heading in sections:
        chosen = [f for f in figures if f.kind == kind]
        if chosen:
            out.append(f"<h2>{esc(heading)}</h2>")
            out += [_image(f) for f in chosen]

    out += _conformance_section(report)
    out.append("<h2>Left out</h2>")
    if report.left_out:
        out.append("<ul>" + "".join(f"<li>{esc(p)}</li>"
                                    for p in report.left_out) + "</ul>")
    else:
        out.append("<p>Nothing was left out.</p>")
    out.append("<h2>Plain-text table (for mail)</h2>")
    out.append(f"<pre>{esc(text_table)}</pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
