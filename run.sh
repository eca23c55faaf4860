#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine (as root), builds, runs the
# smoke suite end to end and writes its report. Prints where both are.
set -uo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh || { echo "run.sh: setup failed" >&2; exit 2; }

out=${PASIDBENCH_OUT:-out/smoke-$(date -u +%Y%m%dT%H%M%SZ)}
build/runners/pasidbench run suites/smoke.toml --out "$out"
run_rc=$?
if [[ $run_rc -eq 2 ]]; then echo "run.sh: the smoke suite did not start" >&2; exit 2; fi

# The summary (at most 60 lines of 72 columns) on the terminal; the full
# report, summary first, goes to files.
# What the report left out is in its footer; stderr is kept beside it.
mkdir -p "$out/report"
build/runners/pasidbench report "$out" --out "$out/report" --summary \
  2>"$out/report/stderr.txt"
report_rc=$?
if [[ $report_rc -ne 0 ]]; then cat "$out/report/stderr.txt" >&2; fi
echo
echo "results: $out/results.jsonl"
echo "report:  $out/report/report.txt and $out/report/report.html"
if [[ $report_rc -ne 0 ]]; then echo "run.sh: the report failed" >&2; exit 1; fi
exit $run_rc
