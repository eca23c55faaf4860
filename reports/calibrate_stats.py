#!/usr/bin/python3
"""Calibrate the report's significance test on real benchmark records.

A benchmark that prints figures, not a unit test. It runs nothing: it reads
the result records of trials of suites/calibration.toml, one RESULTS
directory (or .jsonl file) per trial,

    for k in $(seq 1 40); do
      pasidbench run suites/calibration.toml --out out/cal/trial-$k; done
    /usr/bin/python3 reports/calibrate_stats.py out/cal/trial-*

and asks the report's own comparison code
(pasidbench_reports.stats.compare_samples) two questions:

  A/A        the plain set (inject_ns = 0) of one trial against the plain
             set of the next: flagged significant?          target <= 5 %
  delay      each trial's delayed set (inject_ns > 0) against its plain
             set: flagged significant?                       target >= 95 %

The samples are those the records hold (roundtrip_ns of
micro:context-switch unless --metric says otherwise); what a sample is,
one process or one repetition inside a single process, is the record's
sample_unit. Trials are taken in the order they ran (their records'
started_at), so A/A compares trials next to each other in time.

Records are the saved samples: run the script again with another --alpha
or --bootstrap to decide them again. --from re-decides a file that the
earlier, measuring version of this script saved (pasidbench-calibration/1).

Exit status: 0 both targets met, 1 a target missed, 2 bad usage or records
that cannot be used (the message says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pasidbench_reports import load, stats  # noqa: E402

WORKLOAD = "micro:context-switch"
METRICS = ("roundtrip_ns", "ctxsw_ns")
AA_TARGET_MAX = 0.05
INJECTED_TARGET_MIN = 0.95
SAVE_FORMAT = "pasidbench-calibration/1"
# A trial whose plain set is this far from the typical per-op time ran on
# a machine in another state (host contention, a frequency change), where
# the spread between processes is larger too.
STEADY_TOLERANCE = 0.05


class CalibrationError(Exception):
    pass


@dataclass
class Trial:
    """One trial: its plain and delayed samples of the metric."""
    source: str
    plain: np.ndarray
    delayed: np.ndarray
    inject_ns: int
    sample_unit: str
    test: str            # the test without inject_ns, to check trials agree
    better: str
    started_at: str = ""
    seconds: float = 0.0
    plain_first: bool = True

    @property
    def per_op_ns(self) -> float:
        return float(np.median(self.plain))


@dataclass
class Pair:
    """One comparison the script decides, and the trials it draws on."""
    base: np.ndarray
    new: np.ndarray
    trials: tuple


@dataclass
class Calibration:
    """What is decided: A/A pairs, delay pairs, and what they came from."""
    trials: list
    aa: list = field(default_factory=list)
    delay: list = field(default_factory=list)


def _inject_ns(record: dict) -> int:
    try:
        return int(float(record["params"].get("inject_ns", 0)))
    except (TypeError, ValueError) as err:
        raise CalibrationError(
            f"{record['test_id']}: inject_ns is not a number") from err


def _sample_unit(record: dict) -> str:
    # The host runner records what it did; a manifest's choice is a fallback.
    details = record.get("details") or {}
    return str(details.get("sample_unit")
               or record["params"].get("sample_unit") or "process")


def _samples(record: dict, metric: str, source: str) -> tuple:
    entry = record["metrics"].get(metric)
    if not entry:
        raise CalibrationError(
            f"{source}: {record['test_id']} has no {metric} metric")
    samples = [float(v) for v in entry.get("samples") or []
               if isinstance(v, (int, float)) and np.isfinite(v)]
    if len(samples) < stats.MIN_SAMPLES_FOR_TEST:
        raise CalibrationError(
            f"{source}: {record['test_id']} has {len(samples)} usable "
            f"{metric} samples; a set needs >= {stats.MIN_SAMPLES_FOR_TEST}")
    return np.asarray(samples), entry["better"]


def read_trial(source: str, metric: str, warn=sys.stderr) -> Trial:
    """The trial in one RESULTS argument: one plain and one delayed
    micro:context-switch record of one kernel."""
    try:
        sets = load.load_result_sets(source)
    except load.LoadError as err:
        raise CalibrationError(str(err)) from err
    for result_set in sets:
        for problem in result_set.problems:
            print(f"calibrate_stats: warning: {problem}", file=warn)
    if len(sets) > 1:
        raise CalibrationError(
            f"{source}: records of {len(sets)} kernels or policies "
            f"({', '.join(s.name for s in sets)}); a trial is one run")
    records = [r for r in sets[0].tests.values() if r["workload"] == WORKLOAD]
    for record in records:
        if record["outcome"] not in load.MEASURED_OUTCOMES:
            raise CalibrationError(
                f"{source}: {record['test_id']} {record['outcome']}: "
                f"{record.get('reason') or 'no reason given'}")
    plain = [r for r in records if _inject_ns(r) == 0]
    delayed = [r for r in records if _inject_ns(r) > 0]
    if len(plain) != 1 or len(delayed) != 1:
        raise CalibrationError(
            f"{source}: a trial needs one {WORKLOAD} record with inject_ns = "
            f"0 and one with inject_ns > 0; found {len(plain)} and "
            f"{len(delayed)} (run suites/calibration.toml once per trial)")
    [plain], [delayed] = plain, delayed
    tests = set()
    for record in (plain, delayed):
        # sample_unit is compared on its own, from what the runner did.
        params = {k: v for k, v in record["params"].items()
                  if k not in ("inject_ns", "sample_unit")}
        tests.add(load.TestKey(WORKLOAD,
                               json.dumps(params, sort_keys=True)).describe())
    units = {_sample_unit(plain), _sample_unit(delayed)}
    if len(tests) != 1 or len(units) != 1:
        raise CalibrationError(
            f"{source}: the plain and delayed tests differ in more than "
            f"inject_ns ({' | '.join(sorted(tests | units))})")
    plain_samples, better = _samples(plain, metric, source)
    delayed_samples, _ = _samples(delayed, metric, source)
    return Trial(source=source, plain=plain_samples, delayed=delayed_samples,
                 inject_ns=_inject_ns(delayed), sample_unit=units.pop(),
                 test=tests.pop(), better=better,
                 started_at=min(plain["started_at"], delayed["started_at"]),
                 seconds=plain["duration_s"] + delayed["duration_s"],
                 plain_first=plain["started_at"] <= delayed["started_at"])


def pair_trials(trials: list) -> Calibration:
    """A/A: each trial's plain set against the next trial's; delay: each
    trial's delayed set against its own plain set."""
    if len(trials) < 2:
        raise CalibrationError(
            "A/A compares one trial with the next: give >= 2 trials")
    for what in ("test", "sample_unit", "better"):
        seen = sorted({str(getattr(t, what)) for t in trials})
        if len(seen) > 1:
            raise CalibrationError(
                f"the trials differ in their {what.replace('_', ' ')} "
                f"({' | '.join(seen)}); calibrate one setting at a time")
    # Stable: trials that started at the same second keep argument order.
    trials = sorted(trials, key=lambda t: t.started_at)
    calibration = Calibration(trials=trials)
    for k, trial in enumerate(trials):
        if k + 1 < len(trials):
            calibration.aa.append(Pair(trial.plain, trials[k + 1].plain,
                                       (k, k + 1)))
        calibration.delay.append(Pair(trial.plain, trial.delayed, (k,)))
    return calibration


def clopper_pearson(hits: int, trials: int, level=0.95) -> tuple:
    """Exact binomial interval: a few trials leave a wide doubt on a rate."""
    tail = (1 - level) / 2
    low = scipy_stats.beta.ppf(tail, hits, trials - hits + 1) if hits else 0.0
    high = (scipy_stats.beta.ppf(1 - tail, hits + 1, trials - hits)
            if hits < trials else 1.0)
    return float(low), float(high)


def rate_line(label: str, hits: int, trials: int, target: str,
              met: bool) -> str:
    low, high = clopper_pearson(hits, trials)
    return (f"{label:<28} {hits:3d}/{trials:<3d} = {hits / trials:6.1%}   "
            f"(target {target})   95% CI {low:.1%}..{high:.1%}   "
            f"{'met' if met else 'MISSED'}")


def decide(calibration: Calibration, alpha: float, resamples: int,
           progress=None) -> dict:
    """Decide every pair by the report's compare_samples and tally."""
    better = calibration.trials[0].better
    aa = [stats.compare_samples(p.base, p.new, better, alpha=alpha,
                                resamples=resamples, seed=2 * k)
          for k, p in enumerate(calibration.aa)]
    delay = [stats.compare_samples(p.base, p.new, better, alpha=alpha,
                                   resamples=resamples, seed=2 * k + 1)
             for k, p in enumerate(calibration.delay)]
    per_ops = [t.per_op_ns for t in calibration.trials]
    typical = float(np.median(per_ops))
    speeds = [per_op / typical for per_op in per_ops]
    steady = [abs(speed - 1.0) <= STEADY_TOLERANCE for speed in speeds]
    if progress:
        for k, trial in enumerate(calibration.trials):
            line = (f"trial {k + 1:3d}/{len(per_ops)} {trial.source}: delay "
                    f"{delay[k].change_pct:+6.2f}% p={delay[k].p_value:.3g} "
                    f"{delay[k].verdict:<6}")
            if k < len(aa):
                line += (f"  A/A with next {aa[k].change_pct:+6.2f}% "
                         f"p={aa[k].p_value:.3f} {aa[k].verdict:<6}")
            print(line + f"  {trial.per_op_ns:.0f} ns/op", file=progress)

    def steady_hits(pairs, comparisons):
        kept = [c.significant for p, c in zip(pairs, comparisons)
                if all(steady[k] for k in p.trials)]
        return sum(kept), len(kept)

    shares = [t.inject_ns / t.per_op_ns * 100 for t in calibration.trials]
    return {"aa_hits": sum(c.significant for c in aa), "aa_pairs": len(aa),
            "delay_hits": sum(c.significant for c in delay),
            "delay_pairs": len(delay),
            "aa_median_abs_change": float(np.median(
                np.abs([c.change_pct for c in aa]))),
            "delay_median_change": float(np.median(
                [c.change_pct for c in delay])),
            "typical_per_op_ns": typical,
            "speed_min": min(speeds), "speed_max": max(speeds),
            "steady_trials": sum(steady),
            "steady_aa": steady_hits(calibration.aa, aa),
            "steady_delay": steady_hits(calibration.delay, delay),
            "inject_ns_min": min(t.inject_ns for t in calibration.trials),
            "inject_ns_max": max(t.inject_ns for t in calibration.trials),
            "inject_share": float(np.median(shares))}


def load_saved(path: str) -> tuple:
    """(Calibration, description) of a file the measuring script saved:
    its A/A was two plain sets of one trial, a1 and a2."""
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
    except (OSError, json.JSONDecodeError) as err:
        raise CalibrationError(f"cannot read {path}: {err}") from err
    if not isinstance(saved, dict) or saved.get("format") != SAVE_FORMAT \
            or not saved.get("raw") or "sample_unit" not in saved:
        raise CalibrationError(f"{path} is not a {SAVE_FORMAT} file")
    unit = saved["sample_unit"]

    def arm(processes):
        # A sample was a process's median, or each repetition of one.
        if unit == "repetition":
            return np.asarray([v for reps in processes for v in reps])
        return np.asarray([float(np.median(reps)) for reps in processes])

    calibration = Calibration(trials=[])
    for k, raw in enumerate(saved["raw"]):
        plain, other, delayed = arm(raw["a1"]), arm(raw["a2"]), \
            arm(raw["injected"])
        calibration.trials.append(Trial(
            source=f"{path}#{k + 1}", plain=np.concatenate([plain, other]),
            delayed=delayed,
            inject_ns=int(raw.get("inject_ns", saved.get("inject_ns", 0))),
            sample_unit=unit, test=saved.get("benchmark", "?"),
            better="lower"))
        calibration.aa.append(Pair(plain, other, (k,)))
        calibration.delay.append(Pair(plain, delayed, (k,)))
    return calibration, saved.get("describe", "")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Read the records of trials of suites/calibration.toml "
                    "(one RESULTS directory or .jsonl file per trial) and "
                    "measure how often the report's significance test flags "
                    "A/A (one trial's plain set against the next trial's; "
                    "target <= 5 %%) and the injected delay (each trial's "
                    "delayed set against its plain set; target >= 95 %%). "
                    "Runs nothing.",
        epilog="Exit status: 0 both targets met, 1 a target missed, 2 bad "
               "usage or unusable records.")
    parser.add_argument("results", nargs="*", metavar="RESULTS",
                        help="one trial: the output directory of one "
                             "'pasidbench run suites/calibration.toml', or "
                             "its results.jsonl")
    parser.add_argument("--metric", choices=METRICS, default=METRICS[0],
                        help="the metric of micro:context-switch to decide "
                             "on (default %(default)s)")
    parser.add_argument("--alpha", type=float, default=stats.DEFAULT_ALPHA)
    parser.add_argument("--bootstrap", type=int,
                        default=stats.DEFAULT_BOOTSTRAP_RESAMPLES)
    parser.add_argument("--from", dest="from_file", metavar="FILE",
                        help="decide again the samples in FILE, saved by "
                             "the earlier script that measured itself "
                             f"({SAVE_FORMAT}), instead of RESULTS")
    parser.add_argument("--quiet", action="store_true",
                        help="no per-trial lines on stderr")
    args = parser.parse_args(argv)
    if bool(args.results) == bool(args.from_file):
        parser.error("give the trials' RESULTS, or --from FILE")
    return args


def describe_records(calibration: Calibration, metric: str) -> list:
    trials = calibration.trials
    first = trials[0]
    sizes = sorted({(t.plain.size, t.delayed.size) for t in trials})
    size = ", ".join(f"{p}/{d}" for p, d in sizes)
    unit = ("one process" if first.sample_unit == "process"
            else "one repetition inside a single process")
    plain_first = sum(t.plain_first for t in trials)
    return [f"  records:   {first.test}",
            f"             {metric}; a sample is {unit}; {size} samples "
            f"in the plain/delayed set",
            f"             each set's processes back to back as the suite "
            f"runs them; plain set first in {plain_first} of {len(trials)} "
            f"trials"]


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.from_file:
            calibration, describe = load_saved(args.from_file)
            lines = [f"  samples:   {describe}",
                     f"             saved by the earlier script: A/A is its "
                     f"two plain sets of one trial"]
            source = f"decided again from {args.from_file}"
        else:
            trials = [read_trial(source, args.metric) for source in
                      args.results]
            calibration = pair_trials(trials)
            lines = describe_records(calibration, args.metric)
            source = (f"{sum(t.seconds for t in trials):.0f} s of benchmark "
                      f"runs in the records")
        result = decide(calibration, args.alpha, args.bootstrap,
                        progress=None if args.quiet else sys.stderr)
    except CalibrationError as err:
        print(f"calibrate_stats: {err}", file=sys.stderr)
        return 2

    level = round((1 - args.alpha) * 100)
    trials = len(calibration.trials)
    aa_rate = result["aa_hits"] / result["aa_pairs"]
    delay_rate = result["delay_hits"] / result["delay_pairs"]
    aa_met = aa_rate <= AA_TARGET_MAX
    delay_met = delay_rate >= INJECTED_TARGET_MIN
    share = result["inject_share"]
    low, high = result["inject_ns_min"], result["inject_ns_max"]
    injected = f"{low} ns" if low == high else f"{low}-{high} ns"
    print("pasidbench statistics calibration")
    print(f"  test:      {stats.TEST_METHOD}, p < {args.alpha:g}, and "
          f"{stats.CI_METHOD} ({level}%, {args.bootstrap} resamples) "
          f"excluding 0 -- the report's code")
    for line in lines:
        print(line)
    print(f"  per-op:    {result['typical_per_op_ns']:.1f} ns (median of "
          f"the trials' plain-set medians)")
    print(f"  injected:  {injected}, {share:.2f}% of the trial's plain "
          f"per-op time (median)")
    print(f"  trials:    {trials}, {source}; {result['aa_pairs']} A/A "
          f"pairs, {result['delay_pairs']} delay pairs")
    print("  " + rate_line("A/A flagged significant", result["aa_hits"],
                           result["aa_pairs"], f"<= {AA_TARGET_MAX:.0%}",
                           aa_met))
    print("  " + rate_line(f"{share:.1f}% delay flagged",
                           result["delay_hits"], result["delay_pairs"],
                           f">= {INJECTED_TARGET_MIN:.0%}", delay_met))
    print(f"  median |A/A change| {result['aa_median_abs_change']:.2f}%, "
          f"median delay change {result['delay_median_change']:+.2f}% "
          f"(+ is better)")
    steady = result["steady_trials"]
    print(f"  machine:   trials' plain per-op times at "
          f"{result['speed_min']:.2f}-{result['speed_max']:.2f}x their "
          f"median; {trials - steady} of {trials} off by more than "
          f"{STEADY_TOLERANCE:.0%}")
    if 0 < steady < trials:
        # Diagnostic only: the verdict above counts every pair.
        (aa_hits, aa_n), (delay_hits, delay_n) = (result["steady_aa"],
                                                  result["steady_delay"])
        print(f"             among steady trials: A/A {aa_hits}/{aa_n}, "
              f"delay {delay_hits}/{delay_n} (not the verdict)")
    return 0 if aa_met and delay_met else 1


if __name__ == "__main__":
    sys.exit(main())
