"""The HTML report: one page, summary first, then a table of contents and
the details folded (<details>) per comparison: the sets, the environment,
one table per metric (the rows of rows.py), the plots and the conformance
grid. Styles are inline and there are no scripts; plots are files under
plots/ beside the page, linked relatively, so the page stays small.

Every piece of text that comes from result files goes through esc(): kernel
names, hostnames, parameters, reasons and traces are written by whoever ran
the suite and must not become markup.
"""

from __future__ import annotations

import html as html_lib
import math
from pathlib import Path

from . import rows as row_model
from . import stats
from .compare import Report, set_letter
from .environment import environment_value
from .outcomes import outcome_text, verdict

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
figure { margin: 0.6em 0 1.2em; } figure img { max-width: 100%; width: 48em; }
details { margin: 0.4em 0; } summary { cursor: pointer; font-weight: bold; }
nav ul { columns: 2; }
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


def _image(plot, out_dir: Path | None) -> str:
    """A plot as a file beside the page: the PNG shown, the SVG linked."""
    def rel(path):
        path = Path(path)
        if out_dir is not None:
            try:
                return path.relative_to(out_dir).as_posix()
            except ValueError:
                pass
        return "plots/" + path.name
    return (f'<figure><img src="{esc(rel(plot.png))}" loading="lazy" '
            f'alt="{esc(plot.title)}"><figcaption>{esc(plot.title)} '
            f'(<a href="{esc(rel(plot.svg))}">SVG</a>)</figcaption>'
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
        values = [environment_value(s.environment, key)
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


def _html_cell(stat_row, stat_cell, decimals_for) -> str:
    if stat_cell.text is not None:
        css = "num" + (f" {stat_cell.css}" if stat_cell.css else "")
        return f'<td class="{css}">{esc(stat_cell.text)}</td>'
    if stat_cell.high is not None:
        if stat_row.name.startswith("CI"):
            text = f"[{stat_cell.value:+.2f}%, {stat_cell.high:+.2f}%]"
        else:
            text = f"{_num(stat_cell.value)} / {_num(stat_cell.high)}"
        return f'<td class="num">{esc(text)}</td>'
    css = "num" + (f" {stat_cell.css}" if stat_cell.css else "")
    shown = _num(stat_cell.value, decimals_for)
    return f'<td class="{css}">{shown} ({_pct(stat_cell.pct)})</td>'


def _metric_table(report: Report, metric) -> list:
    out = ["<table><tr><th></th>" + "".join(
        f"<th>{esc(set_letter(i))} {esc(s.label)}</th>"
        for i, s in enumerate(report.sets)) + "</tr>"]
    for stat_row in row_model.stat_rows(report, metric):
        decimals = 2 if stat_row.name == "CoeffVar" else 4
        name = "CoeffVar %" if stat_row.name == "CoeffVar" else stat_row.name
        cells = "".join(_html_cell(stat_row, c, decimals)
                        for c in stat_row.cells)
        out.append(f"<tr><th>{esc(name)}</th>{cells}</tr>")
    out.append("</table>")
    notes = row_model.metric_notes(report, metric)
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
            outcome = outcome_text(record)
            css = outcome.replace(" ", "-")
            cells.append(f'<td class="{esc(css)}">{esc(outcome)}</td>')
            if verdict(record) not in ("passed", "skipped"):
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
        outcome = outcome_text(record)
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


def _anchor(index: int, name: str) -> str:
    return f"g{index}-{name}"


def _group_sections(index: int, report: Report, figures: list,
                    out_dir) -> tuple:
    """(table-of-contents entries, body) of one comparison."""
    toc, out = [], [f'<h2 id="{_anchor(index, "top")}">'
                    f'{esc(report.title or "Comparison")}: '
                    f'{esc(", ".join(s.label for s in report.sets))}</h2>']
    toc.append((_anchor(index, "top"), report.title or "Comparison"))
    if report.warnings:
        out.append('<div class="warn">' + "".join(
            f"<p>{esc(w)}</p>" for w in report.warnings) + "</div>")

    def fold(name, heading, body, open_=False):
        toc.append((_anchor(index, name), heading))
        return ([f'<details id="{_anchor(index, name)}"'
                 + (" open" if open_ else "") + f'><summary>{esc(heading)}'
                 f'</summary>'] + body + ["</details>"])

    out += fold("sets", "Result sets", _sets_section(report)[1:])
    out += fold("env", "Environment", _environment_section(report)[1:])
    if report.metrics:
        distributions = {f.title: f for f in figures
                         if f.kind == "distribution"}
        body = [_method_paragraph(report)]
        for metric in report.metrics:
            body.append(f"<h3>{esc(metric.metric)} [{esc(metric.unit)}, "
                        f"{esc(metric.better)} is better] &mdash; "
                        f"{esc(metric.key.describe())}</h3>")
            body += _metric_table(report, metric)
            figure = distributions.get(f"{metric.metric} "
                                       f"({metric.key.describe()})")
            if figure:
                body.append(_image(figure, out_dir))
        out += fold("metrics", f"Benchmarks ({len(report.metrics)} metric "
                    f"blocks)", body)
    sections = (("sweep", "Scaling sweeps (policy models)"),
                ("policykernel", "Policies on kernel builds (pasidlab.ko)"),
                ("scaling", "IPI cost against CPUs running the mm"),
                ("pasid", "Context switches with and without a PASID"),
                ("timeline", "PASID lifetimes (model backend)"))
    for kind, heading in sections:
        chosen = [f for f in figures if f.kind == kind]
        if chosen:
            out += fold(kind, heading, [_image(f, out_dir) for f in chosen],
                        open_=True)
    conformance = _conformance_section(report)
    if conformance:
        out += fold("conformance", "Conformance", conformance[1:])
    left = (["<ul>" + "".join(f"<li>{esc(p)}</li>" for p in report.left_out)
             + "</ul>"] if report.left_out else
            ["<p>Nothing was left out.</p>"])
    out += fold("left", f"Left out ({len(report.left_out)})", left)
    return toc, out


def render(reports: list, mutant_report, summary_text: str, full_text: str,
           figures: list, out_dir=None) -> str:
    """The page: figures[i] are the plots of reports[i]."""
    labels = ", ".join(s.label for r in reports for s in r.sets)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>pasidbench report: {esc(labels)}</title>",
           f"<style>{STYLE}</style></head><body>",
           f"<h1>pasidbench report: {esc(labels)}</h1>",
           '<h2 id="summary">Summary</h2>', f"<pre>{esc(summary_text)}</pre>"]
    toc = [("summary", "Summary")]
    body = []
    groups = list(zip(reports, figures))
    if mutant_report is not None:
        groups.append((mutant_report, []))
    for index, (report, plots) in enumerate(groups):
        entries, section = _group_sections(index, report, plots, out_dir)
        toc += entries
        body += section
    toc.append(("text", "Plain-text report (for mail)"))
    body += ['<h2 id="text">Plain-text report (for mail)</h2>',
             "<details><summary>the full text</summary>"
             f"<pre>{esc(full_text)}</pre></details>"]
    out.append("<nav><h2>Contents</h2><ul>" + "".join(
        f'<li><a href="#{esc(a)}">{esc(t)}</a></li>' for a, t in toc)
        + "</ul></nav>")
    out += body
    out.append("</body></html>")
    return "\n".join(out) + "\n"
