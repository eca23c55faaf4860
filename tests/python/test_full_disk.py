"""A full disk mid-run (issue 16): exit 1 with a message naming the file, no
torn line in results.jsonl, no half-written file anywhere.

The disk fills with RLIMIT_FSIZE: past the limit write() writes what fits and
then fails with EFBIG, as a disk that fills up in the middle of a line does.
Before the fix the run died with exit 3 ("internal error") and left the part
of the record that fitted as the file's last line."""
import json
import resource
import signal
import subprocess

import pytest

from conftest import PASIDBENCH

SUITE = """
[suite]
name = "small"
backends = ["model:task-refcount"]

[[test]]
workload = "clone-bind-exit"
params = { rounds = [1, 2, 3] }
"""


def file_size_limit(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    return apply


def pb(*args, limit=None):
    return subprocess.run([str(PASIDBENCH), *map(str, args)], capture_output=True, text=True,
                          timeout=300, preexec_fn=file_size_limit(limit) if limit else None)


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SUITE)
    return path


def test_a_full_disk_mid_run_is_exit_1_and_leaves_whole_lines(tmp_path, suite):
    full = pb("run", suite, "--out", tmp_path / "full")
    assert full.returncode == 0, full.stderr
    lines = (tmp_path / "full" / "results.jsonl").read_bytes().splitlines(keepends=True)
    assert len(lines) == 4  # the environment and three tests
    # Room for the environment record, the first test and half the second.
    limit = len(lines[0]) + len(lines[1]) + len(lines[2]) // 2
    out = tmp_path / "cut"
    r = pb("run", suite, "--out", out, limit=limit)
    results = out / "results.jsonl"
    assert r.returncode == 1, r.stderr
    assert f"pasidbench: {results}: write failed: File too large" in r.stderr, r.stderr
    assert "internal error" not in r.stderr
    text = results.read_bytes()
    assert text.endswith(b"\n"), "torn last line"
    records = [json.loads(line) for line in text.splitlines()]
    assert [rec["record"] for rec in records] == ["environment", "test"]


def test_a_full_disk_never_leaves_half_an_export(tmp_path, suite):
    assert pb("run", suite, "--out", tmp_path / "run").returncode == 0
    target = tmp_path / "kcidb.json"
    r = pb("export", "kcidb", tmp_path / "run", "--out", target, limit=200)
    assert r.returncode == 1, r.stderr
    assert f"pasidbench: {target}: write failed: File too large" in r.stderr, r.stderr
    assert not target.exists(), "a torn export was left behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "small.toml"]  # no temp file


def test_a_full_disk_never_leaves_half_a_bundle_nor_touches_a_neighbour(tmp_path, suite):
    neighbour = tmp_path / "bundle.tar.gz.work"  # the scratch name `lava bundle` used to remove
    neighbour.mkdir()
    (neighbour / "mine").write_text("not the suite's\n")
    target = tmp_path / "bundle.tar.gz"
    r = pb("lava", "bundle", "--suite", suite, "--out", target, limit=64 * 1024)
    assert r.returncode == 1, r.stderr
    # Staging the files or writing the tarball: either way the message names it.
    assert r.stderr.startswith(f"pasidbench: {target}"), r.stderr
    assert "internal error" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [neighbour.name, "small.toml"]
    assert (neighbour / "mine").read_text() == "not the suite's\n"
