"""Text in a kernel manifest never chooses what the lab writes or deletes
(issue 16, finding 1): `version = "../../../victim"` with `lab --fetch-only`
emptied a directory outside the kernel cache, and kernel names "." and ".."
put per-kernel files into the output root. Bad input is exit 2 with
file:line, and nothing is written or deleted."""
import subprocess

import pytest

from conftest import PASIDBENCH


def pb(*args):
    return subprocess.run([str(PASIDBENCH), *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture
def victim(tmp_path):
    v = tmp_path / "victim"
    (v / "sub").mkdir(parents=True)
    (v / "keep").write_text("precious\n")
    (v / "sub" / "also").write_text("precious too\n")
    return v


def test_a_version_that_climbs_out_of_the_cache_deletes_nothing(tmp_path, victim):
    cache = tmp_path / "cache"
    # What a first fetch of this manifest leaves: the directory whose name
    # ends in "_..", through which "../../.." reaches the victim.
    (cache / "linux-image-6.1.0-99-amd64_..").mkdir(parents=True)
    manifest = tmp_path / "k.toml"
    manifest.write_text('[kernel]\nname = "k"\npolicy = "none"\n[source]\ntype = "debian"\n'
                        'package = "linux-image-6.1.0-99-amd64"\nversion = "../../../victim"\n')
    before = tree(tmp_path)
    for _ in range(2):  # the first fetch used to create the path, the second to remove it
        r = pb("lab", "--fetch-only", "--kernels", manifest, "--cache", cache)
        assert r.returncode == 2, r.stderr
        assert f"{manifest}:7: version must be a Debian package version" in r.stderr, r.stderr
    assert (victim / "keep").read_text() == "precious\n"
    assert (victim / "sub" / "also").exists()
    assert tree(tmp_path) == before, "bad input wrote or deleted something"


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_kernel_names_are_bad_input(tmp_path, name):
    manifest = tmp_path / "k.toml"
    manifest.write_text(f'[kernel]\nname = "{name}"\npolicy = "none"\n[source]\n'
                        'type = "image"\nvmlinuz = "bzImage"\n')
    before = tree(tmp_path)
    r = pb("lab", "--fetch-only", "--kernels", manifest, "--cache", tmp_path / "cache")
    assert r.returncode == 2, r.stderr
    assert f"{manifest}:2: name must start with a letter or digit" in r.stderr, r.stderr
    assert tree(tmp_path) == before
