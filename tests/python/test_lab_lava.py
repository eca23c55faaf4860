"""LAVA without a LAVA server: the test definition's steps run here as LAVA
would run them (one shell script, set -e, params exported), with stand-ins for
lava-test-case that write down each call; those calls become LAVA's results
export, which `pasidbench lava import` turns back into result records."""
import json
import os
import subprocess

import jsonschema
import pytest
import yaml

from conftest import PASIDBENCH, ROOT

SUITE = ROOT / "suites" / "vm-smoke.toml"
SCHEMA = json.loads((ROOT / "results" / "schema" / "result-v2.schema.json").read_text())

FAKE_LAVA_TEST_CASE = r"""#!/bin/sh
# Stand-in for LAVA's lava-test-case: records the call.
name=$1; shift; result=; measurement=; units=
while [ $# -gt 0 ]; do
  case "$1" in
    --result) result=$2; shift 2 ;;
    --measurement) measurement=$2; shift 2 ;;
    --units) units=$2; shift 2 ;;
    *) shift ;;
  esac
done
printf '%s\t%s\t%s\t%s\n' "$name" "$result" "$measurement" "$units" >> "$CASES_LOG"
"""

FAKE_LAVA_TEST_RAISE = r"""#!/bin/sh
# Stand-in for LAVA's lava-test-raise: records the message, fails.
printf '%s\n' "$*" >> "$RAISE_LOG"
exit 1
"""


def pasidbench(*args, timeout=120, **kw):
    return subprocess.run([str(PASIDBENCH), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.fixture(scope="module")
def lava_run(tmp_path_factory):
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    d = tmp_path_factory.mktemp("lava")
    r = pasidbench("lava", "bundle", "--suite", SUITE, "--out", d / "bundle.tar.gz")
    assert r.returncode == 0, r.stderr
    r = pasidbench("lava", "testdef", "--suite", SUITE)
    assert r.returncode == 0, r.stderr
    testdef = yaml.safe_load(r.stdout)

    bin_dir = d / "bin"
    bin_dir.mkdir()
    (bin_dir / "lava-test-case").write_text(FAKE_LAVA_TEST_CASE)
    (bin_dir / "lava-test-case").chmod(0o755)
    (bin_dir / "lava-test-raise").write_text(FAKE_LAVA_TEST_RAISE)
    (bin_dir / "lava-test-raise").chmod(0o755)
    params = dict(testdef["params"], BUNDLE_URL=str(d / "bundle.tar.gz"), KERNEL_NAME="board-kernel",
                  KERNEL_POLICY="mm-lifetime-lazy-gp", KERNEL_BUILD_ID="lab-build-7")
    script = "set -e\n" + "".join(f"export {k}='{v}'\n" for k, v in params.items())
    script += "\n".join(testdef["run"]["steps"]) + "\necho \"WORKDIR=$WORK\"\n"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CASES_LOG=str(d / "cases.tsv"))
    env.pop("PASIDBENCH_HOME", None)  # the bundle finds its own suites
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    work = next(l.split("=", 1)[1] for l in r.stdout.splitlines() if l.startswith("WORKDIR="))
    return {"dir": d, "testdef": testdef, "work": work,
            "cases": [l.split("\t") for l in (d / "cases.tsv").read_text().splitlines()]}


def test_test_definition_has_the_lava_shape(lava_run):
    td = lava_run["testdef"]
    assert td["metadata"]["format"] == "Lava-Test Test Definition 1.0"
    assert td["metadata"]["name"] == "pasidbench-vm-smoke"
    assert set(td["params"]) >= {"BUNDLE_URL", "SUITE", "KERNEL_NAME", "KERNEL_BUILD_ID",
                                 "KERNEL_POLICY"}
    assert all(isinstance(s, str) for s in td["run"]["steps"])


def test_steps_report_every_test_with_lava_test_case(lava_run):
    records = [json.loads(l) for l in
               open(os.path.join(lava_run["work"], "out", "results.jsonl")) if l.strip()]
    tests = [r for r in records if r["record"] == "test"]
    assert len(tests) == 3
    for t in tests:
        assert t["provenance"]["kernel"]["name"] == "board-kernel"
        assert t["provenance"]["kernel"]["build_id"] == "lab-build-7"
    names = [c[0] for c in lava_run["cases"]]
    assert names == ["pasidbench-setup", "thread-pool.binder-stays.host",
                     "thread-pool.binder-exits.host", "clone-bind-exit.rounds-2.host"]
    assert lava_run["cases"][0][1] == "pass"
    assert all(c[1] == "skip" for c in lava_run["cases"][1:])  # no DSA here


def run_steps(testdef, tmp_path, **params):
    """The definition's steps as LAVA runs them; returns (rc, cases, raised)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("lava-test-case", FAKE_LAVA_TEST_CASE),
                       ("lava-test-raise", FAKE_LAVA_TEST_RAISE)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    script = "set -e\n" + "".join(f"export {k}='{v}'\n" for k, v in
                                  dict(testdef.get("params", {}), **params).items())
    script += "\n".join(testdef["run"]["steps"]) + "\n"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}",
               CASES_LOG=str(tmp_path / "cases.tsv"), RAISE_LOG=str(tmp_path / "raised.txt"))
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    read = lambda p: p.read_text().splitlines() if p.exists() else []
    return r.returncode, [l.split("\t") for l in read(tmp_path / "cases.tsv")], \
        read(tmp_path / "raised.txt")


@pytest.mark.parametrize("bundle, why", [
    ("https://127.0.0.1:9/pasidbench.tar.gz", "fetching the bundle https://127.0.0.1:9/"),
    ("/nonexistent/pasidbench.tar.gz", "copying the bundle /nonexistent/pasidbench.tar.gz failed"),
    ("JUNK", "unpacking the bundle failed")])
def test_a_failed_setup_step_is_a_failed_case_and_a_raised_error(lava_run, tmp_path, bundle, why):
    if bundle == "JUNK":
        bundle = tmp_path / "junk.tar.gz"
        bundle.write_text("not a tarball")
    rc, cases, raised = run_steps(lava_run["testdef"], tmp_path, BUNDLE_URL=bundle)
    assert rc != 0
    assert cases == [["pasidbench-setup", "fail", "", ""]]
    assert len(raised) == 1 and raised[0].startswith("pasidbench setup: " + why), raised


def test_job_definition_and_import_round_trip(lava_run, tmp_path):
    manifest = tmp_path / "board.toml"
    manifest.write_text('[kernel]\nname = "board-kernel"\npolicy = "mm-lifetime-lazy-gp"\n'
                        'cmdline = "intel_iommu=on,sm_on"\n[source]\ntype = "image"\n'
                        'vmlinuz = "/boot/vmlinuz"\n')
    r = pasidbench("lava", "job", "--kernel", manifest, "--device-type", "x86-spr-dsa",
                   "--suite", SUITE, "--bundle-url", "https://lab.example/pasidbench.tar.gz",
                   "--kernel-url", "https://lab.example/bzImage", "--build-id", "lab-build-7",
                   "--out", tmp_path / "job.yaml")
    assert r.returncode == 0, r.stderr
    job = yaml.safe_load((tmp_path / "job.yaml").read_text())
    assert job["device_type"] == "x86-spr-dsa"
    assert job["metadata"]["pasidbench.kernel.name"] == "board-kernel"
    assert job["context"]["extra_kernel_args"] == "intel_iommu=on,sm_on"
    actions = [next(iter(a)) for a in job["actions"]]
    assert actions == ["deploy", "boot", "test"]
    definition = job["actions"][2]["test"]["definitions"][0]
    assert definition["from"] == "inline"
    # LAVA's submission schema allows only metadata/install/run/parse in an
    # inline repository and lava-common's strict one no parameters beside
    # it: the job's values open the steps as exports.
    repo = definition["repository"]
    assert set(repo) == {"metadata", "run"} and "parameters" not in definition
    assert repo["metadata"] == lava_run["testdef"]["metadata"]
    steps = repo["run"]["steps"]
    assert steps[len(steps) - len(lava_run["testdef"]["run"]["steps"]):] == \
        lava_run["testdef"]["run"]["steps"]
    assert "export KERNEL_BUILD_ID=lab-build-7" in steps
    assert "export BUNDLE_URL=https://lab.example/pasidbench.tar.gz" in steps
    assert "type" not in job["actions"][0]["deploy"]["kernel"]  # ipxe: none (LAVA has no bzimage)

    # LAVA's /results/<job>/yaml export of what the steps reported, plus the
    # "lava" suite LAVA adds for its own actions.
    export = [{"name": "job", "job": "4242", "suite": "lava", "result": "pass",
               "measurement": "None", "unit": "", "logged": "2026-11-27 02:00:00.000000+00:00"}]
    for name, result, measurement, unit in lava_run["cases"][1:]:
        export.append({"name": name, "job": "4242", "suite": "0_pasidbench", "result": result,
                       "measurement": measurement or "None", "unit": unit,
                       "logged": "2026-11-27 02:01:00.000000+00:00", "metadata": {"case": name}})
    (tmp_path / "results.yaml").write_text(yaml.safe_dump(export))
    out = tmp_path / "imported"
    r = pasidbench("lava", "import", tmp_path / "results.yaml", "--job", tmp_path / "job.yaml",
                   "--suite", SUITE, "--out", out)
    assert r.returncode == 0, r.stderr
    imported = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    for rec in imported:
        jsonschema.validate(rec, SCHEMA)
    original = [json.loads(l) for l in
                open(os.path.join(lava_run["work"], "out", "results.jsonl")) if l.strip()]
    original = {r["test_id"]: r for r in original if r["record"] == "test"}
    assert {r["test_id"] for r in imported} == set(original)
    for rec in imported:
        assert rec["outcome"] == original[rec["test_id"]]["outcome"]
        assert rec["params"] == original[rec["test_id"]]["params"]
        assert rec["run_id"] == "lava-4242"
        assert rec["provenance"]["kernel"]["name"] == "board-kernel"
        assert rec["provenance"]["kernel"]["build_id"] == "lab-build-7"
        assert rec["provenance"]["machine"]["hostname"] == "lava:x86-spr-dsa"
        assert rec["started_at"] == "2026-11-27T02:01:00Z"
    # Importing the same job again adds nothing.
    r = pasidbench("lava", "import", tmp_path / "results.yaml", "--job", tmp_path / "job.yaml",
                   "--suite", SUITE, "--out", out)
    assert r.returncode == 0
    assert len((out / "results.jsonl").read_text().splitlines()) == len(imported)


def test_bundle_runs_micro_benchmarks_with_its_own_micro_binary(tmp_path):
    """Inside the bundle the runner is started by the bundled loader, so it
    cannot find pasidbench-micro beside itself; the wrapper names it."""
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    suite = ROOT / "suites" / "lava-smoke.toml"
    r = pasidbench("lava", "bundle", "--suite", suite, "--out", tmp_path / "b.tar.gz")
    assert r.returncode == 0, r.stderr
    testdef = yaml.safe_load(pasidbench("lava", "testdef", "--suite", suite).stdout)
    saved = {k: os.environ.pop(k, None) for k in ("PASIDBENCH_HOME", "PASIDBENCH_MICRO")}
    try:
        rc, cases, raised = run_steps(testdef, tmp_path, BUNDLE_URL=tmp_path / "b.tar.gz")
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    assert rc == 0 and not raised, raised
    by_name = {c[0]: c for c in cases}
    for case, metric in (("micro-yield.min_time_ms-100.host", "yield_ns"),
                         ("micro-ipi.min_time_ms-100.spinning_cpus-0.host", "membarrier_ns")):
        assert by_name[case][1] == "pass", cases
        assert float(by_name[f"{case}.{metric}"][2]) > 0, cases
