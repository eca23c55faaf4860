"""Command line: pasidbench_report.py [options] RESULTS...

Exit status: 0 when a report was produced (even with data left out), 2 for
bad usage or when nothing valid was found.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

from . import compare, load, stats, table

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="pasidbench report",
        description="Compare pasidbench result sets. The first RESULTS is the "
                    "baseline. Prints a plain-text table (<= 72 columns) for "
                    "mail on stdout; with --out, also writes an HTML page and "
                    "plots (PNG and SVG).")
    parser.add_argument("results", nargs="+", metavar="RESULTS",
                        help="a directory holding results.jsonl, or a .jsonl "
                             "file")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="write report.html, report.txt and plots/ here")
    parser.add_argument("--name", action="append", default=[], metavar="LABEL",
                        help="column label for the next set, in order "
                             "(repeat for each set; default: the kernel name, "
                             "or the policy for model results)")
    parser.add_argument("--baseline", metavar="NAME",
                        help="the set (label) every other set of its kind "
                             "is compared with (default: the first policy, "
                             "and the first kernel: a lab run's first "
                             "--kernels entry)")
    parser.add_argument("--summary", action="store_true",
                        help="print only the summary (at most about 60 "
                             "lines); the full report still goes to --out")
    parser.add_argument("--mail", action="store_true",
                        help="print a complete plain-text mail: subject, "
                             "environment, summary, the changed metrics "
                             "only, and how to reproduce")
    parser.add_argument("--alpha", type=float, default=stats.DEFAULT_ALPHA,
                        help="significance level of the U test; the bootstrap "
                             "interval is at 1 - alpha (default %(default)s)")
    parser.add_argument("--cov-warn", type=float, default=5.0, metavar="PCT",
                        help="warn when a set's coefficient of variation is "
                             "above PCT percent (default %(default)s)")
    parser.add_argument("--bootstrap", type=int,
                        default=stats.DEFAULT_BOOTSTRAP_RESAMPLES, metavar="N",
                        help="bootstrap resamples (default %(default)s)")
    parser.add_argument("--no-plots", action="store_true",
                        help="with --out, write the HTML without plots")
    parser.add_argument("--metric", action="append", default=[],
                        metavar="REGEX",
                        help="report only metrics whose name matches REGEX "
                             "(repeatable; text, HTML and plots)")
    parser.add_argument("--changes-only", action="store_true",
                        help="in the text table, show only the metrics where "
                             "some set differs significantly from A (the "
                             "HTML page keeps them all): a mail-sized table")
    parser.add_argument("--rows", choices=("blocks", "mmtests"),
                        default="blocks",
                        help="text layout: blocks (default: one block per "
                             "metric, <= 72 columns) or mmtests (one row per "
                             "statistic and metric, as compare-mmtests.pl "
                             "prints, so `grep ^Amean` works)")
    parser.add_argument("--mark", choices=("utest", "mmtests"),
                        default="utest",
                        help="with --rows mmtests: which changes are marked "
                             "*x%%*: this report's test (default) or mmtests' "
                             "rule (the mean +- 1.96 stddev intervals do not "
                             "overlap)")
    args = parser.parse_args(argv)
    if args.mark != "utest" and args.rows != "mmtests":
        parser.error("--mark mmtests needs --rows mmtests")
    try:
        args.metric = [re.compile(pattern) for pattern in args.metric]
    except re.error as err:
        parser.error(f"--metric: not a regular expression: {err}")
    if not 0 < args.alpha < 1:
        parser.error("--alpha must be between 0 and 1")
    if args.bootstrap < 100:
        parser.error("--bootstrap must be at least 100")
    if args.cov_warn < 0:
        parser.error("--cov-warn must not be negative")
    return parser, args


def load_all(sources: list) -> tuple:
    """Load every RESULTS argument; return (sets, problems about sources)."""
    sets, problems = [], []
    for source in sources:
        try:
            sets.extend(load.load_result_sets(source))
        except load.LoadError as err:
            problems.append(f"{err} -- whole set left out")
    return sets, problems


GROUP_TITLES = {"policy": "Policies (model backend)",
                "kernel": "Kernel builds"}


def arrange(sets: list, baseline: str | None) -> tuple:
    """([comparison group], [seeded mutant sets], problems): the sets of one
    kind (policies, kernel builds) are compared with each other, the first
    of each kind, or the one named by --baseline, being its baseline.
    Seeded mutants are never compared with policies: they have conformance
    verdicts only. Raises ValueError when --baseline names no set."""
    groups = {}
    mutants = []
    for result_set in sets:
        if result_set.is_mutant:
            mutants.append(result_set)
        else:
            groups.setdefault(result_set.compares, []).append(result_set)
    if baseline is not None:
        found = False
        for members in groups.values():
            for k, result_set in enumerate(members):
                if result_set.label == baseline:
                    members.insert(0, members.pop(k))
                    found = True
                    break
        if not found:
            labels = ", ".join(s.label for s in sets if not s.is_mutant)
            raise ValueError(f"--baseline {baseline}: no such set "
                             f"(the sets are: {labels})")
    return list(groups.items()), mutants


def apply_names(sets: list, names: list) -> list:
    problems = []
    for result_set, name in zip([s for s in sets if not s.is_mutant],
                                names):
        result_set.label = name
    seen = {}
    for result_set in sets:
        if result_set.label in seen:
            seen[result_set.label] += 1
            old = result_set.label
            result_set.label = f"{old}#{seen[old]}"
            problems.append(f"two sets are called {old!r}; the later one is "
                            f"shown as {result_set.label!r} (use --name)")
        else:
            seen[result_set.label] = 1
    return problems


def main(argv=None) -> int:
    parser, args = parse_args(sys.argv[1:] if argv is None else argv)
    sets, problems = load_all(args.results)
    if not sets:
        for problem in problems:
            print(f"pasidbench report: {problem}", file=sys.stderr)
        print("pasidbench report: no valid result set; nothing to report",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if len(args.name) > len(sets):
        parser.print_usage(sys.stderr)
        print(f"pasidbench report: {len(args.name)} --name labels for "
              f"{len(sets)} result sets", file=sys.stderr)
        return EXIT_BAD_INPUT
    problems += apply_names(sets, args.name)
    try:
        groups, mutants = arrange(sets, args.baseline)
    except ValueError as err:
        print(f"pasidbench report: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT

    reports = []
    for compares, members in groups:
        report = compare.build_report(members, alpha=args.alpha,
                                      cov_warn_pct=args.cov_warn,
                                      resamples=args.bootstrap)
        report.title = GROUP_TITLES[compares]
        reports.append(report)
    mutant_report = None
    if mutants:
        mutant_report = compare.build_report(mutants, alpha=args.alpha,
                                             cov_warn_pct=args.cov_warn,
                                             resamples=args.bootstrap,
                                             conformance_only=True)
        mutant_report.title = "Seeded mutants (conformance only)"
    everything = reports + ([mutant_report] if mutant_report else [])
    everything[0].left_out[:0] = problems
    if sets[0].source != args.results[0]:
        everything[0].warnings.insert(
            0, f"BASELINE REPLACED: {args.results[0]} could not be read; "
               f"A is {sets[0].source}.")
    text_reports = [_select(report, args) for report in reports]
    if args.rows == "mmtests":
        from . import mmtests_rows
        full = "".join(mmtests_rows.render(r, args.mark)
                       for r in text_reports)
    else:
        full = "\n".join(table.render(r) for r in text_reports)
    if mutant_report:
        full += "\n" + table.render(mutant_report)
    from . import summary
    summary_text = summary.render(reports, mutant_report)
    if args.mail:
        from . import mail
        sys.stdout.write(mail.render(reports, mutant_report, summary_text,
                                     _shown_options(args)))
    elif args.summary:
        sys.stdout.write(summary_text)
    elif args.rows == "mmtests":
        sys.stdout.write(full)   # for scripts: the rows alone
    else:
        sys.stdout.write(summary_text + "\n" + full)
    sys.stdout.flush()
    for report in everything:
        for warning in report.warnings:
            print(f"pasidbench report: {warning}", file=sys.stderr)
        for problem in report.left_out:
            print(f"pasidbench report: left out: {problem}", file=sys.stderr)

    if args.out:
        from . import html
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.txt").write_text(summary_text, encoding="utf-8")
        (args.out / "report.txt").write_text(summary_text + "\n" + full,
                                             encoding="utf-8")
        figures = []
        if not args.no_plots:
            from . import plots
            for compares, report in zip((c for c, _ in groups), reports):
                figures.append(plots.write_all(
                    report, args.out / "plots" / compares))
        else:
            figures = [[] for _ in reports]
        if not args.no_plots:
            from . import policy_kernels
            for i, (compares, report) in enumerate(zip((c for c, _ in groups), reports)):
                if compares != "policy":
                    figure = policy_kernels.plot(report.sets, args.out / "plots" / "policies")
                    if figure:
                        figures[i].append(figure)
        html_path = args.out / "report.html"
        html_path.write_text(
            html.render(reports, mutant_report, summary_text, full, figures,
                        args.out), encoding="utf-8")
        print(f"pasidbench report: wrote {html_path} and "
              f"{sum(len(f) for f in figures)} plots", file=sys.stderr)
    return EXIT_OK


def _shown_options(args) -> list:
    """The options that change what the mail shows, to repeat them."""
    options = []
    if args.baseline:
        options += ["--baseline", args.baseline]
    for name in args.name:
        options += ["--name", name]
    if args.alpha != stats.DEFAULT_ALPHA:
        options += ["--alpha", f"{args.alpha:g}"]
    for pattern in args.metric:
        options += ["--metric", pattern.pattern]
    return options


def _select(report, args):
    """The report as the text shows it: --metric and --changes-only."""
    if args.metric:
        kept = [row for row in report.metrics
                if any(p.search(row.metric) for p in args.metric)]
        if not kept and report.metrics:
            report.warnings.append(
                "no metric matches --metric " + " ".join(
                    p.pattern for p in args.metric))
        report.metrics = kept
    if not args.changes_only:
        return report
    changed = report.significant_metrics()
    hidden = len(report.metrics) - len(changed)
    return dataclasses.replace(
        report, metrics=changed,
        selection_note=(
            f"--changes-only: {len(changed)} of {len(report.metrics)} "
            f"metric blocks differ from A; the {hidden} others are not "
            f"shown here"
            + (" (the HTML page has them all)." if args.out else ".")))
