"""The VM runner end to end: real Debian kernels booted in QEMU (TCG).

One kernel (Debian's 6.12, the fastest to boot under TCG) and tiny suites,
about a minute in all. Skips with the exact reason when QEMU is missing or the
kernel package cannot be downloaded.
"""
import json
import pathlib
import shutil
import subprocess

import jsonschema
import pytest

from conftest import PASIDBENCH, ROOT

KERNEL = ROOT / "kernels" / "debian-6.12-amd64.toml"
SCHEMA = json.loads((ROOT / "results" / "schema" / "result-v2.schema.json").read_text())

SHORT_SUITE = """
[suite]
name = "short"
backends = ["host"]
timeout_s = 5

[[test]]
workload = "thread-pool"
params = { binder = ["stays", "exits"] }

[[test]]
workload = "clone-bind-exit"
"""


def lab(*args, timeout=300):
    return subprocess.run([str(PASIDBENCH), "lab", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def records(out_dir):
    lines = (pathlib.Path(out_dir) / "results.jsonl").read_text().splitlines()
    out = [json.loads(l) for l in lines if l.strip()]
    for r in out:
        jsonschema.validate(r, SCHEMA)
    return out


def of_kernel(recs, kernel):
    return [r for r in recs if r["record"] == "test" and r["provenance"]["kernel"]["name"] == kernel]


def variant(tmp_path, name, cmdline):
    """The 6.12 manifest under another name, with extra kernel arguments."""
    text = KERNEL.read_text().replace('name = "debian-6.12-amd64"',
                                      f'name = "{name}"\ncmdline = "{cmdline}"')
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def kernel_ready():
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 not installed (Debian package qemu-system-x86)")
    r = lab("--fetch-only", "--kernels", KERNEL, timeout=900)
    if r.returncode != 0:
        pytest.skip("kernel package cannot be fetched: " + r.stderr.strip().splitlines()[-1])
    return r.stdout


@pytest.fixture(scope="module")
def short_suite(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "short.toml"
    path.write_text(SHORT_SUITE)
    return path


def test_smoke_in_virtual_time_labels_every_record(kernel_ready, tmp_path):
    out = tmp_path / "out"
    r = lab("--kernels", KERNEL, "--suite", ROOT / "suites" / "vm-smoke.toml", "--out", out,
            "--icount")
    assert r.returncode == 0, r.stderr
    assert "runner up after" in r.stderr
    recs = records(out)
    envs = [x for x in recs if x["record"] == "environment"]
    assert envs and envs[0]["environment"]["kernel"]["release"].startswith("6.12.")
    tests = of_kernel(recs, "debian-6.12-amd64")
    ids = [t["test_id"] for t in tests]
    assert len(ids) == len(set(ids)) == 4  # three suite tests and the boot record
    for t in tests:
        prov = t["provenance"]
        assert prov["machine"]["emulated"] is True
        assert prov["machine"]["time_base"] == "virtual-icount"
        assert prov["kernel"]["build_id"].startswith("linux-image-6.12.")
        assert prov["kernel"]["policy"] == "mm-lifetime-lazy-gp"
        assert prov["machine"]["hostname"].startswith("tcg-")
    boot = next(t for t in tests if t["test_id"] == "boot@lab")
    assert boot["outcome"] == "pass"
    features = boot["details"]["features"]
    assert features["cpu"]["enqcmd"] is False
    assert features["iommu"][0]["intel"]["scalable_mode"] is True
    assert features["iommu"][0]["intel"]["first_level"] is False
    assert "-icount shift=0,sleep=off" in boot["details"]["qemu_command"]
    # No DSA, no ENQCMD in TCG: the PASID workloads skip, saying why.
    for t in tests:
        if t["test_id"] != "boot@lab":
            assert t["outcome"] == "skip" and "ENQCMD" in t["reason"], t


def test_a_kernel_that_dies_is_recorded_and_the_next_one_still_runs(kernel_ready, tmp_path,
                                                                       short_suite):
    broken = variant(tmp_path, "no-init", "rdinit=/nonexistent")
    panics = variant(tmp_path, "panics", "pasidbench.inject=panic-after:1")
    out = tmp_path / "out"
    r = lab("--kernels", broken, panics, "--suite", short_suite, "--out", out)
    assert r.returncode == 1, r.stderr
    recs = records(out)

    dead = {t["test_id"]: t for t in of_kernel(recs, "no-init")}
    assert dead["boot@lab"]["outcome"] == "crashed"
    # Normally "VFS: Unable to mount root fs"; a TCG guest on a loaded host
    # has also died earlier ("Fatal exception in interrupt"). Either way the
    # record must quote the panic line from the console.
    assert dead["boot@lab"]["reason"].startswith(
        "kernel died before the runner started: Kernel panic"), dead["boot@lab"]["reason"]
    assert len(dead) == 4
    for tid, t in dead.items():
        if tid != "boot@lab":
            assert t["outcome"] == "error" and t["reason"].startswith("not run: kernel died")
            assert t["details"]["console_tail"], "console log attached"

    tests = of_kernel(recs, "panics")
    by_id = {}
    for t in tests:
        assert t["test_id"] not in by_id, "one record per test"
        by_id[t["test_id"]] = t
    assert len(by_id) == 4
    summary = [(t["test_id"], t["outcome"], t.get("reason", "")) for t in tests]
    crashed = [t for t in tests if t["outcome"] == "crashed"]
    assert len(crashed) == 1, summary
    reason = crashed[0]["reason"]
    assert reason.startswith("kernel died") and reason.endswith("while this test ran in the VM")
    console = pathlib.Path(crashed[0]["details"]["console_log"]).read_text(errors="replace")
    assert "pasidbench-init:" in console  # the log of the boot that died is attached
    if "Kernel panic" in console:
        assert "sysrq triggered crash" in reason, (reason, console[-2000:])
    # The kernel was booted again for the tests after the one it died in.
    assert by_id["boot@lab"]["outcome"] == "pass", summary
    assert len(by_id["boot@lab"]["details"]["boots"]) == 2, by_id["boot@lab"]["details"]["boots"]
    assert [t["outcome"] for t in tests].count("skip") == 2, summary


def test_a_hung_vm_is_stopped_by_the_watchdog(kernel_ready, tmp_path, short_suite):
    hangs = variant(tmp_path, "hangs", "pasidbench.inject=hang-after:1")
    out = tmp_path / "out"
    r = lab("--kernels", hangs, "--suite", short_suite, "--out", out, "--max-boots", "1",
            "--watchdog-grace", "3")
    assert r.returncode == 1, r.stderr
    outcomes = {t["test_id"]: t for t in of_kernel(records(out), "hangs")}
    timed_out = [t for t in outcomes.values() if t["outcome"] == "timeout"]
    assert len(timed_out) == 1 and "stopped responding" in timed_out[0]["reason"]
    unrun = [t for t in outcomes.values() if t["outcome"] == "error"]
    assert len(unrun) == 1 and unrun[0]["reason"].startswith("not run:")


def test_resume_boots_only_for_what_is_missing(kernel_ready, tmp_path, short_suite):
    out = tmp_path / "out"
    r = lab("--kernels", KERNEL, "--suite", short_suite, "--out", out)
    assert r.returncode == 0, r.stderr
    recs = records(out)
    # Keep the environment and the first test record: as if the night
    # stopped after one test.
    first = next(x for x in recs if x["record"] == "test")
    kept = [x for x in recs if x["record"] == "environment"] + [first]
    (out / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in kept))
    r = lab("--kernels", KERNEL, "--suite", short_suite, "--out", out, "--resume")
    assert r.returncode == 0, r.stderr
    tests = of_kernel(records(out), "debian-6.12-amd64")
    ids = [t["test_id"] for t in tests]
    assert len(ids) == len(set(ids)) == 4
    assert ids[0] == first["test_id"]
    # Everything recorded: a third run boots nothing.
    r = lab("--kernels", KERNEL, "--suite", short_suite, "--out", out, "--resume")
    assert r.returncode == 0 and "already recorded (resume)" in r.stderr
    assert "booting" not in r.stderr


def test_missing_kernel_package_is_a_recorded_error(tmp_path, short_suite):
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 not installed")
    manifest = tmp_path / "gone.toml"
    manifest.write_text('[kernel]\nname = "gone"\npolicy = "unknown"\n[source]\ntype = "debian"\n'
                        'package = "linux-image-0.0.0-*-nonexistent"\n')
    out = tmp_path / "out"
    r = lab("--kernels", manifest, "--suite", short_suite, "--out", out)
    assert r.returncode == 1
    tests = of_kernel(records(out), "gone")
    assert len(tests) == 4
    boot = next(t for t in tests if t["test_id"] == "boot@lab")
    assert boot["outcome"] == "error"
    assert boot["reason"].startswith("kernel unavailable: no Debian package matches "
                                     "linux-image-0.0.0-*-nonexistent")


def test_bad_manifest_is_rejected_before_anything_runs(tmp_path, short_suite):
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    manifest = tmp_path / "bad.toml"
    manifest.write_text('[kernel]\nname = "bad"\npolicy = "lazy"\n')
    out = tmp_path / "out"
    r = lab("--kernels", KERNEL, manifest, "--suite", short_suite, "--out", out)
    assert r.returncode == 2
    assert f"{manifest}:3: unknown policy 'lazy'" in r.stderr
    assert not out.exists()
