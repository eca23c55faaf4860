#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine (as root), builds, and runs
# every test: ctest (GoogleTest) and pytest. Ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh --tests || { echo "test.sh: setup failed"; exit 2; }

log=$(mktemp -d)
ctest --preset default -j "$(nproc)" 2>&1 | tee "$log/ctest.txt"
ctest_rc=${PIPESTATUS[0]}
/usr/bin/python3 -m pytest -q -rs tests/python 2>&1 | tee "$log/pytest.txt"
pytest_rc=${PIPESTATUS[0]}

# One line of counts; a missing suite, a Not Run test or a collection error
# is a failure (scripts/test_summary.py, tested by tests/python/test_test_summary.py).
/usr/bin/python3 scripts/test_summary.py "$log/ctest.txt" "$ctest_rc" "$log/pytest.txt" "$pytest_rc"
rc=$?
rm -rf "$log"
exit $rc
