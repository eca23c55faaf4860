"""The kmod:<policy> backends on a machine where pasidlab.ko is not loaded
(the guest runs in test_kmod.py): every test is a SKIP that says how to
load it, a module path that is not there is an error naming it, and the
host backend leaves the module's micro benchmarks to them."""
import json
import os
import subprocess
import tomllib

import pytest

from conftest import PASIDBENCH, ROOT

pytestmark = pytest.mark.skipif(not PASIDBENCH.exists(), reason=f"{PASIDBENCH} not built")


def run(tmp_path, *args):
    out = tmp_path / "out"
    p = subprocess.run([str(PASIDBENCH), "run", *args, "--out", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=300)
    records = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()
               if l.strip()] if (out / "results.jsonl").exists() else []
    return p, [r for r in records if "test_id" in r]


def suite_size(suite_file):
    """The suite's [[test]] tables times their parameter matrices."""
    n = 0
    for test in tomllib.loads(suite_file.read_text())["test"]:
        size = 1
        for value in test.get("params", {}).values():
            size *= len(value) if isinstance(value, list) else 1
        n += size
    return n


@pytest.mark.skipif(os.path.exists("/dev/pasidlab/ctl"), reason="pasidlab.ko is loaded here")
def test_without_the_module_every_kmod_test_skips_saying_how_to_load_it(tmp_path):
    p, records = run(tmp_path, str(ROOT / "suites" / "kmod.toml"))
    assert p.returncode == 0, p.stderr
    assert len(records) == 4 * suite_size(ROOT / "suites" / "kmod.toml")
    for r in records:
        assert r["outcome"] == "skip"
        if r["params"].get("binding") == "no_module":
            assert "needs module=<path>" in r["reason"]
        else:
            assert "pasidlab.ko is not loaded (/dev/pasidlab/ctl:" in r["reason"]
            assert "module=<path to pasidlab.ko>" in r["reason"]


@pytest.mark.skipif(os.geteuid() != 0, reason="loading a module needs root")
def test_a_module_path_that_is_not_there_is_an_error_naming_it(tmp_path):
    p, records = run(tmp_path, str(ROOT / "suites" / "kmod.toml"), "--filter",
                     "clone-bind-exit", "--param", "module=/nonexistent/pasidlab.ko")
    assert p.returncode == 1
    assert len(records) == 4
    for r in records:
        assert r["outcome"] == "error"
        assert r["reason"] == "/nonexistent/pasidlab.ko: No such file or directory"


def test_host_backend_leaves_the_module_benchmarks_to_kmod(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "s"\nbackends = ["host"]\n'
                     '[[test]]\nworkload = "micro:pasidlab-first-submit"\n')
    p, records = run(tmp_path, str(suite))
    assert p.returncode == 0, p.stderr
    assert [r["outcome"] for r in records] == ["skip"]
    assert "runs on the kmod:<policy> backends" in records[0]["reason"]
