#!/usr/bin/env bash
# The nightly LAVA run on a lab of one (not part of ./test.sh: about 7 min
# cold, 1-2 min warm, plus about a minute per job under TCG): stands the
# server up on 127.0.0.1, runs the suite on each kernel through it as LAVA
# jobs, imports the results, writes the comparison report, and stops every
# daemon it started.
#
#   scripts/lava-nightly.sh [OUT [SUITE [KERNEL.toml ...]]]
#   default: out/lava-nightly-<date>  suites/lava-smoke.toml  Debian 6.1 and 6.12
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/lava-nightly-$(date -u +%Y%m%dT%H%M%SZ)}
suite=${2:-suites/lava-smoke.toml}
shift $(( $# > 2 ? 2 : $# ))
kernels=("$@")
((${#kernels[@]})) || kernels=(kernels/debian-6.1-amd64.toml kernels/debian-6.12-amd64.toml)
((${#kernels[@]} >= 2)) || { echo "lava-nightly: name at least two kernels to compare" >&2; exit 2; }

./scripts/setup.sh
trap 'scripts/lava-lab.sh down' EXIT
start=$SECONDS
scripts/lava-lab.sh up "${kernels[@]}"
echo "lava-nightly: lab up after $((SECONDS - start)) s" >&2
rc=0
build/runners/pasidbench lava submit --kernels "${kernels[@]}" --suite "$suite" --out "$out" || rc=1
sets=()
for k in "${kernels[@]}"; do
  name=$(sed -n 's/^name *= *"\(.*\)".*/\1/p' "$k" | head -1)
  [[ -s $out/$name/results.jsonl ]] && sets+=("$out/$name")
done
if ((${#sets[@]} >= 2)); then
  build/runners/pasidbench report "${sets[@]}" --out "$out/report" | tee "$out/report.txt"
else
  echo "lava-nightly: fewer than two kernels have results; no report" >&2
  rc=1
fi
echo "lava-nightly: done in $((SECONDS - start)) s (exit $rc); results in $out" >&2
exit $rc
