"""What a run makes of one conformance record, as results/verdict.cc
decides it, and the word each outcome is shown as."""

from __future__ import annotations

OUTCOME_TEXT = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP",
                "error": "ERROR", "crashed": "CRASHED", "timeout": "TIMEOUT",
                "incomplete": "INCOMPLETE"}


def verdict(record: dict) -> str:
    """What the run makes of a record, as results/verdict.cc decides it:
    passed, failed, skipped, xfail (failed as the suite expects), caught (a
    seeded mutant caught here) or not-caught (a seeded mutant this test did
    not catch; some other test must)."""
    outcome = record["outcome"]
    if outcome == "skip":
        return "skipped"
    if record.get("expected_outcome") == "fail":
        return "xfail" if outcome == "fail" else "failed"
    if record.get("mutant_of"):
        if outcome == "fail":
            return "caught"
        if outcome in ("pass", "incomplete"):
            return "not-caught"
        return "failed"
    return "passed" if outcome == "pass" else "failed"


def is_expected(record: dict) -> bool:
    """Not a failure of the run: passed, skipped, xfail, caught, not-caught."""
    return verdict(record) != "failed"


def outcome_text(record: dict) -> str:
    """PASS/FAIL/INCOMPLETE/...; a failure the suite expects is XFAIL, one
    that passed XPASS; a seeded mutant's failure is CAUGHT, its pass (or
    incomplete search) NOT CAUGHT."""
    outcome = record["outcome"]
    v = verdict(record)
    if v == "xfail":
        return "XFAIL"
    if record.get("expected_outcome") == "fail" and outcome == "pass":
        return "XPASS"
    if v == "caught" or (record.get("mutant_of") and outcome == "fail"):
        return "CAUGHT"
    if v == "not-caught":
        return "NOT CAUGHT"
    return OUTCOME_TEXT[outcome]
