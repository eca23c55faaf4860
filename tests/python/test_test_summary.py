"""test.sh's accounting (scripts/test_summary.py) on real ctest and pytest
output captured once: a missing suite, a Not Run test, a collection error
and an empty pytest run are failures; skips are counted once each."""
import json
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import test_summary as ts  # noqa: E402

DATA = ROOT / "tests" / "python" / "data" / "test_summary"

CTEST_ALL_PASS = """\
Test project /src/build
    Start 1: a
1/3 Test #1: a ................................   Passed    0.01 sec
    Start 2: b
2/3 Test #2: b ................................   Passed    0.01 sec
    Start 3: c
3/3 Test #3: c ................................***Skipped   0.00 sec

100% tests passed, 0 tests failed out of 3

Total Test time (real) =   0.03 sec

The following tests did not run:
\t  3 - c (Skipped)
"""
PYTEST_ALL_PASS = "....s\n1 skipped, 4 passed in 0.50s\n"


def read(name):
    return (DATA / name).read_text()


def test_all_green_counts_each_test_once():
    c = ts.summarize(CTEST_ALL_PASS, 0, PYTEST_ALL_PASS, 0)
    assert (c.passed, c.failed, c.skipped) == (6, 0, 2)
    assert c.problems == []


def test_ctest_failed_not_run_skipped_and_disabled():
    # good: passed; bad: failed; missing binary: Not Run; exit 77: skipped;
    # DISABLED: skipped (ctest leaves it out of "out of 4").
    c = ts.count_ctest(read("ctest-mixed.txt"), 8)
    assert (c.passed, c.failed, c.skipped) == (1, 2, 2)
    assert any("missing did not run (Not Run)" in p for p in c.problems)


def test_no_ctest_tests_is_a_failure_even_with_exit_0():
    text = "Test project /src/build\nNo tests were found!!!\n"
    c = ts.count_ctest(text, 0)
    assert c.failed == 1 and c.passed == 0
    assert "no tests were found" in c.problems[0]


def test_ctest_summary_that_disagrees_with_the_lines_is_a_failure():
    lines = CTEST_ALL_PASS.replace("out of 3", "out of 5")
    assert ts.count_ctest(lines, 0).failed == 1
    stopped = CTEST_ALL_PASS.split("\n100%")[0]
    assert "no summary line" in ts.count_ctest(stopped, 0).problems[0]


def test_unexplained_ctest_exit_status_is_a_failure():
    c = ts.count_ctest(CTEST_ALL_PASS, 8)
    assert c.failed == 1 and c.passed == 2


def test_pytest_mixed():
    c = ts.count_pytest(read("pytest-mixed.txt"), 1)
    assert (c.passed, c.failed, c.skipped) == (2, 1, 1)


def test_pytest_nothing_collected_is_a_failure():
    c = ts.count_pytest(read("pytest-empty.txt"), 5)
    assert (c.passed, c.failed, c.skipped) == (0, 1, 0)
    assert "no tests were collected" in c.problems[0]


def test_pytest_collection_error_is_a_failure():
    c = ts.count_pytest(read("pytest-broken.txt"), 2)
    assert c.failed == 1
    assert "1 error(s)" in c.problems[0]


def test_pytest_without_a_summary_line_is_a_failure():
    c = ts.count_pytest("Traceback (most recent call last):\n  boom\n", 1)
    assert c.failed == 1


def run_script(tmp_path, ctest_text):
    (tmp_path / "c.txt").write_text(ctest_text)
    (tmp_path / "p.txt").write_text(PYTEST_ALL_PASS)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "test_summary.py"),
         tmp_path / "c.txt", "0", tmp_path / "p.txt", "0"],
        capture_output=True, text=True)


def test_the_script_prints_one_line_and_exits_1_on_failure(tmp_path):
    run = run_script(tmp_path, "Test project /x\nNo tests were found!!!\n")
    assert run.returncode == 1
    assert run.stdout.splitlines()[-1] == "test.sh: 4 passed, 1 failed, 1 skipped"
    run = run_script(tmp_path, CTEST_ALL_PASS)
    assert run.returncode == 0
    assert run.stdout == "test.sh: 6 passed, 0 failed, 2 skipped\n"


def test_test_sh_uses_the_script():
    assert "scripts/test_summary.py" in (ROOT / "test.sh").read_text()


def test_test_presets_fail_when_no_tests_are_found():
    presets = json.loads((ROOT / "CMakePresets.json").read_text())
    for preset in presets["testPresets"]:
        assert preset.get("execution", {}).get("noTestsAction") == "error", \
            preset["name"]


@pytest.mark.skipif(not (ROOT / "build" / "CTestTestfile.cmake").exists(),
                    reason="no configured build/ (run ./scripts/setup.sh)")
def test_ctest_preset_with_no_matching_test_exits_non_zero():
    ctest = shutil.which("ctest")
    assert ctest, "ctest is not installed"
    run = subprocess.run([ctest, "--preset", "default", "-R", "^no_such_test_zz$"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "No tests were found" in run.stdout + run.stderr
    assert run.returncode != 0


def test_ctest_names_with_spaces_hash_and_no_dots():
    text = """\
Test project /src/build
1/4 Test #1: Model/RealPolicy.Passes/mm_lifetime  # GetParam() = "mm-lifetime" ......   Passed    0.14 sec
2/4 Test #2: A.Very.Long.Name.Cut.Short.Without.Any.Dots.At.A***Failed    0.02 sec
3/4 Test #3: Crash.Case ..........***Exception: SegFault  0.01 sec
4/4 Test #4: Slow.Case ...........***Timeout 300.01 sec

50% tests passed, 3 tests failed out of 4
"""
    c = ts.count_ctest(text, 8)
    assert (c.passed, c.failed, c.skipped) == (1, 3, 0), c.problems


def test_asan_run_counts_and_names_its_own_problems():
    c = ts.summarize(CTEST_ALL_PASS, 0, PYTEST_ALL_PASS, 0, CTEST_ALL_PASS, 0)
    assert (c.passed, c.failed, c.skipped) == (8, 0, 3)
    failed_build = "ASan build failed (cmake --preset asan)\n"
    c = ts.summarize(CTEST_ALL_PASS, 0, PYTEST_ALL_PASS, 0, failed_build, 1)
    assert c.failed == 1
    assert c.problems == ["ctest (asan): no tests were found (is the build "
                          "complete and the test binary registered?)"]


def test_test_sh_passes_the_asan_run_to_the_summary():
    text = (ROOT / "test.sh").read_text()
    assert "ctest --preset asan" in text
    assert '"$log/asan.txt" "$asan_rc"' in text
