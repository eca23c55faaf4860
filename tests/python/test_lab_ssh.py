"""The ssh runner against a private sshd on 127.0.0.1 (started and stopped here).

Skips with the reason when sshd or ssh-keygen is missing, or sshd cannot be
started (it needs its privilege-separation directory, /run/sshd).
"""
import json
import os
import pathlib
import platform
import shutil
import socket
import subprocess
import time

import jsonschema
import pytest

from conftest import PASIDBENCH, ROOT

SSHD = "/usr/sbin/sshd"
SCHEMA = json.loads((ROOT / "results" / "schema" / "result-v2.schema.json").read_text())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None or shutil.which("ssh") is None:
        pytest.skip("sshd/ssh not installed (Debian packages openssh-server, openssh-client)")
    if not os.path.isdir("/run/sshd"):
        if os.geteuid() != 0:
            pytest.skip("sshd needs /run/sshd (its privilege-separation directory) and we are not root")
        os.makedirs("/run/sshd", mode=0o755)
    d = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)],
                       check=True, timeout=30)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    port = free_port()
    (d / "sshd_config").write_text(f"""ListenAddress 127.0.0.1
Port {port}
HostKey {d}/host_key
AuthorizedKeysFile {d}/authorized_keys
PidFile {d}/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
""")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=open(d / "sshd.log", "w"))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.skip("sshd did not start listening within 10 s: " + (d / "sshd.log").read_text())
    if proc.poll() is not None:
        pytest.skip("sshd exited: " + (d / "sshd.log").read_text().strip())
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    yield {"dest": f"{user}@127.0.0.1", "port": port, "key": d / "client_key", "dir": d}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def lab_ssh(sshd, *args, port=None):
    cmd = [str(PASIDBENCH), "lab", "--ssh", sshd["dest"], "--ssh-port", str(port or sshd["port"]),
           "--ssh-option", f"IdentityFile={sshd['key']}",
           "--ssh-option", "StrictHostKeyChecking=no",
           "--ssh-option", "UserKnownHostsFile=/dev/null",
           "--ssh-option", "LogLevel=ERROR",
           "--remote-dir", str(sshd["dir"] / "remote"), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def booted_manifest(tmp_path, release=""):
    path = tmp_path / "booted.toml"
    path.write_text('[kernel]\nname = "this-machine"\npolicy = "unknown"\n[source]\n'
                    'type = "booted"\n' + (f'release = "{release}"\n' if release else ""))
    return path


def test_runs_the_suite_over_ssh_and_streams_every_record(sshd, tmp_path):
    out = tmp_path / "out"
    r = lab_ssh(sshd, "--kernels", booted_manifest(tmp_path, platform.release()),
                "--suite", ROOT / "suites" / "vm-smoke.toml", "--out", out)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    for rec in recs:
        jsonschema.validate(rec, SCHEMA)
    tests = [x for x in recs if x["record"] == "test"]
    assert len(tests) == 4
    for t in tests:
        assert t["provenance"]["kernel"]["name"] == "this-machine"
        assert t["provenance"]["kernel"]["release"] == platform.release()
        assert t["provenance"]["machine"]["emulated"] is False
        assert t["provenance"]["machine"]["time_base"] == "real"
    connection = tests[-1]
    assert connection["test_id"] == "boot@lab" and connection["outcome"] == "pass"
    assert connection["backend"] == f"ssh:{sshd['dest']}"
    # The bundle runs with its own loader and libraries.
    assert (sshd["dir"] / "remote" / "pasidbench").exists()
    assert any((sshd["dir"] / "remote" / "lib").glob("ld-linux*"))


def test_a_machine_running_another_kernel_is_recorded_not_measured(sshd, tmp_path):
    out = tmp_path / "out"
    r = lab_ssh(sshd, "--kernels", booted_manifest(tmp_path, "0.0.0-expected"),
                "--suite", ROOT / "suites" / "vm-smoke.toml", "--out", out)
    assert r.returncode == 1
    tests = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    boot = next(t for t in tests if t["test_id"] == "boot@lab")
    assert boot["outcome"] == "error"
    assert boot["reason"] == (f"{sshd['dest']} runs kernel {platform.release()}, not 0.0.0-expected "
                              f"as {tmp_path / 'booted.toml'} says")
    assert all(t["outcome"] == "error" for t in tests)
    # Issue 16 finding 2: resumed, the recorded errors still fail the night.
    again = lab_ssh(sshd, "--kernels", booted_manifest(tmp_path, "0.0.0-expected"),
                    "--suite", ROOT / "suites" / "vm-smoke.toml", "--out", out, "--resume")
    assert again.returncode == 1, again.stderr
    assert "already recorded (resume): 0 passed, 4 failed" in again.stderr
    assert "taken from the earlier run (--resume), 4 of them failed" in again.stderr


def test_an_unreachable_machine_is_a_recorded_error(sshd, tmp_path):
    out = tmp_path / "out"
    r = lab_ssh(sshd, "--kernels", booted_manifest(tmp_path), "--suite",
                ROOT / "suites" / "vm-smoke.toml", "--out", out, port=free_port())
    assert r.returncode == 1
    tests = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    boot = next(t for t in tests if t["test_id"] == "boot@lab")
    assert boot["reason"].startswith(f"cannot reach {sshd['dest']}: exit 255")
    assert "Connection refused" in boot["reason"]


def test_kmod_tests_run_there_and_skip_with_why_no_module_could_be_built(sshd, tmp_path):
    # This machine's kernel is no Debian kernel and has no build tree: no
    # pasidlab.ko for it. Its kmod tests are sent along all the same (not
    # dropped by a --backend host) and each SKIPs naming why.
    release = platform.release()
    debian = subprocess.run(["dpkg", "-S", f"/boot/vmlinuz-{release}"],
                            capture_output=True).returncode == 0
    if debian or os.path.exists(f"/lib/modules/{release}/build"):
        pytest.skip(f"kernel {release} has headers here: the lab would build pasidlab.ko "
                    "and load it into this machine's kernel")
    out = tmp_path / "out"
    r = lab_ssh(sshd, "--kernels", booted_manifest(tmp_path, platform.release()),
                "--suite", ROOT / "suites" / "vm-policies.toml", "--out", out,
                "--filter", "clone-bind-exit")
    assert r.returncode == 0, r.stderr
    tests = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()
             if json.loads(l)["record"] == "test"]
    kmod = [t for t in tests if t["backend"].startswith("kmod:")]
    assert sorted(t["policy"] for t in kmod) == sorted(
        ["mm-lifetime", "mm-lifetime-lazy-gp", "resync-ipi", "task-refcount"])
    boot = next(t for t in tests if t["test_id"] == "boot@lab")
    why = boot["details"]["pasidlab"]["error"]
    assert "no headers to build pasidlab.ko against" in why
    for t in kmod:
        assert t["outcome"] == "skip", t
        assert t["reason"] == "no pasidlab.ko for this kernel: " + why
