"""--mail: the whole report as one plain-text message for a mailing list,
every line at most 72 columns, no tabs, no trailing blanks:

  - a Subject line to use: suite, kernel release(s), the verdict, what
    changed between kernel builds;
  - Environment: one line per key, once when every set has the same;
  - Summary: the summary as --summary prints it;
  - Changed metrics: only the metrics where some set differs from A
    (significantly for measurements, at all for model counts), with how
    many were left out;
  - How to reproduce: the revision the records name and the commands.

It formats the reports built by compare.py, and reads nothing else but
whether the suite and kernel manifests it names exist in this checkout.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import rows as row_model
from . import table
from .compare import set_letter
from .environment import ENV_KEYS, environment_summary
from .summary import _compact, mutant_caught, short_names
from .text import WIDTH, clean, clip, wrap

REPO = Path(__file__).resolve().parents[2]
PASIDBENCH = "build/runners/pasidbench"
# Compact rows of model counts: label, then one cell per set.
COUNT_LABEL = 28
COUNT_CELL = 11
COUNT_SETS_PER_PANEL = (WIDTH - COUNT_LABEL) // COUNT_CELL


def _heading(title: str) -> list:
    return [title, "-" * len(title)]


# ---------------------------------------------------------------- subject

def _test_records(sets):
    for result_set in sets:
        yield from result_set.tests.values()


def _suites(sets) -> list:
    return list(dict.fromkeys(r.get("suite") for r in _test_records(sets)
                              if r.get("suite")))


def _kernel_changes(reports) -> str:
    """'B: 2 worse, 1 better' per kernel build with a significant change."""
    parts = []
    for report in reports:
        if not report.sets or report.sets[0].is_model:
            continue
        for i in range(1, len(report.sets)):
            words = {}
            for metric in report.significant_metrics():
                word = row_model.stat_rows(report, metric)[-1].cells[i].text
                word = (word or "").strip("*")
                if word in ("better", "worse", "changed"):
                    words[word] = words.get(word, 0) + 1
            if words:
                parts.append(f"{set_letter(i)} " + ", ".join(
                    f"{n} {w}" for w, n in sorted(words.items())))
            else:
                parts.append(f"{set_letter(i)} no change")
    return "; ".join(parts)


def subject(reports, mutant_report) -> str:
    everything = [s for r in reports for s in r.sets]
    mutants = mutant_report.sets if mutant_report else []
    suites = _suites(everything + mutants) or ["results"]
    releases = list(dict.fromkeys(
        s.kernel.get("release", "?") for s in everything if not s.is_model))
    failed = [s.label for r in reports for s, v in zip(r.sets, r.verdicts)
              if v.failed]
    parts = ["FAIL: " + ", ".join(failed) if failed else "ok"]
    if mutants:
        caught = sum(any(mutant_caught(r) for r in s.tests.values())
                     for s in mutants)
        parts.append(f"{caught}/{len(mutants)} mutants caught")
    changes = _kernel_changes(reports)
    if changes:
        parts.append(changes)
    head = "[pasidbench] " + "+".join(suites)
    tail = ": " + ", ".join(parts)
    line = clean(f"Subject: {head} on {' vs '.join(releases)}{tail}")
    if not releases or len(line) > WIDTH:
        # The verdict and the changes matter more than the releases,
        # which the Environment section names.
        line = clean(f"Subject: {head}{tail}")
    return clip(line, WIDTH)


def command_lines(words: list, indent: str = "  ") -> list:
    """A shell command in lines of at most 72 columns, continued with
    ' \\'; a word too long for a line is cut by a backslash-newline,
    which the shell removes, so the command still pastes whole."""
    lines, current = [], indent
    room = WIDTH - 2             # for the ' \\' that continues a line
    for word in words:
        word = clean(word)
        if current.strip() and len(current) + 1 + len(word) > room:
            lines.append(current + " \\")
            current = indent + "    "
        sep = " " if current.strip() else ""
        while len(current) + len(sep) + len(word) > WIDTH - 1:
            cut = WIDTH - 1 - len(current) - len(sep)
            lines.append(current + sep + word[:cut] + "\\")
            word, current, sep = word[cut:], "", ""
        current += sep + word
    lines.append(current)
    return lines


# ---------------------------------------------------------------- parts

def _environment_lines(sets) -> list:
    """One line per key: '(all) value' when every set agrees, else the
    values each with the labels of the sets that have it."""
    lines = _heading("Environment")
    for key in ENV_KEYS:
        values = {}
        for result_set in sets:
            value = environment_summary(result_set.environment, key)
            values.setdefault(value, []).append(clean(result_set.label))
        if not any(v is not None for v in values):
            continue
        label = f"  {key:<12} "
        if len(values) == 1:
            text = "(all) " + clean(next(iter(values)))
        else:
            text = "; ".join(f"{', '.join(who)}: "
                             f"{clean(v) if v is not None else '?'}"
                             for v, who in values.items())
        lines += wrap(text, indent=label, subsequent=" " * len(label))
    if len(lines) == 2:
        lines.append("  (no environment records)")
    return lines


def _count_cell(stat_cell, verdict_cell, scale: float, base) -> str:
    """'16 +25%': the reference value and its change against A; the
    verdict word where a percentage cannot be computed (A is 0)."""
    if stat_cell.text is not None:
        return stat_cell.text
    text = _compact(stat_cell.value * scale)
    pct = stat_cell.pct
    word = verdict_cell.text or ""
    if pct is None:
        return f"{text} {word}" if word in ("better", "worse", "changed") \
            else text
    if pct == 0 or word == "same":
        return text
    if abs(pct) >= 1000 and base:
        return f"{text} x{stat_cell.value / base:.0f}"
    return f"{text} {pct:+.0f}%" if abs(pct) >= 10 else \
        f"{text} {pct:+.1f}%"


def _count_scale(metric) -> tuple:
    """(scale, note): model times are microseconds, so seconds would all
    read 0."""
    if metric.unit == "s" or metric.unit.endswith("-s"):
        unit = metric.unit[:-1] + "us"
        return 1e6, f"{metric.metric} in {unit}"
    return 1, None


def _counted_lines(report, metrics) -> list:
    """Model counts, one line per changed metric: the reference
    schedule's value of each set and its change against A."""
    lines = wrap("Value in the reference schedule; +x% = better than A, "
                 "-x% = worse, xN = N times A; * = no better direction, the "
                 "raw change "
                 "(counts over schedules: no tests; the full report has "
                 "each range).", indent="  ", subsequent="  ")
    others = list(range(1, len(report.sets)))
    step = COUNT_SETS_PER_PANEL - 1
    panels = [[0] + others[k:k + step] for k in range(0, len(others), step)]
    by_test = {}
    for metric in metrics:
        by_test.setdefault(metric.key, []).append(metric)
    names = short_names(by_test)
    units = {}
    for panel in panels or [[0]]:
        lines.append(" " * COUNT_LABEL + "".join(
            set_letter(i).rjust(COUNT_CELL) for i in panel))
        for key, members in by_test.items():
            lines.append(clip(clean(names[key]), WIDTH))
            for metric in members:
                stat_rows = row_model.stat_rows(report, metric)
                ref, verdicts = stat_rows[0], stat_rows[-1]
                scale, note = _count_scale(metric)
                if note:
                    units[note] = True
                cells = "".join(
                    clip(_count_cell(ref.cells[i], verdicts.cells[i], scale,
                                ref.cells[0].value),
                         COUNT_CELL - 1).rjust(COUNT_CELL) for i in panel)
                mark = "*" if metric.better == "none" else " "
                label = clip(f"{mark}{clean(metric.metric)}", COUNT_LABEL)
                lines.append(label.ljust(COUNT_LABEL) + cells)
    if units:
        lines += wrap("; ".join(units), indent="  ", subsequent="  ")
    return lines


def _changed_lines(reports) -> list:
    lines = _heading("Changed metrics")
    shown_any = False
    for report in reports:
        if not report.metrics:
            continue
        if len(report.sets) < 2:
            lines += [""] + wrap(f"{clean(report.title)}: one set "
                                 f"({clean(report.sets[0].label)}), nothing "
                                 f"to compare it with")
            continue
        changed = report.significant_metrics()
        title = clean(report.title or "Result sets")
        lines.append("")
        lines += wrap(f"{title}: {len(changed)} of {len(report.metrics)} "
                      f"metrics differ from A; the others are not shown")
        legend = "  ".join(f"{set_letter(i)} {clean(s.label)}"
                           for i, s in enumerate(report.sets))
        lines += wrap(legend, indent="  ", subsequent="    ")
        if not changed:
            continue
        shown_any = True
        counted = [m for m in changed if m.mode == "counted"]
        others = [m for m in changed if m.mode != "counted"]
        if counted:
            lines += _counted_lines(report, counted)
        if others:
            # Measurements keep their whole block: the test, its interval
            # and the verdict are what a reader checks a change by.
            part = dataclasses.replace(report, metrics=others)
            lines += [""] + table._legend(part)
            lines += table._benchmark_lines(part)[1:]
    if not shown_any:
        lines += ["", "No metric differs from its A."]
    return lines


def _run_dir(result_set) -> str:
    source = Path(result_set.source)
    return str(source.parent if source.suffix == ".jsonl" else source)


def _suite_path(suite: str) -> tuple:
    """(what to type, a note when this checkout has no such manifest)."""
    path = f"suites/{suite}.toml"
    if (REPO / path).is_file():
        return path, None
    return path, f"no {path} in this checkout: the suite named {suite!r}"


def _checkout_lines(revisions: list, notes: list) -> list:
    lines = []
    for revision in revisions:
        text = clean(revision)
        if text.endswith("-dirty"):
            notes.append(f"{text}: built from a tree with uncommitted "
                         f"changes; the revision alone is not that tree")
            text = text[:-len("-dirty")]
        if text == "unknown":
            notes.append("a build without git revision: the commit is not "
                         "known")
            continue
        lines.append(f"  git checkout {text}")
    lines.append("  cmake --preset default && cmake --build --preset "
                 "default")
    return lines


def _reproduce_lines(reports, mutant_report, options: list) -> list:
    lines = _heading("How to reproduce")
    sets = [s for r in reports for s in r.sets]
    if mutant_report:
        sets += mutant_report.sets
    notes = []
    lines.append("In a pasidbench checkout (Debian 12; ./run.sh installs "
                 "what is missing):")
    # One command per run directory and runner, in argument order.
    by_dir = {}
    for result_set in sets:
        entry = by_dir.setdefault(_run_dir(result_set),
                                  {"suites": [], "kernels": [],
                                   "icount": False, "run": False,
                                   "revisions": []})
        for record in result_set.tests.values():
            suite = record.get("suite")
            if suite and suite not in entry["suites"]:
                entry["suites"].append(suite)
            revision = record["provenance"].get("pasidbench_revision",
                                                "unknown")
            if revision not in entry["revisions"]:
                entry["revisions"].append(revision)
        name = result_set.kernel.get("name", "")
        if result_set.is_model or name == "running":
            entry["run"] = True
        elif name:
            manifest = name.split("/")[0]
            if manifest not in entry["kernels"]:
                entry["kernels"].append(manifest)
            if "virtual-icount" in result_set.time_bases:
                entry["icount"] = True
    revisions = list(dict.fromkeys(r for e in by_dir.values()
                                   for r in e["revisions"]))
    if len(revisions) == 1:
        lines += _checkout_lines(revisions, notes)
    else:
        notes.append("the sets were built from different revisions ("
                     + ", ".join(clean(r) for r in revisions) + "): each "
                     "directory's commands follow its own checkout")
    for directory, entry in by_dir.items():
        if len(revisions) > 1:
            lines += _checkout_lines(entry["revisions"], notes)
        for suite in entry["suites"] or ["SUITE"]:
            path, note = _suite_path(suite)
            if note:
                notes.append(note)
            if entry["run"]:
                lines += command_lines([PASIDBENCH, "run", path, "--out",
                                        directory])
            if entry["kernels"]:
                kernels = []
                for name in entry["kernels"]:
                    manifest = f"kernels/{name}.toml"
                    if not (REPO / manifest).is_file():
                        notes.append(f"no {manifest} in this checkout: the "
                                     f"kernel build named {name!r}")
                    kernels.append(manifest)
                lines += command_lines(
                    [PASIDBENCH, "lab", "--kernels", *kernels, "--suite",
                     path] + (["--icount"] if entry["icount"] else [])
                    + ["--out", directory])
    lines += command_lines([PASIDBENCH, "report", "--mail", *options,
                            *by_dir])
    notes.append("options a run was given (--filter, --param, --smp, "
                 "--resume) are not in the records, so not above; each "
                 "record's params are the values its test ran with")
    for note in dict.fromkeys(notes):
        lines += wrap(clean(note), indent="  * ", subsequent="    ")
    return lines


def _intro(reports, mutant_report) -> list:
    parts = []
    for report in reports:
        kind = "policy models" if report.sets and report.sets[0].is_model \
            else "kernel builds"
        if len(report.sets) == 1:
            kind = kind.replace("models", "model").replace("builds",
                                                           "build")
        parts.append(f"{len(report.sets)} {kind} "
                     f"(A = {clean(report.sets[0].label)})")
    if mutant_report:
        parts.append(f"{len(mutant_report.sets)} seeded mutants")
    return wrap("pasidbench compared " + ", ".join(parts) + ". Each set "
                "is compared with the A of its kind; mutants only with "
                "what their tests expect.")


def render(reports, mutant_report, summary_text: str,
           options: list | None = None) -> str:
    """options: the report options that change what it shows (--baseline,
    --name, --alpha), repeated in the reproduce command."""
    sets = [s for r in reports for s in r.sets]
    if not sets and mutant_report:   # a run of seeded mutants only
        sets = mutant_report.sets
    lines = [subject(reports, mutant_report), ""]
    lines += _intro(reports, mutant_report) + [""]
    lines += _environment_lines(sets) + [""]
    lines += _heading("Summary")
    lines += summary_text.rstrip("\n").splitlines() + [""]
    lines += _changed_lines(reports) + [""]
    lines += _reproduce_lines(reports, mutant_report, options or [])
    # The full report's own width rule holds here too; a line from a
    # renderer that broke it is clipped rather than wrapped by the client.
    out = []
    for line in lines:
        line = clip(line.rstrip(), WIDTH)
        if line or (out and out[-1]):   # one blank line between parts
            out.append(line)
    return "\n".join(out).rstrip("\n") + "\n"
