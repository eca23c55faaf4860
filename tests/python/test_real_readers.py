"""Our outputs read by the tools that read them in a lab: LAVA's own job
validators (lava-common's schema, strict, and lava-server's submission
schema), Google Benchmark's tools/compare.py, the kernel's `kunit.py parse`
and KernelCI's kcidb-io schema. Each tool comes from Debian's archive at test
time (tests/python/debian_tools.py); where it cannot be had the test SKIPs
with the exact reason."""
import json
import re
import subprocess
import sys

import pytest
import yaml

import debian_tools
from conftest import PASIDBENCH, ROOT
from lava_support import pasidbench

SUITES = ["vm-smoke.toml", "lava-smoke.toml", "host-nightly.toml"]


@pytest.fixture(scope="module")
def built():
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")


def tool(fn):
    try:
        return fn()
    except debian_tools.Unavailable as e:
        pytest.skip(str(e))


# --- LAVA ---------------------------------------------------------------

def lava_validators():
    tool(lambda: debian_tools.require_installed("lava-common"))
    tool(lambda: debian_tools.require_installed("python3-django"))
    server = tool(debian_tools.lava_server_python)
    # lava_scheduler_app.schema reads one Django setting (extra context
    # variables); configuring just that is all it needs of Django.
    from django.conf import settings
    if not settings.configured:
        settings.configure(EXTRA_CONTEXT_VARIABLES=[])
    if str(server) not in sys.path:
        sys.path.append(str(server))
    from lava_common.schemas import validate
    from lava_common.schemas.test.testdef import testdef
    from lava_scheduler_app.schema import validate_submission
    from voluptuous import Schema
    return validate, validate_submission, Schema(testdef())


JOB_VARIANTS = {
    "ipxe": [],
    "ipxe-ramdisk-modules-nfs": ["--ramdisk-url", "https://lab.example/initrd.gz",
                                 "--modules-url", "https://lab.example/modules.tar.xz",
                                 "--rootfs-url", "https://lab.example/rootfs.tar.xz"],
    "tftp-uboot-image": ["--boot-method", "u-boot", "--kernel-type", "image"],
    "git-testdef": ["--testdef-repo", "https://git.example/pasidbench-defs.git"],
    "qemu": ["--boot-method", "qemu", "--ramdisk-url", "file:///artifacts/rootfs.cpio.gz"],
}


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("variant", sorted(JOB_VARIANTS))
def test_generated_jobs_pass_lavas_strict_and_submission_schemas(built, tmp_path, suite, variant):
    validate, validate_submission, _ = lava_validators()
    manifest = tmp_path / "k.toml"
    manifest.write_text('[kernel]\nname = "board-kernel"\npolicy = "resync-ipi"\n'
                        'cmdline = "intel_iommu=on,sm_on"\n[source]\ntype = "image"\n'
                        'vmlinuz = "/boot/vmlinuz"\n')
    r = pasidbench("lava", "job", "--kernel", manifest, "--device-type", "x86-spr-dsa",
                   "--suite", ROOT / "suites" / suite, "--bundle-url",
                   "https://lab.example/pasidbench.tar.gz", "--kernel-url",
                   "https://lab.example/bzImage", "--build-id", "b-1", *JOB_VARIANTS[variant])
    assert r.returncode == 0, r.stderr
    job = yaml.safe_load(r.stdout)
    validate(job, strict=True)  # lava-common: what lava-run and jobs.validate --strict apply
    validate_submission(job)    # lava-server: what scheduler.jobs.submit applies


@pytest.mark.parametrize("suite", SUITES)
def test_test_definition_passes_lavas_testdef_schema_strictly(built, suite):
    _, _, testdef_schema = lava_validators()
    r = pasidbench("lava", "testdef", "--suite", ROOT / "suites" / suite)
    assert r.returncode == 0, r.stderr
    testdef_schema(yaml.safe_load(r.stdout))


def test_lava_validators_reject_what_the_2023_01_server_rejected(built):
    """The two findings of issue 12 stay caught: a `params` block inside an
    inline repository, and kernel.type bzimage."""
    validate, validate_submission, _ = lava_validators()
    from lava_scheduler_app.schema import SubmissionException
    from voluptuous import Invalid
    r = pasidbench("lava", "job", "--kernel", ROOT / "kernels" / "debian-6.1-amd64.toml",
                   "--device-type", "x86", "--suite", ROOT / "suites" / "vm-smoke.toml",
                   "--bundle-url", "https://x/b.tar.gz", "--kernel-url", "https://x/k",
                   "--build-id", "b")
    job = yaml.safe_load(r.stdout)
    bad = json.loads(json.dumps(job))
    bad["actions"][2]["test"]["definitions"][0]["repository"]["params"] = {"SUITE": "x"}
    with pytest.raises(SubmissionException, match="extra keys not allowed"):
        validate_submission(bad)
    bad = json.loads(json.dumps(job))
    bad["actions"][0]["deploy"]["kernel"]["type"] = "bzimage"
    with pytest.raises(Invalid):
        validate(bad, strict=True)


# --- Google Benchmark's compare.py -----------------------------------------

def test_compare_py_runs_its_u_test_on_stored_results(built, tmp_path):
    compare = tool(debian_tools.compare_py)
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "gb"\nbackends = ["host"]\nrepetitions = 3\n'
                     '[[test]]\nworkload = "micro:yield"\nparams = { min_time_ms = 20 }\n')
    files = []
    for name in ("base", "new"):
        r = pasidbench("run", suite, "--out", tmp_path / name, timeout=300)
        assert r.returncode == 0, r.stderr
        out = tmp_path / f"{name}.json"
        r = pasidbench("export", "gbench", tmp_path / name, "--out", out)
        assert r.returncode == 0, r.stderr
        files.append(out)
    doc = json.loads(files[0].read_text())
    iterations = [b for b in doc["benchmarks"] if b.get("run_type") == "iteration"]
    assert [b["repetition_index"] for b in iterations] == [0, 1, 2]
    assert {b["aggregate_name"] for b in doc["benchmarks"] if b.get("run_type") == "aggregate"} \
        == {"mean", "median", "stddev", "cv"}
    r = subprocess.run(["/usr/bin/python3", str(compare), "-a", "benchmarks", *map(str, files)],
                       capture_output=True, text=True, timeout=120, cwd=compare.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    plain = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)
    print(plain)
    pvalue = [l for l in plain.splitlines() if l.startswith("sched_yield/threads/same_cpu_pvalue")]
    assert pvalue and "U Test, Repetitions: 3 vs 3" in pvalue[0], plain
    assert re.search(r"_pvalue\s+[01]\.\d{4}\s+[01]\.\d{4}", pvalue[0])


# --- the kernel's kunit.py ---------------------------------------------------

def kunit_parse(ktap, tmp_path):
    script = tool(debian_tools.kunit_py)
    out = tmp_path / "kunit.json"
    r = subprocess.run(["/usr/bin/python3", str(script), "parse", str(ktap), f"--json={out}"],
                       capture_output=True, text=True, timeout=120)
    cases = json.loads(out.read_text())["test_cases"] if out.exists() else []
    return r, {c["name"]: c["status"] for c in cases}


def test_kunit_parse_reads_our_ktap_as_we_count_it(built, tmp_path):
    r = pasidbench("run", ROOT / "suites" / "vm-smoke.toml", "--backend", "host", "--format",
                   "ktap", "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    ktap = tmp_path / "run.ktap"
    ktap.write_text(r.stdout)
    kunit, cases = kunit_parse(ktap, tmp_path)
    # kunit.py exits 1 when nothing passed; what it read is what counts.
    assert len(cases) == 3 and set(cases.values()) == {"SKIP"}, kunit.stdout + kunit.stderr


KTAP_DIRECTIVES = {"SKIP", "TODO", "XFAIL", "TIMEOUT", "ERROR"}  # ktap.rst's list


def test_kunit_parse_agrees_on_expected_failures(built, tmp_path):
    suite = tmp_path / "x.toml"
    suite.write_text('[suite]\nname = "xfail"\n'
                     '[[test]]\nworkload = "long-lived-binders"\n'
                     'backends = ["model:mm-lifetime/fork-inherits"]\nexpect = "fail"\n'
                     '[[test]]\nworkload = "long-lived-binders"\n'
                     'backends = ["model:mm-lifetime"]\nexpect = "fail"\n')
    r = pasidbench("run", suite, "--format", "ktap", "--out", tmp_path / "run", timeout=600)
    assert r.returncode == 1, r.stderr  # the correct policy passed where failure was expected
    ktap = tmp_path / "run.ktap"
    ktap.write_text(r.stdout)
    kunit, cases = kunit_parse(ktap, tmp_path)
    assert cases == {"long-lived-binders@model:mm-lifetime/fork-inherits": "PASS",
                     "long-lived-binders@model:mm-lifetime": "FAIL"}, kunit.stdout
    # Directives are keywords in capitals (SKIP, XFAIL); lower-case words after
    # the "#" are diagnostic text.
    directives = re.findall(r"^\s*(?:not )?ok \d+ [^#]*# ([A-Z]+)\b", ktap.read_text(), re.M)
    assert set(directives) <= KTAP_DIRECTIVES, ktap.read_text()


# --- KernelCI's kcidb-io schema -------------------------------------------------

def kcidb_io():
    path = debian_tools.CACHE / "kcidb-io"
    if not (path / "kcidb_io" / "__init__.py").exists():
        pytest.skip("kcidb-io is not packaged by Debian and PyPI is unreachable here; a lab puts "
                    f"a checkout of kernelci/kcidb-io at {path} to run this test")
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    import kcidb_io
    return kcidb_io


def test_kcidb_export_passes_kcidb_ios_own_schema(built, tmp_path):
    kcidb = kcidb_io()
    r = pasidbench("run", ROOT / "suites" / "vm-smoke.toml", "--backend", "host", "--out",
                   tmp_path / "run")
    assert r.returncode == 0, r.stderr
    r = pasidbench("export", "kcidb", tmp_path / "run", "--origin", "pasidbench_lab")
    assert r.returncode == 0, r.stderr
    kcidb.schema.V5_3.validate_exactly(json.loads(r.stdout))


def test_kcidb_export_carries_expected_failures(built, tmp_path):
    r = pasidbench("run", ROOT / "suites" / "smoke.toml", "--filter", "fork-inherits",
                   "--out", tmp_path / "run", timeout=600)
    assert r.returncode == 0, r.stderr
    r = pasidbench("export", "kcidb", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    tests = [t for t in json.loads(r.stdout)["tests"] if "fork-inherits" in t["path"] or
             "fork_inherits" in t["path"]]
    assert tests, r.stdout[:2000]
    verdicts = [t for t in tests if "number" not in t]
    assert verdicts and all(t["status"] != "FAIL" for t in verdicts), verdicts
    records = [t for t in verdicts if "test_id" in t.get("misc", {})]  # the test's own object
    assert records and all(t["misc"]["expected_outcome"] == "fail" for t in records), verdicts
