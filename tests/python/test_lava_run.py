"""A real LAVA dispatcher (Debian's lava-dispatcher, `lava-run`, no server)
runs what `pasidbench lava job --boot-method qemu` generates on a QEMU
device under TCG: Debian's 6.1 kernel, the busybox initramfs of `lava
guest`, the runner bundle as an overlay. Its results go through `pasidbench
lava import`. About 30 s per job here."""
import json
import subprocess

import jsonschema
import pytest
import yaml

import debian_tools
from conftest import PASIDBENCH, ROOT
from lava_support import DEVICE, lava_run_results, pasidbench

SUITE = ROOT / "suites" / "lava-smoke.toml"
KERNEL = ROOT / "kernels" / "debian-6.1-amd64.toml"
SCHEMA = json.loads((ROOT / "results" / "schema" / "result-v2.schema.json").read_text())


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    try:
        debian_tools.require_installed("lava-dispatcher")
    except debian_tools.Unavailable as e:
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("lava-run")
    r = pasidbench("lava", "guest", "--kernel", KERNEL, "--out", d, timeout=900)
    if r.returncode == 1:  # the kernel could not be had: the reason is on stderr
        pytest.skip(r.stderr.strip().splitlines()[-1])
    assert r.returncode == 0, r.stderr
    guest = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    r = pasidbench("lava", "bundle", "--suite", SUITE, "--out", d / "pasidbench.tar.gz")
    assert r.returncode == 0, r.stderr
    return {"dir": d, "build_id": guest["build_id"]}


def run_job(artifacts, name, bundle):
    d = artifacts["dir"]
    job = d / f"{name}.yaml"
    r = pasidbench("lava", "job", "--kernel", KERNEL, "--device-type", "qemu", "--boot-method",
                   "qemu", "--suite", SUITE, "--bundle-url", f"file://{bundle}",
                   "--kernel-url", f"file://{d / 'vmlinuz'}",
                   "--ramdisk-url", f"file://{d / 'rootfs.cpio.gz'}",
                   "--build-id", artifacts["build_id"], "--out", job)
    assert r.returncode == 0, r.stderr
    out = d / f"{name}-out"
    run = subprocess.run(
        ["nice", "-n", "10", "lava-run", "--job-id", "7", "--output-dir", str(out), "--device",
         str(DEVICE), str(job)], capture_output=True, text=True, timeout=900)
    (d / f"{name}.log").write_text(run.stdout + run.stderr)
    export = lava_run_results(run.stdout + "\n" + run.stderr, 7)
    (d / f"{name}-results.yaml").write_text(yaml.safe_dump(export))
    imported = d / f"{name}-imported"
    imp = pasidbench("lava", "import", d / f"{name}-results.yaml", "--job", job, "--suite", SUITE,
                     "--out", imported)
    records = [json.loads(l) for l in (imported / "results.jsonl").read_text().splitlines()] \
        if (imported / "results.jsonl").exists() else []
    return {"run": run, "export": export, "import": imp, "records": records,
            "log": d / f"{name}.log"}


def test_lava_run_measures_micro_benchmarks_and_import_records_them(artifacts):
    job = run_job(artifacts, "good", artifacts["dir"] / "pasidbench.tar.gz")
    job_case = [c for c in job["export"] if c["suite"] == "lava" and c["name"] == "job"]
    assert job_case and job_case[0]["result"] == "pass", f"see {job['log']}"
    assert job["import"].returncode == 0, job["import"].stderr
    by_id = {r["test_id"]: r for r in job["records"]}
    for r in job["records"]:
        jsonschema.validate(r, SCHEMA)
        assert r["run_id"] == "lava-7"
        assert r["provenance"]["kernel"]["build_id"] == artifacts["build_id"]
        assert r["provenance"]["machine"]["hostname"] == "lava:qemu"
        assert r["provenance"]["machine"]["emulated"] is True  # TCG numbers are emulator numbers
    micro = {t: r for t, r in by_id.items() if t.startswith("micro:")}
    assert len(micro) == 3, sorted(by_id)
    expected = {"micro:context-switch": "ctxsw_ns", "micro:yield": "yield_ns",
                "micro:ipi": "membarrier_ns"}
    for test_id, r in micro.items():
        assert r["outcome"] == "pass", r.get("reason")
        metric = r["metrics"][expected[r["workload"]]]
        assert isinstance(metric["value"], (int, float)) and metric["value"] > 0, metric
        assert metric["unit"] == "ns"
    pasid = by_id["thread-pool[binder=stays]@host"]
    assert pasid["outcome"] == "skip"
    assert not any(t.endswith("@lava") for t in by_id)  # set-up passed: no record of it


def test_a_failed_setup_is_a_failed_case_with_its_reason(artifacts):
    junk = artifacts["dir"] / "not-a-bundle.tar.gz"
    junk.write_text("this is not a gzip file\n")
    job = run_job(artifacts, "bad-bundle", junk)
    setup = [c for c in job["export"] if c["name"] == "pasidbench-setup"]
    assert [c["result"] for c in setup] == ["fail"], f"see {job['log']}"
    job_case = next(c for c in job["export"] if c["suite"] == "lava" and c["name"] == "job")
    assert job_case["result"] == "fail"  # not Complete with no cases
    assert "unpacking the bundle failed" in job_case["metadata"]["error_msg"]
    assert job["import"].returncode == 1
    by_id = {r["test_id"]: r for r in job["records"]}
    assert by_id["setup@lava"]["outcome"] == "fail"
    assert "unpacking the bundle failed" in by_id["setup@lava"]["reason"]
    planned = [r for t, r in by_id.items() if not t.endswith("@lava")]
    assert len(planned) == 4
    for r in planned:
        assert r["outcome"] == "error"
        assert "unpacking the bundle failed" in r["reason"], r["reason"]
