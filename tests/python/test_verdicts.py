"""What a run's exit code, records, KTAP, KCIDB and reports claim (issue 16
findings 2, 3, 9 and 10): a resumed run keeps its recorded failures, an
incomplete search is never a pass, the conformance suite is green when every
real policy passes and every seeded mutant is caught, and `check` leaves no
replay file in the directory it runs in."""
import json
import subprocess

import jsonschema

import report_fixtures as fx
from conftest import PASIDBENCH, ROOT

SCHEMA = json.loads((ROOT / "results" / "schema" / "result-v2.schema.json").read_text())
KCIDB = json.loads((ROOT / "results" / "schema" / "kcidb-v5.3-subset.schema.json").read_text())


def pb(*args, cwd=None):
    return subprocess.run([str(PASIDBENCH), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def records_in(out):
    lines = (out / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for r in records:
        jsonschema.validate(r, SCHEMA)
    return [r for r in records if r["record"] == "test"]


def write_suite(tmp_path, body, name="v"):
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[suite]\nname = "{name}"\ntimeout_s = 120\n' + body)
    return path


# ---------------------------------------------------------------- finding 2

def test_resume_keeps_recorded_failures_in_the_exit_code(tmp_path):
    # A real policy expected to fail passes: a failure of the run (XPASS).
    suite = write_suite(tmp_path, """
[[test]]
workload = "clone-bind-exit"
backends = ["model:mm-lifetime"]
params = { rounds = 1 }
expect = "fail"

[[test]]
workload = "clone-bind-exit"
backends = ["model:resync-ipi"]
params = { rounds = 1 }
""")
    out = tmp_path / "out"
    first = pb("run", suite, "--out", out)
    assert first.returncode == 1, first.stderr
    again = pb("run", suite, "--out", out, "--resume", "--format", "ktap")
    assert again.returncode == 1, again.stderr
    assert "1 passed, 1 failed, 0 skipped" in again.stderr
    assert "2 result(s) taken from the earlier run (--resume), 1 of them failed" in again.stderr
    assert "not ok 1 clone-bind-exit[rounds=1]@model:mm-lifetime # expected to fail, passed" \
        in again.stdout
    assert "taken from run " in again.stdout
    assert "XPASS" not in again.stdout
    assert len(records_in(out)) == 2     # nothing ran again


# ---------------------------------------------------------------- finding 3

def test_a_capped_search_is_incomplete_not_a_pass(tmp_path):
    suite = write_suite(tmp_path, """
[[test]]
workload = "clone-bind-exit"
backends = ["model:resync-ipi"]
params = { rounds = 2, strategy = "exhaustive", schedules = 5 }
""")
    out = tmp_path / "out"
    run = pb("run", suite, "--out", out, "--format", "ktap")
    assert run.returncode == 1, run.stderr
    [record] = records_in(out)
    assert record["outcome"] == "incomplete"
    assert record["search"]["complete"] is False
    assert "schedules cap (5)" in record["reason"]
    assert "not a pass" in record["reason"]
    assert "not ok 1 clone-bind-exit[rounds=2,schedules=5,strategy=exhaustive]@model:resync-ipi" \
        " # incomplete: search stopped by the schedules cap (5)" in run.stdout
    assert "0 passed, 1 failed" in run.stderr

    check = pb("check", "--policy", "resync-ipi", "--workload", "clone-bind-exit",
               "--param", "schedules=5", "--format", "json", cwd=tmp_path)
    assert check.returncode == 1
    assert json.loads(check.stdout)["verdict"] == "incomplete"


def test_the_schema_says_a_pass_comes_from_a_complete_search():
    record = fx.model_record("resync-ipi", "w", {}, kind="conformance")
    record["search"] = {"strategy": "pct", "complete": False}
    try:
        jsonschema.validate(record, SCHEMA)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("a pass with search.complete false is valid")
    record["search"]["complete"] = True
    jsonschema.validate(record, SCHEMA)
    record["outcome"] = "incomplete"
    record["search"]["complete"] = False
    jsonschema.validate(record, SCHEMA)


# ---------------------------------------------------------------- finding 10

MUTANT_SUITE = """
[[test]]
workload = "clone-bind-exit"
backends = ["model:resync-ipi", "model:resync-ipi/no-switch-resync"]
params = { rounds = 1 }

[[test]]
workload = "thread-pool"
backends = ["model:resync-ipi", "model:resync-ipi/no-switch-resync"]
params = { binder = "stays" }
"""

def test_a_caught_mutant_is_green_and_says_where(tmp_path):
    out = tmp_path / "out"
    run = pb("run", write_suite(tmp_path, MUTANT_SUITE), "--out", out, "--format", "ktap")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    caught = [l for l in lines if "@model:resync-ipi/no-switch-resync" in l and "clone-bind" in l]
    missed = [l for l in lines if "@model:resync-ipi/no-switch-resync" in l and "thread-pool" in l]
    assert caught[0].startswith("ok 2 ") and " # XFAIL caught: stale_pasid_held" in caught[0]
    assert missed[0].startswith("ok 4 ") and " # not caught here: no violation" in missed[0]
    assert "seeded mutants: 1 of 1 caught" in run.stderr
    assert "(seeded mutant caught)" in run.stderr
    assert "(seeded mutant not caught here)" in run.stderr
    for directive in ("XPASS", "# PASS", "# FAIL"):
        assert directive not in run.stdout
    mutants = [r for r in records_in(out) if r["backend"].endswith("/no-switch-resync")]
    assert {r["mutant_of"] for r in mutants} == {"resync-ipi"}
    assert all("mutant_of" not in r for r in records_in(out) if r not in mutants)


def test_a_mutant_caught_by_no_test_fails_the_run_by_name(tmp_path):
    out = tmp_path / "out"
    run = pb("run", write_suite(tmp_path, MUTANT_SUITE), "--out", out, "--filter", "thread-pool")
    assert run.returncode == 1
    assert "FAIL: seeded mutant(s) caught by no test: model:resync-ipi/no-switch-resync" \
        in run.stderr


def test_the_conformance_suite_is_green_when_all_is_well(tmp_path):
    run = pb("run", ROOT / "suites" / "conformance.toml", "--out", tmp_path / "out", "--quiet")
    assert run.returncode == 0, run.stderr
    assert "56 passed, 0 failed, 0 skipped; seeded mutants: 4 of 4 caught" in run.stderr
    assert all(r["outcome"] != "incomplete" for r in records_in(tmp_path / "out"))


def test_kcidb_shows_a_caught_mutant_as_expected_and_an_incomplete_search_as_error(tmp_path):
    out = tmp_path / "out"
    pb("run", write_suite(tmp_path, MUTANT_SUITE), "--out", out)
    incomplete = write_suite(tmp_path, """
[[test]]
workload = "clone-bind-exit"
backends = ["model:resync-ipi"]
params = { rounds = 2, schedules = 5 }
""", name="cut")
    pb("run", incomplete, "--out", out)
    export = pb("export", "kcidb", out, "--origin", "pasidbench_test")
    assert export.returncode == 0, export.stderr
    report = json.loads(export.stdout)
    jsonschema.validate(report, KCIDB)
    by_verdict = {}
    for t in report["tests"]:
        if "metric" in t["misc"]:
            continue
        by_verdict.setdefault(t["misc"].get("verdict"), []).append(t)
    [caught] = by_verdict["caught"]
    assert caught["status"] == "PASS"
    assert caught["misc"]["outcome"] == "fail"
    assert caught["misc"]["seeded_mutant_of"] == "resync-ipi"
    assert caught["comment"].startswith("caught: stale_pasid_held")
    assert [t["status"] for t in by_verdict["not caught here"]] == ["PASS"]
    [cut] = [t for t in by_verdict["failed"] if t["misc"]["outcome"] == "incomplete"]
    assert cut["status"] == "ERROR"
    [summary] = [t for t in report["tests"] if t["path"].startswith("pasidbench.seeded-mutant.")]
    assert summary["status"] == "PASS"


# ---------------------------------------------------------------- finding 9

def test_check_writes_replay_files_under_out_not_here(tmp_path):
    args = ("check", "--policy", "task-refcount/unbind-frees", "--workload", "thread-pool",
            "--param", "binder=unbinds", "--param", "shrink=false")
    default = pb(*args, cwd=tmp_path)
    assert default.returncode == 1
    assert not list(tmp_path.glob("replay-*.json"))
    assert len(list((tmp_path / "out" / "check").glob("replay-*.json"))) == 1
    chosen = pb(*args, "--out", tmp_path / "mine", cwd=tmp_path)
    assert chosen.returncode == 1
    assert len(list((tmp_path / "mine").glob("replay-*.json"))) == 1


def test_no_replay_file_is_tracked_and_the_root_ones_are_ignored():
    tracked = subprocess.run(["git", "ls-files", "replay-*.json"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert tracked == ""
    for path in ("replay-x-y-0123abcd.json", "out/check/replay-x-y-0123abcd.json"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0, path


# ---------------------------------------------------------------- reports

def test_the_report_shows_caught_not_caught_and_incomplete(tmp_path):
    caught = fx.model_record("task-refcount/unbind-frees", "thread-pool", {"binder": "unbinds"},
                             kind="conformance", outcome="fail",
                             reason="isolation_violation in 3 of 9 schedules",
                             violations={"isolation_violation": 3})
    missed = fx.model_record("task-refcount/unbind-frees", "clone-bind-exit", {"rounds": 1},
                             kind="conformance", reason="no violation in 9 schedules")
    other = fx.model_record("resync-ipi/no-switch-resync", "clone-bind-exit", {"rounds": 1},
                            kind="conformance", reason="no violation in 9 schedules")
    for r, parent in ((caught, "task-refcount"), (missed, "task-refcount"),
                      (other, "resync-ipi")):
        r["mutant_of"] = parent
    cut = fx.model_record("resync-ipi", "clone-bind-exit", {"rounds": 1}, kind="conformance",
                          outcome="incomplete",
                          reason="search stopped by the time limit (1 s) after 1 schedule")
    cut["search"] = {"strategy": "pct", "complete": False}
    fx.write_results(tmp_path / "m", [cut, caught, missed, other])
    status, out, err = fx.run_cli([tmp_path / "m"])
    assert status == 0
    lines = out.splitlines()
    rows = [l.split() for l in lines]
    # The policy is compared with policies only; the mutants have a grid
    # of their own, never columns beside a policy.
    assert ["clone-bind-exit", "rounds=1", "INCOMPLETE"] in rows
    assert ["clone-bind-exit", "rounds=1", "NOT", "CAUGHT", "NOT", "CAUGHT"] in rows
    assert ["thread-pool", "binder=unbinds", "CAUGHT", "-"] in rows
    flat = " ".join(out.split())
    assert "A FAIL: 1 failed" in flat
    assert "A ok: 1 caught the seeded mutant, 1 did not catch it" in flat
    assert "B FAIL: 1 did not catch it; seeded mutant caught by NO test: " \
           "resync-ipi/no-switch-resync" in flat
    assert "UNCAUGHT MUTANT: B: resync-ipi/no-switch-resync" in flat
    assert "A INCOMPLETE clone-bind-exit rounds=1" in lines
    # The summary says it first.
    assert "verdict: FAILED: resync-ipi; mutant NOT CAUGHT" in flat.split(" Verdicts,")[0]
    assert "INCOMPLETE search (not a pass): A clone-bind-exit" in flat
    assert "  resync-ipi/no-switch-resync NOT CAUGHT by its 1 test(s)" in lines
    assert "  task-refcount/unbind-frees: thread-pool, violation" in lines
    assert "A CAUGHT thread-pool binder=unbinds" in lines

