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

build/runners/pasidbench report "$out" --out "$out/report" >"$out/report.txt"
report_rc=$?
cat "$out/report.txt"
echo
echo "results: $out/results.jsonl"
echo "report:  $out/report.txt and $out/report/report.html"
if [[ $report_rc -ne 0 ]]; then echo "run.sh: the report failed" >&2; exit 1; fi
exit $run_rc
