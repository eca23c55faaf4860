"""Killing `pasidbench run` takes its children with it (issue 16, finding 4).

Each test starts a run whose test lasts minutes (a model search, a host micro
benchmark with its partner process), waits until the isolated test process is
working, kills the runner, and checks that nothing of the test's process group
is left. Before the fix the test process led its own group with no parent-death
signal, and kept running after the runner was gone.
"""
import os
import pathlib
import signal
import subprocess
import time

import pytest

from conftest import PASIDBENCH

LONG_SEARCH = """
[suite]
name = "long-search"
backends = ["model:task-refcount"]
timeout_s = 600

[[test]]
workload = "thread-pool"
params = { strategy = "random", schedules = 100000000 }
"""

LONG_BENCHMARK = """
[suite]
name = "long-benchmark"
backends = ["host"]
timeout_s = 600

[[test]]
workload = "micro:context-switch"
params = { mode = "processes", min_time_ms = 600000 }
"""


def processes():
    """(pid, ppid, pgrp) of every live process; zombies count as gone."""
    out = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z":
            continue
        out.append((int(entry.name), int(fields[1]), int(fields[2])))
    return out


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def group_members(pgrp):
    return [pid for pid, _, g in processes() if g == pgrp]


def default_signals():
    # Whatever ran pytest (nohup, a CI shell) must not decide what we test.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def isolated_process_of(runner):
    """The isolated test process: the runner's child that leads a group."""
    return wait_for(lambda: next((pid for pid, ppid, g in processes()
                                  if ppid == runner.pid and g == pid), None),
                    60, "the runner's test process")


def start_run(tmp_path, suite_text, prefix=()):
    suite = tmp_path / "suite.toml"
    suite.write_text(suite_text)
    runner = subprocess.Popen([*prefix, str(PASIDBENCH), "run", str(suite), "--out",
                               str(tmp_path / "out")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, preexec_fn=default_signals, cwd=tmp_path)
    return runner, isolated_process_of(runner)


def kill_and_check(runner, group, sig, min_members=1):
    wait_for(lambda: len(group_members(group)) >= min_members, 60,
             f"{min_members} process(es) in the test's group")
    try:
        os.kill(runner.pid, sig)
        runner.wait(timeout=30)
        deadline = time.monotonic() + 10
        while group_members(group) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = group_members(group)
        assert not left, (f"after {signal.Signals(sig).name} of the runner, processes "
                          f"{left} of its test's group {group} are still running")
        assert runner.returncode == -sig, runner.returncode
    finally:
        try:
            os.killpg(group, signal.SIGKILL)  # never leave a search spinning
        except ProcessLookupError:
            pass
        if runner.poll() is None:
            runner.kill()
            runner.wait()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_killed_runner_leaves_no_search_running(tmp_path, sig):
    runner, child = start_run(tmp_path, LONG_SEARCH)
    kill_and_check(runner, child, sig)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_runner_leaves_no_benchmark_process_running(tmp_path, sig):
    runner, child = start_run(tmp_path, LONG_BENCHMARK)
    # The test process, pasidbench-micro and its partner process.
    kill_and_check(runner, child, sig, min_members=3)


def test_a_runner_under_nohup_still_ignores_sighup(tmp_path):
    """The runner forwards SIGHUP only when it would have died of it."""
    runner, child = start_run(tmp_path, LONG_SEARCH, prefix=("nohup",))
    try:
        os.kill(runner.pid, signal.SIGHUP)
        time.sleep(1)
        assert runner.poll() is None, "SIGHUP killed a runner started under nohup"
        assert group_members(child), "SIGHUP killed the test of a runner under nohup"
    finally:
        runner.kill()
        runner.wait()
        wait_for(lambda: not group_members(child), 10, "the test to die with the runner")
