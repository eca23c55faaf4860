"""`pasidbench export kcidb` against the KCIDB v5.3 subset schema we wrote
(results/schema/kcidb-v5.3-subset.schema.json), and the mapping itself."""
import copy
import json
import subprocess

import jsonschema
import pytest

from conftest import PASIDBENCH, ROOT

KCIDB = json.loads((ROOT / "results" / "schema" / "kcidb-v5.3-subset.schema.json").read_text())
# Written as version 1 records: export reads results files of both versions.
RESULT = json.loads((ROOT / "results" / "schema" / "result-v1.schema.json").read_text())
GIT = "0123456789abcdef0123456789abcdef01234567"
PATCHES = "ab" * 32


def record(test_id, workload, outcome, *, kernel="patched", build_id=f"git:{GIT}+patches:{PATCHES}",
           emulated=False, metrics=None, params=None, reason=None, run_id="run-1"):
    r = {
        "schema": "pasidbench-result/1", "record": "test", "run_id": run_id, "suite": "nightly",
        "test_id": test_id, "kind": "benchmark" if metrics else "conformance", "backend": "host",
        "workload": workload, "policy": "resync-ipi", "params": params or {}, "outcome": outcome,
        "metrics": metrics or {},
        "provenance": {
            "kernel": {"name": kernel, "release": "6.12.0-rc1", "build_id": build_id,
                       "policy": "resync-ipi", "source": "build:/src/linux@v6.12"},
            "machine": {"hostname": "tcg-lab" if emulated else "lab1", "emulated": emulated,
                        "time_base": "real"},
            "pasidbench_revision": "abc"},
        "started_at": "2026-11-27T01:02:03Z", "duration_s": 1.5,
    }
    if reason:
        r["reason"] = reason
    jsonschema.validate(r, RESULT)
    return r


@pytest.fixture
def results(tmp_path):
    recs = [
        {"schema": "pasidbench-result/1", "record": "environment", "run_id": "run-1",
         "created_at": "2026-11-27T01:00:00Z",
         "environment": {"kernel": {"release": "6.12.0-rc1"}, "cpu": {}, "pasidbench": {"revision": "abc"}}},
        record("micro:context-switch[cpus=2]@host", "micro:context-switch", "pass",
               params={"cpus": 2},
               metrics={"ctxsw_ns": {"value": 1234.5, "unit": "ns", "better": "lower",
                                     "samples": [1200.0, 1234.5, 1300.0]},
                        "ipis": {"value": 3, "unit": "count", "better": "lower", "samples": [3]},
                        "cycles": {"value": None, "unit": "count", "better": "lower",
                                   "note": "PAPI: no hardware counters"}}),
        record("thread-pool@host", "thread-pool", "skip", reason="CPU lacks ENQCMD"),
        record("clone-bind-exit@host", "clone-bind-exit", "crashed", reason="kernel died"),
        record("long-lived-binders@host", "long-lived-binders", "error", reason="not run"),
        record("thread-pool@host", "thread-pool", "skip", kernel="debian-6.1",
               build_id="linux-image-6.1.0-56-amd64=6.1.192-2", emulated=True, reason="CPU lacks ENQCMD"),
    ]
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def export(path, *args):
    r = subprocess.run([str(PASIDBENCH), "export", "kcidb", str(path), *args], capture_output=True,
                       text=True, timeout=60)
    return r


@pytest.fixture
def report(results):
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    r = export(results, "--origin", "pasidbench_lab", "--tree", "mainline")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_export_is_valid_kcidb_v5_3(report):
    jsonschema.Draft202012Validator(KCIDB, format_checker=jsonschema.FormatChecker()).validate(report)
    assert report["version"] == {"major": 5, "minor": 3}


def test_objects_link_up_and_ids_are_unique(report):
    checkouts = {c["id"] for c in report["checkouts"]}
    builds = {b["id"]: b for b in report["builds"]}
    assert len(checkouts) == len(builds) == 2  # two kernel builds
    assert all(b["checkout_id"] in checkouts for b in builds.values())
    ids = [t["id"] for t in report["tests"]]
    assert len(ids) == len(set(ids))
    assert all(t["build_id"] in builds for t in report["tests"])
    patched = next(c for c in report["checkouts"] if c["misc"]["kernel_name"] == "patched")
    assert patched["git_commit_hash"] == GIT
    assert patched["patchset_hash"] == PATCHES
    assert patched["tree_name"] == "mainline"


def test_outcomes_map_to_kcidb_statuses_and_metrics_are_done_numbers(report):
    by_path = {t["path"]: t for t in report["tests"]}
    ctx = by_path["pasidbench.micro-context-switch.cpus-2.host"]
    assert ctx["status"] == "PASS"
    done = by_path["pasidbench.micro-context-switch.cpus-2.host.ctxsw_ns"]
    assert done["status"] == "DONE"
    assert done["number"] == {"value": pytest.approx(1234.5e-9), "unit": "s", "prefix": "metric"}
    assert done["misc"]["samples"] == 3
    assert by_path["pasidbench.micro-context-switch.cpus-2.host.ipis"]["number"] == {"value": 3}
    # A metric that could not be measured is not passed off as a number.
    assert "pasidbench.micro-context-switch.cpus-2.host.cycles" not in by_path
    statuses = {t["misc"]["outcome"]: t["status"] for t in report["tests"] if "metric" not in t["misc"]}
    assert statuses == {"pass": "PASS", "skip": "SKIP", "crashed": "FAIL", "error": "ERROR"}
    emulated = [t for t in report["tests"] if t["environment"]["misc"]["emulated"]]
    assert emulated and all("emulator numbers" in t["environment"]["comment"] for t in emulated)


def test_the_subset_schema_rejects_what_kcidb_rejects(report):
    validator = jsonschema.Draft202012Validator(KCIDB)
    for breakage in (
        lambda r: r["tests"][0].update(path="pasidbench.micro:context switch"),
        lambda r: r["tests"][0].update(status="DONE?"),
        lambda r: r["tests"][0].update(comment=None),       # no property may be null
        lambda r: r["tests"][0].update(number={"unit": "s"}),  # value is required
        lambda r: r["builds"][0].update(origin="PasidBench"),
        lambda r: r["checkouts"][0].update(git_commit_hash="abc"),
        lambda r: r["tests"][0].update(log="x"),             # not a KCIDB property
        lambda r: r.update(version={"major": 4}),
    ):
        broken = copy.deepcopy(report)
        breakage(broken)
        assert list(validator.iter_errors(broken)), breakage


def test_a_bad_origin_is_rejected(results):
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    r = export(results, "--origin", "Pasid Bench")
    assert r.returncode == 2
    assert "origin must match [a-z0-9_]+" in r.stderr


def test_a_bad_record_is_blamed_on_its_line_not_on_origin(results):
    """issue 16, finding 6: every results-file problem used to read '--origin: ...'."""
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    lines = results.read_text().splitlines()
    broken = json.loads(lines[2])
    broken["outcome"] = 7  # a number where the schema has a string
    lines[2] = json.dumps(broken)
    results.write_text("\n".join(lines) + "\n")
    r = export(results, "--origin", "pasidbench_lab")
    assert r.returncode == 2, r.stderr
    assert f"pasidbench: {results}:3: not a result record" in r.stderr, r.stderr
    assert "--origin" not in r.stderr
