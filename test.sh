#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine (as root), builds, and runs
# every test: ctest (GoogleTest) and pytest. Ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh || { echo "test.sh: setup failed"; exit 2; }

log=$(mktemp -d)
ctest --preset default -j "$(nproc)" 2>&1 | tee "$log/ctest.txt"
ctest_rc=${PIPESTATUS[0]}
/usr/bin/python3 -m pytest -q -rs tests/python 2>&1 | tee "$log/pytest.txt"
pytest_rc=${PIPESTATUS[0]}

# ctest: "100% tests passed, 0 tests failed out of 42"
c_total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log/ctest.txt" | tail -1)
c_failed=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$log/ctest.txt" | tail -1)
c_skipped=$(grep -c '\*\*\*Skipped\|Not Run' "$log/ctest.txt")
# pytest: "12 passed, 1 skipped in 3.2s" (any order of the parts)
p_line=$(grep -E '^[=]* ?[0-9]+ (passed|failed|error|skipped)' "$log/pytest.txt" | tail -1)
count() { echo "$p_line" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' || echo 0; }
p_passed=$(count passed); p_failed=$(( $(count failed) + $(count error) )); p_skipped=$(count skipped)

c_total=${c_total:-0}; c_failed=${c_failed:-0}
passed=$(( c_total - c_failed - c_skipped + p_passed ))
failed=$(( c_failed + p_failed ))
skipped=$(( c_skipped + p_skipped ))
if [[ $ctest_rc -ne 0 && $c_failed -eq 0 ]]; then failed=$((failed + 1)); fi
if [[ $pytest_rc -ne 0 && $pytest_rc -ne 5 && $p_failed -eq 0 ]]; then failed=$((failed + 1)); fi
rm -rf "$log"
echo "test.sh: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
