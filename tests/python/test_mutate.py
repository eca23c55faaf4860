"""pasidbench mutate: classification, kill table, replayable kills and the exit code."""
import json
import pathlib
import tomllib
import re
import subprocess

import jsonschema

from conftest import PASIDBENCH, ROOT

SCHEMA = json.loads((ROOT / "results" / "schema" / "result-v2.schema.json").read_text())

UNSAFE = "task-refcount~free-early:exit"      # frees the mm's PASID while other threads use it
REFUSED = "mm-lifetime~skip:bind"             # a bind that leaves no PASID: the machine refuses it
NOT_SHOWN = "mm-lifetime~twice:mm_drop"       # the second __mmdrop() finds no PASID to free


def pb(*args):
    return subprocess.run([str(PASIDBENCH), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def conformance_tests_per_backend():
    """The suite's [[test]] tables times their parameter matrices."""
    suite = tomllib.loads((ROOT / "suites" / "conformance.toml").read_text())
    n = 0
    for test in suite["test"]:
        size = 1
        for value in test.get("params", {}).values():
            size *= len(value) if isinstance(value, list) else 1
        n += size
    return n


def test_campaign_classifies_kills_with_short_replayable_traces(tmp_path):
    out = tmp_path / "campaign"
    res = pb("mutate", "--mutants", UNSAFE, "--mutants", REFUSED, "--mutants", NOT_SHOWN,
             "--monitor-schedules", "300", "--out", out)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "overall: 1 killed / 1 unsafe / 1 not shown unsafe / 1 refused by the machine (of 3)" \
        in res.stdout
    assert "unsafe and not killed: none" in res.stdout
    # The control: the monitor finds nothing in the four real policies.
    for policy in ("mm-lifetime", "mm-lifetime-lazy-gp", "resync-ipi", "task-refcount"):
        assert re.search(rf"^  {policy}: clean \(\d+ schedules\)$", res.stdout, re.M), policy
    assert (out / "kill-table.txt").read_text() == res.stdout

    mutants = {m["mutant"]: m for m in read_jsonl(out / "mutants.jsonl")}
    assert set(mutants) == {UNSAFE, REFUSED, NOT_SHOWN}

    refused = mutants[REFUSED]
    assert refused["class"] == "refused"
    assert "breaks the policy contract" in refused["evidence"]["reason"]
    assert refused["suite_tests"] == 0 and not refused["killed"]

    quiet = mutants[NOT_SHOWN]
    assert quiet["class"] == "not_shown_unsafe"
    assert quiet["monitor"]["schedules_checked"] >= 24 * 300  # every monitor search ran
    assert not quiet["survivor"]

    unsafe = mutants[UNSAFE]
    assert unsafe["class"] == "unsafe"
    assert any(n > 0 for n in unsafe["evidence"]["schedules_showing"].values())
    assert pathlib.Path(unsafe["evidence"]["replay_file"]).is_file()  # the raw schedule
    assert unsafe["killed"] and not unsafe["survivor"]
    assert unsafe["suite_tests"] == conformance_tests_per_backend()
    for kill in unsafe["kills"]:
        assert 0 < kill["events"] <= 30, kill
        assert kill["replay_reproduced"], kill
    # The kill table's row for each killing test counts it.
    for kill in unsafe["kills"]:
        row = next(line for line in res.stdout.splitlines() if line.startswith(kill["test"] + " "))
        assert re.search(r"\b1/1\b", row), row

    # A kill's replay file replays from the command line: a failing check
    # that reproduced the recorded violation.
    replay = pb("check", "--replay", unsafe["kills"][0]["replay_file"])
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "reproduced " + unsafe["kills"][0]["violation"] in replay.stdout

    for record in read_jsonl(out / "results.jsonl"):
        jsonschema.validate(record, SCHEMA)


def test_an_unsafe_mutant_the_suite_misses_fails_the_campaign(tmp_path):
    # A suite whose one test gives the mutant no second thread to hurt.
    suite = tmp_path / "weak.toml"
    suite.write_text('[suite]\nname = "weak"\nbackends = ["model:*"]\ntimeout_s = 120\n\n'
                     '[[test]]\nworkload = "clone-bind-exit"\n'
                     'params = { rounds = 1, cpus = 1, reuse_probe = false }\n')
    out = tmp_path / "campaign"
    res = pb("mutate", "--suite", suite, "--mutants", UNSAFE, "--monitor-schedules", "300",
             "--out", out)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "unsafe and not killed: " + UNSAFE in res.stdout
    (m,) = read_jsonl(out / "mutants.jsonl")
    assert m["class"] == "unsafe" and m["survivor"] and m["kills"] == []


def test_no_matching_mutant_is_bad_input_and_writes_nothing(tmp_path):
    out = tmp_path / "campaign"
    res = pb("mutate", "--mutants", "no-such-policy~*", "--out", out)
    assert res.returncode == 2
    assert "--mutants: no generated mutant matches" in res.stderr
    assert not out.exists()
