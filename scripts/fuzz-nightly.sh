#!/usr/bin/env bash
# The long fuzz run for a nightly lab: builds the "asan" preset and runs each
# libFuzzer target for SECONDS (default 600) over its committed corpus,
# one after another. New inputs go to build-asan/tests/fuzz/corpus-found/,
# crashes to build-asan/tests/fuzz/crash-<target>-*; the checkout is never
# written. Exit 0: no target crashed; 1: a target crashed or could not run;
# 2: bad arguments. To keep what was found, minimise it into the corpus by
# hand (docs/testing.md).
set -uo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/fuzz-nightly.sh [--seconds N] [TARGET...]"
seconds=600
targets=()
while (($#)); do
  case $1 in
    --seconds) seconds=${2:-}; shift 2 || { echo "$usage" >&2; exit 2; } ;;
    -h | --help) echo "$usage"; echo "targets: suite scenario kernel_manifest replay results_line lava_results"; exit 0 ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz-nightly: --seconds must be a positive integer, not '$seconds'" >&2; exit 2; }
((${#targets[@]})) || targets=(suite scenario kernel_manifest replay results_line lava_results)

cmake --preset asan >/dev/null && cmake --build --preset asan -j "$(nproc)" >/dev/null ||
  { echo "fuzz-nightly: the asan build failed (cmake --build --preset asan)" >&2; exit 1; }

fuzz=build-asan/tests/fuzz
export ASAN_OPTIONS=handle_segv=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for target in "${targets[@]}"; do
  if [[ ! -x $fuzz/${target}_fuzz ]]; then
    echo "fuzz-nightly: no target '$target' ($fuzz/${target}_fuzz)" >&2
    failed+=("$target")
    continue
  fi
  found=$fuzz/corpus-found/$target
  mkdir -p "$found"
  echo "fuzz-nightly: $target for ${seconds} s" >&2
  if "$fuzz/${target}_fuzz" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$fuzz/crash-$target-" \
      "$found" "tests/fuzz/corpus/$target" >"$fuzz/nightly-$target.log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^Done' "$fuzz/nightly-$target.log" | tail -1 >&2
  else
    echo "fuzz-nightly: $target FAILED, see $fuzz/nightly-$target.log:" >&2
    grep -E 'ERROR|SUMMARY|Test unit written' "$fuzz/nightly-$target.log" | head -5 >&2
    failed+=("$target")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz-nightly: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz-nightly: ${#targets[@]} target(s), ${seconds} s each, no crash"
