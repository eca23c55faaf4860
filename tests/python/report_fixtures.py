"""Synthetic pasidbench result sets for the report tests.

Every record written here is validated against
results/schema/result-v2.schema.json, so the tests exercise the real input
format. Run as a script to write a demo comparison for looking at:

    /usr/bin/python3 tests/python/report_fixtures.py OUTDIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import numpy as np

REPO = Path(__file__).resolve().parents[2]
# The report package lives beside its script, not installed.
if str(REPO / "reports") not in sys.path:
    sys.path.insert(0, str(REPO / "reports"))
SCHEMA = json.loads(
    (REPO / "results" / "schema" / "result-v2.schema.json").read_text())
SCHEMA_TAG = "pasidbench-result/2"
_validator = jsonschema.Draft202012Validator(SCHEMA)


def validate(record: dict) -> None:
    _validator.validate(record)


def metric(samples, unit="ns", better="lower", note=None) -> dict:
    samples = [float(s) for s in samples]
    entry = {"value": float(np.median(samples)), "unit": unit,
             "better": better, "samples": samples}
    if note:
        entry["note"] = note
    return entry


def environment_record(release="6.10.0", run_id="run-1", **extra) -> dict:
    environment = {
        "kernel": {"release": release},
        "cpu": {"model": "Intel(R) Xeon(R) Gold 6438Y+", "logical_cpus": 128},
        "pasidbench": {"revision": "1a2b3c4d5e6f"},
        "topology": "2 sockets x 32 cores x 2 threads",
        "governor": "performance",
        "mitigations": "auto",
    }
    environment.update(extra)
    return {"schema": SCHEMA_TAG, "record": "environment", "run_id": run_id,
            "created_at": "2025-01-01T00:00:00Z", "environment": environment}


def test_record(workload, params=None, metrics=None, *, kernel="6.10.0-base",
                release="6.10.0", build_id="b0", backend="host", policy=None,
                outcome="pass", kind="benchmark", reason=None,
                violations=None, counterexample=None, timeline=None,
                emulated=False, time_base="real", test_id=None) -> dict:
    params = params or {}
    record = {
        "schema": SCHEMA_TAG, "record": "test", "run_id": "run-1",
        "test_id": test_id or "/".join(
            [workload] + [f"{k}={v}" for k, v in sorted(params.items())]),
        "kind": kind, "backend": backend, "workload": workload,
        "policy": policy, "params": params, "outcome": outcome,
        "metrics": metrics or {},
        "provenance": {
            "kernel": {"name": kernel, "release": release,
                       "build_id": build_id},
            "machine": {"hostname": "lab-07",
                        "cpu_model": "Intel(R) Xeon(R) Gold 6438Y+",
                        "emulated": emulated, "time_base": time_base},
            "pasidbench_revision": "1a2b3c4d5e6f"},
        "started_at": "2025-01-01T00:00:01Z", "duration_s": 1.5,
    }
    if reason is not None:
        record["reason"] = reason
    if violations is not None:
        record["violations"] = violations
    if counterexample is not None:
        record["counterexample"] = counterexample
    if timeline is not None:
        record["pasid_timeline"] = timeline
    return record


def model_record(policy, workload, params=None, metrics=None, **kwargs):
    return test_record(workload, params, metrics, kernel="model",
                       release="model", build_id="model",
                       backend=f"model:{policy}", policy=policy,
                       time_base="model", **kwargs)


def write_results(directory: Path, records: list, *, check=True,
                  raw_tail: str = "") -> Path:
    """Write records as results.jsonl in directory; raw_tail is appended
    verbatim (to make truncated or foreign lines)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for record in records:
        if check:
            validate(record)
        lines.append(json.dumps(record))
    path = directory / "results.jsonl"
    path.write_text("".join(line + "\n" for line in lines) + raw_tail)
    return path


def skewed_samples(rng, center, n, cov=0.01, tail=0.1):
    """Benchmark-like samples: a floor near center, log-normal spread and a
    tail of slow outliers (interrupts, migrations)."""
    values = center * np.exp(rng.normal(0.0, cov, n))
    slow = rng.random(n) < tail
    values[slow] *= 1.0 + rng.exponential(3 * cov, int(slow.sum()))
    return values


def run_cli(args) -> tuple:
    """Run the report command in-process: (exit status, stdout, stderr)."""
    import contextlib
    import io
    from pasidbench_reports import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main([str(a) for a in args])
        except SystemExit as exit_:
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------- demo

def _host_set(rng, name, build_id, ctxsw_factor, pasid_factor, ipi_factor,
              n=15, fail_thread_pool=False, **kwargs):
    records = [environment_record(release=name,
                                  mitigations="auto" if "v3" not in name
                                  else "off")]
    common = dict(kernel=name, release=name, build_id=build_id,
                  **kwargs)
    for with_pasid in (False, True):
        base = 2400.0 * ctxsw_factor * (pasid_factor if with_pasid else 1.0)
        records.append(test_record(
            "pipe-pingpong", {"binding": "same_cpu", "with_pasid": with_pasid},
            {"ctxsw_ns": metric(skewed_samples(rng, base, n)),
             "pingpong_ops": metric(
                 1e9 / skewed_samples(rng, 2 * base, n), "ops/s", "higher")},
            **common))
    for cpus in (1, 2, 4, 8, 16):
        base = (900.0 + 310.0 * cpus) * ipi_factor
        records.append(test_record(
            "membarrier-ipi", {"spinning_cpus": cpus},
            {"membarrier_ns": metric(skewed_samples(rng, base, n, cov=0.02))},
            **common))
    records.append(test_record(
        "thread-pool", {"threads": 8, "variant": "binder-exits"},
        {"submissions_ok": metric([4096], "count", "higher")},
        kind="conformance", outcome="fail" if fail_thread_pool else "pass",
        reason="expected every submission ok, 3 faulted"
        if fail_thread_pool else None, **common))
    return records


def _timeline(policy):
    spans = []
    t = 0.0
    for round_number in range(4):
        mm = f"mm{round_number + 1}"
        bound = 2.0e6
        idle = {"task-refcount": 0.1e6, "mm-lifetime": 3.0e6,
                "mm-lifetime-lazy-gp": 3.0e6}[policy]
        pasid = 1 if policy == "task-refcount" else round_number + 1
        spans.append({"pasid": pasid, "mm": mm, "state": "bound",
                      "start_ns": t, "end_ns": t + bound})
        spans.append({"pasid": pasid, "mm": mm, "state": "idle",
                      "start_ns": t + bound, "end_ns": t + bound + idle})
        t += 2.5e6
    return spans


def demo_records_model(rng):
    records = [environment_record(release="model")]
    trace = [
        "cpu0  t=0      T1(mm1) bind wq0 -> pasid 1",
        "cpu1  t=120    T2(mm1) enqcmd #GP fixup -> msr=1 (ref 2)",
        "cpu0  t=300    T1(mm1) unbind -> pasid 1 freed (refcount dropped)",
        "cpu2  t=410    T3(mm2) bind wq0 -> pasid 1 (reused)",
        "cpu1  t=415    T2(mm1) enqcmd pasid 1 -> DMA into mm2",
        "      ISOLATION VIOLATION: pasid 1 bound to mm2, submitter mm1",
        "cpu1  t=420    T2(mm1) exit",
    ]
    for policy, idle_s, ipis in (("task-refcount", 0.0004, 12),
                                 ("mm-lifetime", 0.012, 0),
                                 ("mm-lifetime-lazy-gp", 0.012, 0)):
        fails = policy == "task-refcount"
        records.append(model_record(
            policy, "clone-bind-exit", {"rounds": 4, "second_process": True},
            {"pasid_seconds_idle": metric(
                idle_s * (1 + rng.normal(0, 0.02, 12)), "pasid-s", "lower"),
             "ipis": metric([ipis] * 12, "count", "lower"),
             "context_switches": metric(
                 np.round(4000 + rng.normal(0, 40, 12)), "count", "lower")},
            kind="conformance", outcome="fail" if fails else "pass",
            reason="isolation_violation: DMA into another mm" if fails
            else None,
            violations={"isolation_violation": 1 if fails else 0},
            counterexample={"violation": "isolation_violation", "events": 7,
                            "trace": trace, "schedule": {"seed": 7}}
            if fails else None,
            timeline=_timeline(policy)))
    return records


def write_demo(root: Path) -> list:
    rng = np.random.default_rng(2025)
    root = Path(root)
    dirs = []
    for name, build, ctx, pasid, ipi, fail in (
            ("6.10.0-vanilla", "3f2a9c1e0b7d", 1.0, 1.02, 1.0, False),
            ("6.10.0-pasid-v2", "77ab01ffe210", 1.0, 1.05, 1.08, True),
            ("6.10.0-pasid-v3", "c0ffee123456", 0.99, 1.02, 1.0, False)):
        dirs.append(root / name)
        write_results(dirs[-1], _host_set(rng, name, build, ctx, pasid, ipi,
                                          fail_thread_pool=fail))
    write_results(root / "model", demo_records_model(rng))
    return dirs + [root / "model"]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: report_fixtures.py OUTDIR")
    for path in write_demo(Path(sys.argv[1])):
        print(path)
