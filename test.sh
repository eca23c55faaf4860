#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine (as root), builds, and runs
# every test: ctest (GoogleTest) and pytest, then ctest again under ASan+UBSan
# with the fuzz targets. Ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh --tests || { echo "test.sh: setup failed"; exit 2; }

log=$(mktemp -d)
ctest --preset default -j "$(nproc)" 2>&1 | tee "$log/ctest.txt"
ctest_rc=${PIPESTATUS[0]}
/usr/bin/python3 -m pytest -q -rs tests/python 2>&1 | tee "$log/pytest.txt"
pytest_rc=${PIPESTATUS[0]}

# The same ctest under ASan+UBSan (clang, Debug), with each libFuzzer target
# run for PASIDBENCH_FUZZ_SECONDS over its committed corpus (docs/testing.md).
echo "test.sh: ASan+UBSan build (build-asan/) and its ctest, fuzz targets included"
if { cmake --preset asan >/dev/null && cmake --build --preset asan -j "$(nproc)"; } \
    >"$log/asan-build.txt" 2>&1; then
  ctest --preset asan -j "$(nproc)" 2>&1 | tee "$log/asan.txt"
  asan_rc=${PIPESTATUS[0]}
else
  tail -20 "$log/asan-build.txt"
  echo "ASan build failed (cmake --preset asan && cmake --build --preset asan)" >"$log/asan.txt"
  asan_rc=1
fi

# One line of counts; a missing suite, a Not Run test or a collection error
# is a failure (scripts/test_summary.py, tested by tests/python/test_test_summary.py).
/usr/bin/python3 scripts/test_summary.py "$log/ctest.txt" "$ctest_rc" "$log/pytest.txt" "$pytest_rc" \
  "$log/asan.txt" "$asan_rc"
rc=$?
rm -rf "$log"
exit $rc
