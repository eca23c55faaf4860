"""Issue 16, findings 6 and 7: bad input is exit 2 naming file:line, never an
internal error (exit 3), and no number in a manifest is narrowed, wrapped or
replaced silently. Each case failed on main before the fix (exit 3, exit 0,
or a run planned from a truncated number)."""
import json
import subprocess

import pytest

from conftest import PASIDBENCH


def pb(*args, cwd=None, timeout=60):
    return subprocess.run([str(PASIDBENCH), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def suite_text(head="", test_extra="", params="cpus = 2"):
    return (f'[suite]\nname = "limits"\nbackends = ["model:mm-lifetime-lazy-gp"]\n{head}\n'
            f'[[test]]\nworkload = "clone-bind-exit"\n{test_extra}\n'
            f'[test.params]\n{params}\n')


@pytest.mark.parametrize("head, test_extra, line, message", [
    # 4294967297 was read as 1 (int64 -> int truncation).
    ("timeout_s = 4294967297", "", 4, "timeout_s' must be 1..604800"),
    ("timeout_s = 0", "", 4, "timeout_s' must be 1..604800"),
    # A negative per-test timeout was silently replaced by the suite's.
    ("", "timeout_s = -5", 7, "timeout_s' must be 0..604800"),
    ("repetitions = 4294967297", "", 4, "repetitions' must be 1..1000"),
])
def test_suite_numbers_out_of_range_exit_2_at_their_line(tmp_path, head, test_extra, line,
                                                         message):
    suite = tmp_path / "s.toml"
    suite.write_text(suite_text(head, test_extra))
    res = pb("run", suite, "--out", tmp_path / "out")
    assert res.returncode == 2, res.stderr
    assert f"s.toml:{line}:" in res.stderr and message in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()


def test_suite_matrix_of_a_billion_tests_is_refused_at_once(tmp_path):
    # Nine lines that expand to 10^9 tests used to spin building the plan.
    axis = "[" + ", ".join(str(i) for i in range(1, 11)) + "]"
    params = "\n".join(f"p{i} = {axis}" for i in range(9))
    suite = tmp_path / "s.toml"
    suite.write_text(suite_text(params=params))
    res = pb("run", suite, "--out", tmp_path / "out", timeout=20)
    assert res.returncode == 2, res.stderr
    assert "s.toml:5:" in res.stderr and "more than 100000 tests" in res.stderr, res.stderr


SCENARIO = """[scenario]
name = "big"
cpus = {cpus}

[[task]]
name = "main"
start = "initial"
program = [
  {{ op = "bind" }},
  {{ op = "repeat", count = {outer}, body = [
    {{ op = "repeat", count = {inner}, body = [ {{ op = "submit", count = {submit} }} ] }},
  ] }},
  {{ op = "unbind" }},
]
"""


@pytest.mark.parametrize("values, line, message", [
    # Each count is in range; their product passes int64 and used to wrap.
    (dict(cpus=2, outer=1000000, inner=1000000, submit=1), 11, "counts multiply to more than"),
    (dict(cpus=2, outer=1, inner=1, submit=10**12), 11, "count must be at most 1000000"),
    (dict(cpus=100000, outer=1, inner=1, submit=1), 1, "cpus must be 1..4096"),
])
def test_scenario_counts_that_overflow_exit_2(tmp_path, values, line, message):
    scenario = tmp_path / "big.toml"
    scenario.write_text(SCENARIO.format(**values))
    res = pb("check", "--policy", "mm-lifetime-lazy-gp", "--workload", scenario,
             "--out", tmp_path / "out")
    assert res.returncode == 2, res.stderr
    assert f"big.toml:{line}:" in res.stderr and message in res.stderr, res.stderr


@pytest.mark.parametrize("replay, message", [
    ({"format": 5}, "field 'format' is not a string"),
    ({"format": "pasidbench-replay/1", "policy": "x", "workload": "y", "scenario": "",
      "pasidbench_revision": 7}, "is not a string"),
])
def test_replay_with_wrong_json_types_exits_2(tmp_path, replay, message):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(replay))
    res = pb("check", "--replay", path)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "internal error" not in res.stderr, res.stderr


def test_replay_that_is_not_json_names_the_line(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{\n  "format": "pasidbench-replay/1",\n  "policy": oops\n}\n')
    res = pb("check", "--replay", path)
    assert res.returncode == 2, res.stderr
    assert f"{path}:3: not valid JSON" in res.stderr, res.stderr


def test_replay_with_a_number_too_large_exits_2(tmp_path):
    # nlohmann throws out_of_range, not parse_error, for this (found by fuzz_replay).
    path = tmp_path / "r.json"
    path.write_text('{"format": "pasidbench-replay/1", "choices": [1E400]}\n')
    res = pb("check", "--replay", path)
    assert res.returncode == 2, res.stderr
    assert "not valid JSON" in res.stderr and "internal error" not in res.stderr, res.stderr


BAD_RESULTS = '{"record":"test","outcome":5}\n[1,2]\n{"record":7}\n'


def test_lava_cases_on_a_bad_record_names_its_line(tmp_path):
    results = tmp_path / "results.jsonl"
    results.write_text(BAD_RESULTS)
    res = pb("lava", "cases", results)
    assert res.returncode == 2, res.stderr
    assert f"{results}:1: not a result record" in res.stderr, res.stderr
    assert "lava-test-case" not in res.stdout


def test_history_import_of_nothing_valid_is_exit_2(tmp_path):
    results = tmp_path / "results.jsonl"
    results.write_text(BAD_RESULTS)
    res = pb("history", "import", results, "--db", tmp_path / "h.db")
    assert res.returncode == 2, res.stderr
    assert "no record could be filed" in res.stderr, res.stderr


def test_resume_over_lines_of_odd_shape_is_not_an_internal_error(tmp_path):
    # {"record": 7} and a bare array made json::value() throw in the resume scan.
    suite = tmp_path / "s.toml"
    suite.write_text(suite_text())
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text('[1,2]\n{"record":7}\n')
    res = pb("run", suite, "--out", out, "--resume")
    assert "internal error" not in res.stderr, res.stderr
    assert res.returncode in (0, 1), res.stderr
