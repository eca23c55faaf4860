#!/usr/bin/python3
"""test.sh's accounting: one summary line from ctest's and pytest's output.

    test_summary.py CTEST_LOG CTEST_RC PYTEST_LOG PYTEST_RC [ASAN_LOG ASAN_RC]

Prints "test.sh: N passed, N failed, N skipped" (and, before it, a line
for each problem that counts as a failure) and exits 1 when anything
failed. What counts as a failure, beyond failed tests:
  - a suite that ran nothing (ctest "No tests were found", pytest exit 5
    "no tests ran"), or whose summary line is missing;
  - a ctest test that did not run ("Not Run": executable missing, fixture
    failed), and any unexplained non-zero exit status;
  - pytest collection errors (counted from "N error(s)").
ASAN_LOG is a second ctest run (the "asan" preset), counted the same way
and named "ctest (asan)" in its problems.
Skips are counted once each: ctest's per-test "***Skipped" lines (and
disabled tests), pytest's "N skipped".
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

# "  3/41 Test  #3: Suite.Name ........   Passed    0.02 sec"
# "  4/41 Test  #4: Suite.Other .......***Failed    0.02 sec"
# "  5/41 Test  #5: Suite.Gone ........***Not Run   0.00 sec"
# Names may hold spaces and '#' (GoogleTest's "# GetParam() = ...") and a
# long one is cut short with no dots, so the status is read from the end.
_CTEST_RESULT = re.compile(r"^\s*\d+/\d+\s+Test\s+#\d+:\s+(?P<name>\S+)")
_CTEST_STATUS = re.compile(
    r"(?:\s(?P<passed>Passed)|(?P<other>(?:Subprocess aborted)?\*\*\*.*?))"
    r"\s+[0-9.]+\s+sec\s*$")
# "100% tests passed, 0 tests failed out of 42"
_CTEST_TOTAL = re.compile(r"tests passed, (\d+) tests? failed out of (\d+)")
# "=== 12 passed, 1 skipped, 2 warnings in 3.21s ===", "no tests ran in 0.01s"
_PYTEST_SUMMARY = re.compile(
    r"^=*\s*((?:\d+ \w+(?:, )?)+|no tests ran)(?: in [0-9.]+s)?.*?=*\s*$")


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    problems: list = field(default_factory=list)

    def add(self, other: "Counts") -> "Counts":
        return Counts(self.passed + other.passed, self.failed + other.failed,
                      self.skipped + other.skipped,
                      self.problems + other.problems)


def count_ctest(text: str, rc: int, label: str = "ctest") -> Counts:
    counts = Counts()
    seen = 0
    for line in text.splitlines():
        match = _CTEST_RESULT.match(line)
        status_match = _CTEST_STATUS.search(line) if match else None
        if not status_match:
            continue
        status = (status_match["passed"] or
                  status_match["other"].split("***", 1)[1]).strip()
        if status == "Not Run (Disabled)":  # not in ctest's "out of N"
            counts.skipped += 1
            continue
        seen += 1
        if status == "Passed":
            counts.passed += 1
        elif status == "Skipped":
            counts.skipped += 1
        else:
            counts.failed += 1
            if status.startswith("Not Run"):
                counts.problems.append(
                    f"{label}: {match['name']} did not run ({status})")
    totals = _CTEST_TOTAL.findall(text)
    if "No tests were found" in text or (seen == 0 and counts.skipped == 0):
        counts.failed += 1
        counts.problems.append(f"{label}: no tests were found (is the build "
                               "complete and the test binary registered?)")
    elif not totals:
        counts.failed += 1
        counts.problems.append(f"{label}: no summary line (did ctest stop "
                               "early?)")
    else:
        total = int(totals[-1][1])
        if total != seen:
            counts.failed += 1
            counts.problems.append(f"{label}: its summary says {total} tests, "
                                   f"{seen} result lines were found")
    if rc != 0 and counts.failed == 0:
        counts.failed += 1
        counts.problems.append(f"{label}: exit status {rc} with no failed test")
    return counts


def _pytest_summary(text: str) -> str | None:
    for line in reversed(text.splitlines()):
        match = _PYTEST_SUMMARY.match(line.strip())
        if match:
            return match[1]
    return None


def count_pytest(text: str, rc: int) -> Counts:
    counts = Counts()
    summary = _pytest_summary(text)
    if summary is None:
        counts.failed += 1
        counts.problems.append("pytest: no summary line (did it crash?)")
    else:
        parts = {}
        for number, word in re.findall(r"(\d+) (\w+)", summary):
            parts[word] = parts.get(word, 0) + int(number)
        counts.passed = parts.get("passed", 0) + parts.get("xfailed", 0)
        counts.skipped = parts.get("skipped", 0)
        errors = parts.get("error", 0) + parts.get("errors", 0)
        counts.failed = parts.get("failed", 0) + parts.get("xpassed", 0) + errors
        if errors:
            counts.problems.append(f"pytest: {errors} error(s) (collection or "
                                   f"fixture)")
    if rc == 5:
        counts.failed += 1
        counts.problems.append("pytest: no tests were collected")
    elif rc != 0 and counts.failed == 0:
        counts.failed += 1
        counts.problems.append(f"pytest: exit status {rc} with no failed test")
    return counts


def summarize(ctest_text: str, ctest_rc: int, pytest_text: str,
              pytest_rc: int, asan_text: str | None = None,
              asan_rc: int = 0) -> Counts:
    counts = count_ctest(ctest_text, ctest_rc).add(
        count_pytest(pytest_text, pytest_rc))
    if asan_text is not None:
        counts = counts.add(count_ctest(asan_text, asan_rc, "ctest (asan)"))
    return counts


def summary_line(counts: Counts) -> str:
    return (f"test.sh: {counts.passed} passed, {counts.failed} failed, "
            f"{counts.skipped} skipped")


def main(argv: list) -> int:
    if len(argv) not in (4, 6):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    ctest_log, ctest_rc, pytest_log, pytest_rc = argv[:4]

    def read(path):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    asan = (read(argv[4]), int(argv[5])) if len(argv) == 6 else (None, 0)
    counts = summarize(read(ctest_log), int(ctest_rc), read(pytest_log),
                       int(pytest_rc), *asan)
    for problem in counts.problems:
        print(f"test.sh: {problem}")
    print(summary_line(counts))
    return 1 if counts.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
