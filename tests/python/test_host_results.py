"""The host backend end to end through the CLI: its records validate against
result-v2, benchmarks carry one sample per process, what cannot run here
is a SKIP with a reason, and the environment record has its keys."""
import json
import subprocess

import jsonschema
import pytest

from conftest import PASIDBENCH, ROOT

SCHEMA = json.loads((ROOT / "results" / "schema" / "result-v2.schema.json").read_text())

SUITE = """
[suite]
name = "host-smoke"
backends = ["host"]
timeout_s = 120
repetitions = 2

[[test]]
workload = "micro:ipi"
params = { min_time_ms = 10 }

[[test]]
workload = "micro:context-switch"
params = { min_time_ms = 10, mechanism = "futex", with_pasid = [false, true] }

[[test]]
workload = "micro:perf-bench-pipe"
params = { loops = 2000 }

[[test]]
workload = "micro:dsa-submit"

[[test]]
workload = "thread-pool"
"""


def run(*args, **kw):
    return subprocess.run([str(PASIDBENCH), *args], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    d = tmp_path_factory.mktemp("host")
    (d / "suite.toml").write_text(SUITE)
    p = run("run", str(d / "suite.toml"), "--out", str(d / "out"), "--quiet")
    assert p.returncode == 0, p.stderr
    lines = (d / "out" / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_every_record_validates(records):
    for r in records:
        jsonschema.validate(r, SCHEMA)
    assert records[0]["record"] == "environment"
    assert len(records) == 1 + 6


def test_benchmarks_have_one_sample_per_process(records):
    tests = {r["test_id"]: r for r in records[1:]}
    ipi = tests["micro:ipi[min_time_ms=10]@host"]
    assert ipi["outcome"] == "pass"
    assert ipi["kind"] == "benchmark"
    assert len(ipi["metrics"]["membarrier_ns"]["samples"]) == 2
    assert ipi["metrics"]["membarrier_ns"]["unit"] == "ns"
    assert "benchmarks" in ipi["details"]["google_benchmark"]
    assert ipi["details"]["sample_unit"] == "process"
    assert ipi["details"]["processes"] == 2
    # Counted, or absent with the reason; never a zero passed off as data.
    cycles = ipi["metrics"]["cycles"]
    assert cycles.get("samples") or (cycles["value"] is None and cycles["note"])


def test_what_cannot_run_here_says_why(records):
    for r in records[1:]:
        if r["outcome"] == "skip":
            assert r["reason"], r["test_id"]
        else:
            assert r["outcome"] == "pass", (r["test_id"], r.get("reason"))


def test_environment_record_has_the_provenance_keys():
    p = run("env", "--json")
    assert p.returncode == 0, p.stderr
    env = json.loads(p.stdout)
    jsonschema.validate({"schema": "pasidbench-result/2", "record": "environment", "run_id": "x",
                         "created_at": env["collected_at"], "environment": env}, SCHEMA)
    for key in ("release", "version", "cmdline", "config_source"):
        assert key in env["kernel"]
    for key in ("model", "family", "stepping", "microcode", "flags", "smt", "governor",
                "vulnerabilities", "topology"):
        assert key in env["cpu"]
    assert set(env["cpu"]["flags"]) >= {"enqcmd", "movdir64b", "movdiri"}
    assert "sva" in env["iommu"] and "present" in env["dsa"]
    assert env["hostname"] and env["pasidbench"]["revision"]


def test_env_rejects_a_missing_root():
    p = run("env", "--root", "/nonexistent/root")
    assert p.returncode == 2
    assert "--root" in p.stderr


def test_micro_workloads_are_listed():
    p = run("list", "workloads", "--json")
    assert p.returncode == 0
    micro = {w["name"]: w for w in json.loads(p.stdout) if w["kind"] == "micro"}
    assert {"micro:context-switch", "micro:ipi", "micro:migration"} <= set(micro)
    params = {q["name"]: q for q in micro["micro:ipi"]["params"]}
    assert params["spinning_cpus"]["type"].startswith("int")
    cs = {q["name"]: q for q in micro["micro:context-switch"]["params"]}
    assert cs["with_pasid"]["type"] == "bool"
    assert cs["placement"]["type"] == "same_cpu|cross_cpu"
    assert cs["mode"]["type"] == "threads|processes"
