"""The calibration script's plumbing (not its figures: those it prints).

Its input is the records of suites/calibration.toml; here they are
synthetic, written into tmp dirs, so no benchmark binary is needed."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import report_fixtures
from report_fixtures import REPO, metric, skewed_samples, write_results
import calibrate_stats

PARAMS = {"mechanism": "pipe", "mode": "threads", "placement": "same_cpu",
          "min_time_ms": 20, "with_pasid": False, "submission": "auto"}


def trial_records(plain, delayed, inject_ns=150, second=0,
                  unit="process", delayed_outcome="pass"):
    """The two records one run of the calibration suite writes."""
    records = []
    for offset, (ns, samples) in enumerate(((0, plain), (inject_ns, delayed))):
        params = dict(PARAMS, inject_ns=ns, sample_unit=unit)
        record = report_fixtures.test_record(
            "micro:context-switch", params,
            {"roundtrip_ns": metric(samples),
             "ctxsw_ns": metric(np.asarray(samples) / 2)},
            outcome="pass" if ns == 0 else delayed_outcome)
        if record["outcome"] != "pass":
            record.update(metrics={}, reason="no pipe")
        record["started_at"] = f"2026-01-01T00:{second // 60:02d}:" \
                               f"{second % 60:02d}Z"
        record["details"] = {"sample_unit": unit}
        second += 1
        records.append(record)
    return records


def write_trial(directory, *args, **kwargs) -> str:
    write_results(Path(directory), trial_records(*args, **kwargs))
    return str(directory)


def rates(out):
    """The A/A and delay counts of the script's two rate lines."""
    return [f"{hits}/{of}"
            for hits, of in re.findall(r"(\d+)/(\d+) +=", out)]


def steps(center, n=12):
    """Deterministic samples: identical sets compare as no change."""
    return center + np.arange(n, dtype=float)


def test_identical_plain_sets_are_never_flagged_and_a_big_delay_always(
        tmp_path, capsys):
    sources = [write_trial(tmp_path / f"trial-{k}", steps(1000.0),
                           steps(1500.0), inject_ns=500, second=10 * k)
               for k in range(4)]
    assert calibrate_stats.main(sources + ["--quiet", "--bootstrap",
                                           "200"]) == 0
    out = capsys.readouterr().out
    # 4 trials: 3 A/A pairs of consecutive trials, 4 delays
    assert rates(out) == ["0/3", "4/4"]
    assert "500 ns" in out and "a sample is one process" in out
    assert "plain set first in 4 of 4 trials" in out


def test_a_a_pairs_trials_in_the_order_they_ran(tmp_path):
    # In time: 1000, 2000, 1000 -- both consecutive pairs differ. In
    # argument order (1000, 1000, 2000) only one pair would.
    first = write_trial(tmp_path / "a", steps(1000.0), steps(1100.0),
                        second=0)
    slow = write_trial(tmp_path / "b", steps(2000.0), steps(2100.0),
                       second=10)
    last = write_trial(tmp_path / "c", steps(1000.0), steps(1100.0),
                       second=20)
    trials = [calibrate_stats.read_trial(s, "roundtrip_ns")
              for s in (first, last, slow)]
    calibration = calibrate_stats.pair_trials(trials)
    assert [t.source for t in calibration.trials] == [first, slow, last]
    result = calibrate_stats.decide(calibration, 0.05, 200)
    assert (result["aa_hits"], result["aa_pairs"]) == (2, 2)
    assert (result["delay_hits"], result["delay_pairs"]) == (3, 3)


def test_the_metric_and_the_delay_come_from_the_records(tmp_path):
    source = write_trial(tmp_path / "t", steps(1000.0), steps(1020.0),
                         inject_ns=20)
    trial = calibrate_stats.read_trial(source, "ctxsw_ns")
    assert trial.plain.tolist() == (steps(1000.0) / 2).tolist()
    assert trial.inject_ns == 20 and trial.sample_unit == "process"
    assert trial.better == "lower"


def test_realistic_records_give_both_rates_with_intervals(tmp_path, capsys):
    rng = np.random.default_rng(5)
    sources = []
    for k in range(3):
        plain = skewed_samples(rng, 7200.0, 30)
        delayed = skewed_samples(rng, 7350.0, 30)
        sources.append(write_trial(tmp_path / f"t{k}", plain, delayed,
                                   second=10 * k))
    status = calibrate_stats.main(sources + ["--bootstrap", "200"])
    captured = capsys.readouterr()
    assert status in (0, 1)
    rates = [line for line in captured.out.splitlines() if "flagged" in line]
    assert len(rates) == 2 and all("95% CI" in line for line in rates)
    assert "/2 " in rates[0] and "/3 " in rates[1]
    assert len([line for line in captured.err.splitlines()
                if line.startswith("trial ")]) == 3


@pytest.mark.parametrize("case, message", [
    ("one trial", "give >= 2 trials"),
    ("no delayed set", "inject_ns > 0"),
    ("units differ", "differ in their sample unit"),
    ("skipped", "skip: no pipe"),
])
def test_unusable_records_are_exit_2_with_why(tmp_path, capsys, case,
                                              message):
    good = write_trial(tmp_path / "good", steps(1000.0), steps(1100.0))
    if case == "one trial":
        sources = [good]
    elif case == "no delayed set":
        records = trial_records(steps(1000.0), steps(1100.0))[:1]
        write_results(tmp_path / "bad", records)
        sources = [good, str(tmp_path / "bad")]
    elif case == "units differ":
        sources = [good, write_trial(tmp_path / "bad", steps(1000.0),
                                     steps(1100.0), second=10,
                                     unit="repetition")]
    else:
        sources = [good, write_trial(tmp_path / "bad", steps(1000.0),
                                     steps(1100.0), second=10,
                                     delayed_outcome="skip")]
    assert calibrate_stats.main(sources + ["--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_no_results_is_a_clear_exit_2(tmp_path, capsys):
    assert calibrate_stats.main([str(tmp_path / "nope"),
                                 str(tmp_path / "nope2")]) == 2
    assert "no results.jsonl found" in capsys.readouterr().err


def saved_file(path, trials=3):
    """A file as the earlier, measuring script saved it."""
    raw = [{"a1": [[1000.0 + i] * 3 for i in range(12)],
            "a2": [[1000.0 + i] * 3 for i in range(12)],
            "injected": [[1500.0 + i] * 3 for i in range(12)],
            "inject_ns": 500, "probe_ns": 1000.0} for _ in range(trials)]
    path.write_text(json.dumps({
        "format": "pasidbench-calibration/1", "sample_unit": "process",
        "processes": 12, "repetitions": 3, "order": "interleaved",
        "describe": "pasidbench-micro ...", "benchmark": "pipe_pingpong",
        "per_op_ns": 1000.0, "seconds": 1.0, "raw": raw}))
    return str(path)


def test_saved_samples_of_the_earlier_script_are_decided_again(
        tmp_path, capsys):
    saved = saved_file(tmp_path / "cal.json")
    assert calibrate_stats.main(["--from", saved, "--quiet", "--bootstrap",
                                 "200"]) == 0
    out = capsys.readouterr().out
    # its A/A was the two plain sets of each trial
    assert rates(out) == ["0/3", "3/3"]
    assert "decided again from" in out


def test_not_a_calibration_file_is_exit_2(tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text('{"format": "something else"}')
    assert calibrate_stats.main(["--from", str(other)]) == 2
    assert "not a pasidbench-calibration/1 file" in capsys.readouterr().err


def test_reports_run_nothing():
    # Reports only read records (DEVELOPERS.md); measuring is the suite's.
    for path in (REPO / "reports").rglob("*.py"):
        assert "subprocess" not in path.read_text(), path
