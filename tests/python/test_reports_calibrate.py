"""The calibration script's plumbing (not its figures: those it prints)."""

import json

import numpy as np
import pytest

import report_fixtures  # noqa: F401  (puts reports/ on sys.path)
import calibrate_stats


def gbench_output(times, unit="us", name="pipe_pingpong/threads/same_cpu"):
    entries = [{"name": name, "run_name": name, "run_type": "iteration",
                "repetition_index": i, "real_time": t, "cpu_time": t,
                "time_unit": unit, "iterations": 1000}
               for i, t in enumerate(times)]
    entries.append({"name": name + "_mean", "run_name": name,
                    "run_type": "aggregate", "aggregate_name": "mean",
                    "real_time": float(np.mean(times)), "time_unit": unit})
    return json.dumps({"context": {}, "benchmarks": entries})


def test_samples_are_the_repetitions_in_ns():
    name, samples = calibrate_stats.samples_from_gbench_json(
        gbench_output([2.5, 2.4, 2.6]))
    assert name == "pipe_pingpong/threads/same_cpu"
    assert samples.tolist() == [2500.0, 2400.0, 2600.0]   # aggregates skipped


def test_several_benchmarks_matched_is_an_error():
    first = json.loads(gbench_output([1.0], name="a"))
    second = json.loads(gbench_output([1.0], name="b"))
    first["benchmarks"] += second["benchmarks"]
    with pytest.raises(calibrate_stats.CalibrationError, match="narrow"):
        calibrate_stats.samples_from_gbench_json(json.dumps(first))


def test_benchmark_error_is_reported():
    output = json.loads(gbench_output([1.0]))
    output["benchmarks"][0].update(error_occurred=True,
                                   error_message="no pipe")
    with pytest.raises(calibrate_stats.CalibrationError, match="no pipe"):
        calibrate_stats.samples_from_gbench_json(json.dumps(output))


class FixedSampler:
    """Deterministic runs: the same samples every time, plus the delay."""
    name = "fixed"

    def __init__(self):
        self.injections = []

    def run(self, inject_ns):
        self.injections.append(inject_ns)
        return np.arange(1000.0, 1020.0) + inject_ns


def test_identical_runs_are_never_flagged_and_a_big_delay_always():
    sampler = FixedSampler()
    result = calibrate_stats.calibrate(
        sampler, trials=5, inject_pct=50.0, inject_ns=None, alpha=0.05,
        resamples=200, order_seed=0, progress=None)
    assert result["inject_ns"] == round(0.5 * np.median(
        np.arange(1000.0, 1020.0)))
    assert result["aa_hits"] == 0
    assert result["injected_hits"] == 5
    # one probe, then three runs per trial of which one is injected
    assert len(sampler.injections) == 16
    assert sampler.injections.count(result["inject_ns"]) == 5


def test_missing_binary_is_a_clear_exit_2(tmp_path, capsys):
    status = calibrate_stats.main(["--binary", str(tmp_path / "nope")])
    assert status == 2
    err = capsys.readouterr().err
    assert "not found" in err and "--synthetic" in err


def test_binary_without_inject_knob_is_explained(tmp_path, capsys):
    fake = tmp_path / "fake-bench"
    fake.write_text("#!/bin/sh\necho 'unrecognized flag --inject-ns=0' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    status = calibrate_stats.main(["--binary", str(fake), "--quiet"])
    assert status == 2
    assert "accept --inject-ns" in capsys.readouterr().err
