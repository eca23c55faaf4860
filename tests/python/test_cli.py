"""The pasidbench CLI as a lab user drives it: exit codes, bad input, output files."""
import json
import pathlib
import subprocess

import jsonschema
import pytest

from conftest import PASIDBENCH, ROOT

SCHEMA = json.loads((ROOT / "results" / "schema" / "result-v2.schema.json").read_text())


def pb(*args, cwd=None):
    return subprocess.run([str(PASIDBENCH), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_help_for_every_subcommand():
    top = pb("--help")
    assert top.returncode == 0
    for sub in ("list", "check", "run", "env", "report"):
        assert sub in top.stdout
        res = pb(sub, "--help") if sub != "report" else pb("list", "--help")
        assert res.returncode == 0, sub
        assert "Usage" in res.stdout


def test_list_json_lists_what_exists():
    res = pb("list", "--json")
    assert res.returncode == 0
    listing = json.loads(res.stdout)
    names = {w["name"] for w in listing["workloads"]}
    assert {"thread-pool", "clone-bind-exit", "long-lived-binders"} <= names
    assert any(b["name"] == "host" for b in listing["backends"])
    suites = {s["name"] for s in listing["suites"]}
    assert "smoke" in suites
    assert all("error" not in s for s in listing["suites"]), listing["suites"]
    for what in ("policies", "workloads", "suites", "backends"):
        one = json.loads(pb("list", what, "--json").stdout)
        assert one == listing[what]


def test_unknown_subcommand_and_bad_flag_exit_2():
    assert pb("frobnicate").returncode == 2
    assert pb("list", "--jsn").returncode == 2
    assert pb("list", "colours").returncode == 2


@pytest.mark.parametrize("args, message", [
    (["check", "--backend", "host", "--workload", "pool"], "--workload: unknown workload 'pool'"),
    (["check", "--policy", "no-such-policy", "--workload", "thread-pool"],
     "--policy: unknown model variant 'no-such-policy'"),
    (["check", "--backend", "host", "--workload", "thread-pool", "--param", "tasks"],
     "--param: expected key=value"),
    (["check", "--backend", "host", "--workload", "thread-pool", "--param", "tasks=1"],
     "--param tasks=1: parameter 'tasks': 1 is out of range"),
    (["check", "--backend", "host", "--workload", "thread-pool", "--param", "hue=1"],
     "--param hue=1: unknown parameter 'hue'"),
])
def test_bad_check_input_names_the_flag(args, message):
    res = pb(*args)
    assert res.returncode == 2
    assert message in res.stderr
    assert res.stdout == ""


def write(path, text):
    path.write_text(text)
    return path


def test_bad_suite_exits_2_and_writes_nothing(tmp_path):
    suite = write(tmp_path / "bad.toml",
                  '[suite]\nname = "bad"\nbackends = ["host"]\n[[test]]\nworkload = "thread-pool"\n'
                  '[[test]]\nworkload = "thread-pool"\nparams = { tasks = 0 }\n')
    out = tmp_path / "out"
    res = pb("run", suite, "--out", out)
    assert res.returncode == 2
    assert f"{suite}:8: parameter 'tasks': 0 is out of range" in res.stderr
    assert not out.exists()


def test_bad_scenario_file_exits_2_and_writes_nothing(tmp_path):
    scen = write(tmp_path / "loop.toml",
                 '[scenario]\nname = "loop"\n[[task]]\nname = "a"\nstart = "initial"\n'
                 'program = [ { op = "wait", task = "a" } ]\n')
    suite = write(tmp_path / "s.toml",
                  '[suite]\nname = "s"\nbackends = ["host"]\n[[test]]\nworkload = "loop.toml"\n')
    out = tmp_path / "out"
    res = pb("run", suite, "--out", out)
    assert res.returncode == 2
    assert f"{scen}:6: task 'a' waits on itself" in res.stderr
    assert not out.exists()


def test_run_writes_schema_valid_records_and_resume_skips_them(tmp_path):
    scen = write(tmp_path / "seed.toml",
                 '[scenario]\nname = "seed"\n[[task]]\nname = "main"\nstart = "initial"\n'
                 'program = [ { op = "clone_thread", task = "w" }, { op = "wait", task = "w" } ]\n'
                 '[[task]]\nname = "w"\nprogram = [ { op = "bind" }, { op = "submit", expect = "ok" },'
                 ' { op = "unbind" } ]\n')
    suite = write(tmp_path / "s.toml",
                  '[suite]\nname = "s"\nbackends = ["host"]\n[[test]]\nworkload = "seed.toml"\n'
                  '[[test]]\nworkload = "thread-pool"\nparams = { binder = ["stays", "exits"] }\n')
    out = tmp_path / "out"
    first = pb("run", suite, "--out", out, "--format", "ktap")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[:2] == ["KTAP version 1", "1..3"]
    assert lines[-1].startswith("# Totals: ")
    records = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    for r in records:
        jsonschema.validate(r, SCHEMA)
    tests = [r for r in records if r["record"] == "test"]
    assert [r["test_id"] for r in tests] == [
        "seed.toml@host", "thread-pool[binder=stays]@host", "thread-pool[binder=exits]@host"]
    assert records[0]["record"] == "environment"

    again = pb("run", suite, "--out", out, "--resume")
    assert again.returncode == 0
    assert again.stderr.count("already recorded (resume)") == 3
    after = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    assert len([r for r in after if r["record"] == "test"]) == 3


def test_resume_needs_out():
    res = pb("run", ROOT / "suites" / "smoke.toml", "--resume")
    assert res.returncode == 2
    assert "--resume needs --out" in res.stderr


def test_env_json_has_provenance_keys():
    res = pb("env", "--json")
    assert res.returncode == 0
    env = json.loads(res.stdout)
    assert env["kernel"]["release"]
    assert "model" in env["cpu"]
    assert env["pasidbench"]["revision"]


def test_missing_suite_and_unknown_backend_flag(tmp_path):
    res = pb("run", tmp_path / "nope.toml", "--out", tmp_path / "out")
    assert res.returncode == 2
    assert "nope.toml: cannot read" in res.stderr
    res = pb("run", ROOT / "suites" / "smoke.toml", "--backend", "bogus", "--out", tmp_path / "out")
    assert res.returncode == 2
    assert "--backend: unknown backend 'bogus'" in res.stderr
    assert not (tmp_path / "out").exists()


def test_backend_checks_run_while_planning(tmp_path):
    """A model parameter naming a missing file is bad input: exit 2, nothing written."""
    suite = write(tmp_path / "s.toml",
                  '[suite]\nname = "s"\nbackends = ["model:resync-ipi"]\n[[test]]\n'
                  'workload = "thread-pool"\nparams = { costs_from = "/nonexistent/r.jsonl" }\n')
    res = pb("run", suite, "--out", tmp_path / "out")
    assert res.returncode == 2
    assert "no such results file" in res.stderr
    assert not (tmp_path / "out").exists()


def test_the_revision_is_the_tree_it_was_built_from():
    """Baked in at every build, not at configure: a commit since then must
    not leave records naming the older revision."""
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    describe = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"],
                              cwd=ROOT, capture_output=True, text=True)
    if describe.returncode != 0:
        pytest.skip("not a git checkout: " + describe.stderr.strip())
    version = subprocess.run([str(PASIDBENCH), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == "pasidbench " + describe.stdout.strip()
