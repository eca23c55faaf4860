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
    """Deterministic processes: each call gives the next of a fixed cycle of
    repetition lists, plus the delay."""
    name = "fixed"

    def __init__(self):
        self.injections = []

    def run(self, inject_ns):
        self.injections.append(inject_ns)
        shift = len(self.injections) % 7
        return np.arange(1000.0, 1003.0) + shift + inject_ns


@pytest.mark.parametrize("order", ["interleaved", "blocks"])
def test_identical_runs_are_never_flagged_and_a_big_delay_always(order):
    sampler = FixedSampler()
    result = calibrate_stats.calibrate(
        sampler, trials=5, inject_pct=50.0, inject_ns=None, alpha=0.05,
        resamples=200, order_seed=0, processes=14, order=order,
        progress=None)
    assert result["aa_hits"] == 0
    assert result["injected_hits"] == 5
    # one probe, then per trial a probe and three arms of 14 processes
    assert len(sampler.injections) == 1 + 5 * (1 + 3 * 14)
    for trial in result["raw"]:
        # half of the median of the probe run just before the trial
        assert trial["inject_ns"] == round(0.5 * trial["probe_ns"])
        assert trial["probe_ns"] in [1001.0 + shift for shift in range(7)]
    assert sum(ns > 0 for ns in sampler.injections) == 5 * 14
    assert result["inject_share"] == pytest.approx(50, abs=0.1)
    assert [len(trial["a2"]) for trial in result["raw"]] == [14] * 5
    assert result["steady_trials"] == 5


def test_blocks_keep_an_arm_together_and_interleaving_mixes_them():
    def arms_in_run_order(order):
        sampler = FixedSampler()
        calibrate_stats.calibrate(
            sampler, trials=1, inject_pct=50.0, inject_ns=None, alpha=0.05,
            resamples=50, order_seed=3, processes=10, order=order,
            progress=None)
        return ["inj" if ns else "plain" for ns in sampler.injections[2:]]
    blocks = arms_in_run_order("blocks")
    first = blocks.index("inj")
    assert blocks[first:first + 10] == ["inj"] * 10
    mixed = arms_in_run_order("interleaved")
    assert mixed.count("inj") == 10
    runs_of_inj = sum(1 for i, arm in enumerate(mixed)
                      if arm == "inj" and (i == 0 or mixed[i - 1] != "inj"))
    assert runs_of_inj > 1


def test_a_sample_is_a_process_median_or_a_repetition():
    processes = [[3.0, 1.0, 2.0], [10.0, 30.0, 20.0]]
    assert calibrate_stats.arm_samples(processes, "process").tolist() == [
        2.0, 20.0]
    assert calibrate_stats.arm_samples(processes, "repetition").tolist() == [
        3.0, 1.0, 2.0, 10.0, 30.0, 20.0]


def test_saved_samples_are_decided_again(tmp_path, capsys):
    saved = tmp_path / "calibration.json"
    status = calibrate_stats.main(["--synthetic", "--quiet", "--trials", "3",
                                   "--processes", "12", "--bootstrap", "200",
                                   "--save", str(saved)])
    first = capsys.readouterr().out
    assert status in (0, 1)
    data = json.loads(saved.read_text())
    assert data["format"] == "pasidbench-calibration/1"
    assert len(data["raw"]) == 3 and len(data["raw"][0]["a1"]) == 12
    calibrate_stats.main(["--from", str(saved), "--quiet", "--bootstrap",
                          "200"])
    again = capsys.readouterr().out
    rates = [line for line in first.splitlines() if "flagged" in line]
    assert rates == [line for line in again.splitlines() if "flagged" in line]
    assert "decided again from" in again


def test_not_a_calibration_file_is_exit_2(tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text('{"format": "something else"}')
    assert calibrate_stats.main(["--from", str(other)]) == 2
    assert "not a pasidbench-calibration/1 file" in capsys.readouterr().err


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


def test_a_fixed_delay_is_used_as_given_without_probing_each_trial():
    sampler = FixedSampler()
    result = calibrate_stats.calibrate(
        sampler, trials=2, inject_pct=2.0, inject_ns=37, alpha=0.05,
        resamples=100, order_seed=0, processes=3, progress=None)
    assert len(sampler.injections) == 1 + 2 * 3 * 3
    assert set(sampler.injections) == {0, 37}
    assert result["inject_ns_min"] == result["inject_ns_max"] == 37
