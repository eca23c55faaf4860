#!/usr/bin/python3
"""Calibrate the report's significance test on a real benchmark.

A benchmark that prints figures, not a unit test. Each trial runs the ping-
pong micro benchmark three times (twice plain, once with a delay injected
into its loop) and asks the report's own comparison code
(pasidbench_reports.stats.compare_samples) two questions:

  A/A        plain run vs plain run: flagged significant?   target <= 5 %
  injected   plain run vs run with --inject-ns=K, K = 2 % of the measured
             per-op time: flagged significant?              target >= 95 %

A sample is one benchmark process: the median of its few repetitions.
Repetitions inside one process share whatever that process drew (CPU,
frequency, page placement, the host's vCPU scheduling), so treating them as
independent samples makes two runs of the same binary look different far
more often than alpha says. --sample-unit repetition keeps the old way (one
process, its repetitions as samples) to show that. The processes of the
three arms run in one shuffled sequence; --order blocks runs each arm as
one block instead, as two kernels' runs are, which exposes the comparison
to the machine changing speed between blocks. The delay is sized from a
probe run before each trial.

With --synthetic the runs are drawn from a generator of skewed,
benchmark-like samples instead, so the statistics can be calibrated where
the benchmark binary is not built. --save keeps every repetition of every
process; --from re-decides saved samples (another --alpha, say) without
running anything.

Exit status: 0 both targets met, 1 a target missed, 2 bad usage or the
benchmark could not be run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pasidbench_reports import stats  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BINARY = "build/suites/micro/pasidbench-micro"
DEFAULT_FILTER = "^pipe_pingpong/threads/same_cpu$"
AA_TARGET_MAX = 0.05
INJECTED_TARGET_MIN = 0.95
SAVE_FORMAT = "pasidbench-calibration/1"
TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


class CalibrationError(Exception):
    pass


def samples_from_gbench_json(text: str) -> tuple:
    """(benchmark name, per-iteration real times in ns) of the repetitions
    in Google Benchmark JSON output; aggregates (mean, median, ...) are
    skipped because they are not samples."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise CalibrationError(f"benchmark output is not JSON: {err}") from err
    by_name = {}
    for entry in document.get("benchmarks", []):
        if entry.get("run_type", "iteration") != "iteration":
            continue
        if entry.get("error_occurred"):
            raise CalibrationError(
                f"benchmark {entry.get('name')} failed: "
                f"{entry.get('error_message', 'no message')}")
        name = entry.get("run_name", entry["name"])
        unit = entry.get("time_unit", "ns")
        if unit not in TIME_UNIT_NS:
            raise CalibrationError(f"unknown time unit {unit!r}")
        by_name.setdefault(name, []).append(
            float(entry["real_time"]) * TIME_UNIT_NS[unit])
    if not by_name:
        raise CalibrationError("the filter matched no benchmark repetitions")
    if len(by_name) > 1:
        raise CalibrationError(
            "the filter matched several benchmarks ("
            + ", ".join(sorted(by_name)) + "); narrow --filter to one")
    [(name, samples)] = by_name.items()
    return name, np.asarray(samples)


class BinarySampler:
    """Samples from the Google Benchmark binary, one process per run."""

    def __init__(self, binary: Path, bench_filter: str, repetitions: int,
                 min_time: str, timeout_s: float):
        self.binary = binary
        self.bench_filter = bench_filter
        self.repetitions = repetitions
        self.min_time = min_time
        self.timeout_s = timeout_s
        self.name = None

    def describe(self) -> str:
        return (f"{self.binary} --benchmark_filter={self.bench_filter} "
                f"--benchmark_repetitions={self.repetitions} "
                f"--benchmark_min_time={self.min_time}")

    def run(self, inject_ns: int) -> np.ndarray:
        command = [str(self.binary),
                   f"--benchmark_filter={self.bench_filter}",
                   f"--benchmark_repetitions={self.repetitions}",
                   f"--benchmark_min_time={self.min_time}",
                   "--benchmark_format=json", f"--inject-ns={inject_ns}"]
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=self.timeout_s, check=False)
        except subprocess.TimeoutExpired as err:
            raise CalibrationError(
                f"benchmark run took over {self.timeout_s:g} s: "
                f"{' '.join(command)}") from err
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            hint = ""
            if "inject" in (done.stderr + done.stdout):
                hint = (" (does this binary accept --inject-ns yet? "
                        "Use --synthetic meanwhile)")
            raise CalibrationError(
                f"benchmark exited {done.returncode}{hint}: "
                + " | ".join(detail))
        name, samples = samples_from_gbench_json(done.stdout)
        self.name = name
        return samples


class SyntheticSampler:
    """Benchmark-like runs without a benchmark: per-repetition per-op times
    with a hard floor, log-normal spread, a tail of slow repetitions
    (interrupts, migrations), and a small run-to-run drift (frequency,
    placement) shared by all repetitions of one run. Injected nanoseconds
    add to every op, as a delay in the loop would."""

    def __init__(self, repetitions: int, seed: int, per_op_ns=2400.0,
                 spread=0.01, tail_fraction=0.1, tail_scale=0.03,
                 run_drift=0.001):
        self.repetitions = repetitions
        self.rng = np.random.default_rng(seed)
        self.per_op_ns = per_op_ns
        self.spread = spread
        self.tail_fraction = tail_fraction
        self.tail_scale = tail_scale
        self.run_drift = run_drift
        self.name = "synthetic pipe_pingpong"

    def describe(self) -> str:
        return (f"synthetic skewed samples: {self.per_op_ns:g} ns/op, "
                f"log-normal spread {self.spread:.1%}, "
                f"{self.tail_fraction:.0%} slow tail (mean "
                f"+{self.tail_scale:.0%}), run-to-run drift "
                f"{self.run_drift:.1%}; {self.repetitions} repetitions")

    def run(self, inject_ns: int) -> np.ndarray:
        n = self.repetitions
        drift = 1.0 + self.rng.normal(0.0, self.run_drift)
        values = (self.per_op_ns + inject_ns) * drift * np.exp(
            self.rng.normal(0.0, self.spread, n))
        slow = self.rng.random(n) < self.tail_fraction
        values[slow] *= 1.0 + self.rng.exponential(self.tail_scale,
                                                   int(slow.sum()))
        return values


def clopper_pearson(hits: int, trials: int, level=0.95) -> tuple:
    """Exact binomial interval: 40 trials leave a wide doubt on a rate."""
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


ARMS = ("a1", "a2", "injected")


def run_trial(sampler, inject_ns: int, processes: int, unit: str,
              order: str, rng: np.random.Generator) -> dict:
    """The repetitions of each process of each arm, as lists of ns/op.

    'blocks' runs each arm's processes back to back, arms in shuffled order,
    as two kernels' runs are; a disturbance of the machine that lasts a few
    seconds then shifts one whole set. 'interleaved' runs the processes of
    all arms in one shuffled sequence, so that such a disturbance lands on
    every arm alike and only the statistics are under test."""
    count = 1 if unit == "repetition" else processes
    slots = [(str(arm), k) for arm in ARMS for k in range(count)]
    if order == "interleaved":
        slots = [slots[i] for i in rng.permutation(len(slots))]
    else:
        arms = [str(arm) for arm in rng.permutation(ARMS)]
        slots = [(arm, k) for arm in arms for k in range(count)]
    trial = {arm: [None] * count for arm in ARMS}
    for arm, k in slots:
        trial[arm][k] = sampler.run(
            inject_ns if arm == "injected" else 0).tolist()
    return trial


def arm_samples(processes_reps: list, unit: str) -> np.ndarray:
    """What the test sees: each process's median, or (unit 'repetition')
    the repetitions of the one process."""
    if unit == "repetition":
        return np.asarray([v for reps in processes_reps for v in reps])
    return np.asarray([float(np.median(reps)) for reps in processes_reps])


def judge_trial(trial: dict, index: int, unit: str, alpha: float,
                resamples: int):
    """(A/A comparison, plain-vs-injected comparison) of one trial, decided
    by the report's own compare_samples."""
    a1, a2, injected = (arm_samples(trial[arm], unit) for arm in ARMS)
    aa = stats.compare_samples(a1, a2, "lower", alpha=alpha,
                               resamples=resamples, seed=2 * index)
    delayed = stats.compare_samples(a1, injected, "lower", alpha=alpha,
                                    resamples=resamples, seed=2 * index + 1)
    return aa, delayed


# A trial whose plain runs are this far from the session's typical per-op
# time ran on a machine in another state (host contention, a frequency
# change), where the spread between processes is larger too.
STEADY_TOLERANCE = 0.05


def trial_per_op(trial: dict, unit: str) -> float:
    """Median per-op time of the trial's plain runs, in ns."""
    plain = np.concatenate([arm_samples(trial[arm], unit)
                            for arm in ("a1", "a2")])
    return float(np.median(plain))


def tally(decisions: list, per_ops: list) -> dict:
    aa_changes = [aa.change_pct for aa, _ in decisions]
    injected_changes = [inj.change_pct for _, inj in decisions]
    typical = float(np.median(per_ops))
    speeds = [per_op / typical for per_op in per_ops]
    steady = [abs(speed - 1.0) <= STEADY_TOLERANCE for speed in speeds]
    return {"aa_hits": sum(aa.significant for aa, _ in decisions),
            "injected_hits": sum(inj.significant for _, inj in decisions),
            "trials": len(decisions),
            "aa_median_abs_change": float(np.median(np.abs(aa_changes))),
            "injected_median_change": float(np.median(injected_changes)),
            "typical_per_op_ns": typical,
            "speed_min": min(speeds), "speed_max": max(speeds),
            "steady_trials": sum(steady),
            "steady_aa_hits": sum(aa.significant for (aa, _), ok
                                  in zip(decisions, steady) if ok),
            "steady_injected_hits": sum(inj.significant for (_, inj), ok
                                        in zip(decisions, steady) if ok)}


def progress_line(index: int, trials: int, aa, injected,
                  per_op_ns: float) -> str:
    return (f"trial {index + 1:3d}/{trials}: A/A {aa.change_pct:+6.2f}% "
            f"p={aa.p_value:.3f} {aa.verdict:<6}  injected "
            f"{injected.change_pct:+6.2f}% p={injected.p_value:.3g} "
            f"{injected.verdict:<6}  {per_op_ns:.0f} ns/op")


def calibrate(sampler, trials: int, inject_pct: float, inject_ns: int | None,
              alpha: float, resamples: int, order_seed: int,
              processes: int = 30, unit: str = "process",
              order: str = "interleaved", progress=sys.stderr) -> dict:
    """Run the trials; the result holds the tally and every repetition
    measured (under 'raw'), so that --from can decide them again."""
    started = time.monotonic()
    per_op_ns = float(np.median(sampler.run(0)))
    order_rng = np.random.default_rng(order_seed)
    raw, decisions, per_ops = [], [], []
    for index in range(trials):
        # The delay is sized afresh each trial: when the machine changes
        # speed, a fixed delay would no longer be the share asked for.
        probe_ns = per_op_ns
        trial_inject_ns = inject_ns
        if trial_inject_ns is None:
            probe_ns = float(np.median(sampler.run(0)))
            trial_inject_ns = max(1, int(round(probe_ns * inject_pct / 100)))
        trial = run_trial(sampler, trial_inject_ns, processes, unit, order,
                          order_rng)
        trial.update(inject_ns=trial_inject_ns, probe_ns=probe_ns)
        raw.append(trial)
        decisions.append(judge_trial(trial, index, unit, alpha, resamples))
        per_ops.append(trial_per_op(trial, unit))
        if progress:
            print(progress_line(index, trials, *decisions[-1], per_ops[-1]),
                  file=progress, flush=True)
    result = tally(decisions, per_ops)
    result.update(per_op_ns=per_op_ns, seconds=time.monotonic() - started,
                  raw=raw, **injection_range(raw, per_op_ns))
    return result


def injection_range(raw: list, per_op_ns: float) -> dict:
    shares = [trial["inject_ns"] / trial["probe_ns"] * 100 for trial in raw]
    return {"inject_ns_min": min(t["inject_ns"] for t in raw),
            "inject_ns_max": max(t["inject_ns"] for t in raw),
            "inject_share": float(np.median(shares)),
            "probed_each_trial": any(t["probe_ns"] != per_op_ns
                                     for t in raw)}


def redecide(saved: dict, alpha: float, resamples: int) -> dict:
    """The tally of saved samples under another alpha or resample count."""
    unit = saved["sample_unit"]
    for trial in saved["raw"]:
        # Files saved before the delay was sized per trial hold one delay.
        trial.setdefault("inject_ns", saved.get("inject_ns"))
        trial.setdefault("probe_ns", saved["per_op_ns"])
    decisions = [judge_trial(trial, index, unit, alpha, resamples)
                 for index, trial in enumerate(saved["raw"])]
    per_ops = [trial_per_op(trial, unit) for trial in saved["raw"]]
    result = tally(decisions, per_ops)
    result.update(per_op_ns=saved["per_op_ns"], seconds=saved["seconds"],
                  raw=saved["raw"],
                  **injection_range(saved["raw"], saved["per_op_ns"]))
    return result


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Measure how often the report's significance test flags "
                    "A/A runs (target <= 5 %) and a 2 % injected delay "
                    "(target >= 95 %).")
    parser.add_argument("--binary", default=DEFAULT_BINARY,
                        help="Google Benchmark binary (default %(default)s, "
                             "relative to the repository root)")
    parser.add_argument("--filter", default=DEFAULT_FILTER,
                        help="--benchmark_filter (default %(default)s)")
    parser.add_argument("--synthetic", action="store_true",
                        help="draw skewed synthetic samples instead of "
                             "running the binary")
    parser.add_argument("--synthetic-spread", type=float, default=1.0,
                        metavar="PCT", help="synthetic per-repetition "
                        "log-normal spread (default %(default)s %%)")
    parser.add_argument("--synthetic-drift", type=float, default=1.5,
                        metavar="PCT", help="synthetic process-to-process "
                        "drift (default %(default)s %%, about what "
                        "pipe_pingpong shows on the 2-vCPU dev VM)")
    parser.add_argument("--trials", type=int, default=40,
                        help="trials (default %(default)s)")
    parser.add_argument("--sample-unit", choices=("process", "repetition"),
                        default="process",
                        help="a sample is a process's median (default), or "
                             "one repetition of a single process")
    parser.add_argument("--processes", type=int, default=30,
                        help="processes per arm, so samples per set, with "
                             "--sample-unit process (default %(default)s)")
    parser.add_argument("--order", choices=("interleaved", "blocks"),
                        default="interleaved",
                        help="run the processes of the three arms in one "
                             "shuffled sequence (default), or each arm as "
                             "one block, arms shuffled")
    parser.add_argument("--repetitions", type=int, default=3,
                        help="repetitions per process (default %(default)s)")
    parser.add_argument("--min-time", default="0.02",
                        help="--benchmark_min_time per repetition "
                             "(default %(default)s s)")
    parser.add_argument("--inject-pct", type=float, default=2.0,
                        help="delay to inject, in %% of the measured per-op "
                             "time (default %(default)s)")
    parser.add_argument("--inject-ns", type=int, default=None,
                        help="inject exactly this many ns instead")
    parser.add_argument("--alpha", type=float, default=stats.DEFAULT_ALPHA)
    parser.add_argument("--bootstrap", type=int,
                        default=stats.DEFAULT_BOOTSTRAP_RESAMPLES)
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the run order and synthetic samples")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds allowed per benchmark run")
    parser.add_argument("--save", metavar="FILE",
                        help="write every repetition measured to FILE (JSON)")
    parser.add_argument("--from", dest="from_file", metavar="FILE",
                        help="decide the samples saved in FILE again (with "
                             "this --alpha and --bootstrap); runs nothing")
    parser.add_argument("--quiet", action="store_true",
                        help="no per-trial lines on stderr")
    args = parser.parse_args(argv)
    samples = (args.repetitions if args.sample_unit == "repetition"
               else args.processes)
    if args.trials < 1 or args.repetitions < 1 or args.processes < 1:
        parser.error("need --trials, --processes and --repetitions >= 1")
    if samples < stats.MIN_SAMPLES_FOR_TEST:
        parser.error(f"a set needs >= {stats.MIN_SAMPLES_FOR_TEST} samples: "
                     f"raise --processes (or --repetitions with "
                     f"--sample-unit repetition)")
    return args


def describe_unit(unit: str, processes: int, repetitions: int,
                  order: str) -> str:
    if unit == "repetition":
        return (f"a sample is one repetition; {repetitions} repetitions of "
                f"one process per set")
    return (f"a sample is one process (median of its {repetitions} "
            f"repetitions); {processes} processes per set, {order}")


def load_saved(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
    except (OSError, json.JSONDecodeError) as err:
        raise CalibrationError(f"cannot read {path}: {err}") from err
    needed = ("sample_unit", "raw", "per_op_ns", "seconds",
              "describe", "benchmark", "processes", "repetitions",
              "order")
    missing = [key for key in needed if key not in saved]
    if not missing and "inject_ns" not in saved and not all(
            "inject_ns" in trial for trial in saved["raw"]):
        missing.append("inject_ns")
    if missing or saved.get("format") != SAVE_FORMAT:
        raise CalibrationError(
            f"{path} is not a {SAVE_FORMAT} file"
            + (f" (missing {', '.join(missing)})" if missing else ""))
    return saved


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.from_file:
            saved = load_saved(args.from_file)
            result = redecide(saved, args.alpha, args.bootstrap)
            describe, benchmark = saved["describe"], saved["benchmark"]
            unit = describe_unit(saved["sample_unit"], saved["processes"],
                                 saved["repetitions"], saved["order"])
        else:
            if args.synthetic:
                sampler = SyntheticSampler(
                    args.repetitions, args.seed,
                    spread=args.synthetic_spread / 100,
                    run_drift=args.synthetic_drift / 100)
            else:
                binary = Path(args.binary)
                if not binary.is_absolute():
                    binary = REPO / binary
                if not (binary.is_file() and binary.stat().st_mode & 0o111):
                    print(f"calibrate_stats: benchmark binary {binary} not "
                          f"found or not executable. Build it (cmake --build "
                          f"--preset default), pass --binary, or run with "
                          f"--synthetic.", file=sys.stderr)
                    return 2
                sampler = BinarySampler(binary, args.filter, args.repetitions,
                                        args.min_time, args.timeout)
            result = calibrate(sampler, args.trials, args.inject_pct,
                               args.inject_ns, args.alpha, args.bootstrap,
                               args.seed, processes=args.processes,
                               unit=args.sample_unit, order=args.order,
                               progress=None if args.quiet else sys.stderr)
            describe, benchmark = sampler.describe(), sampler.name
            unit = describe_unit(args.sample_unit, args.processes,
                                 args.repetitions, args.order)
            if args.save:
                with open(args.save, "w", encoding="utf-8") as handle:
                    json.dump({"format": SAVE_FORMAT,
                               "sample_unit": args.sample_unit,
                               "processes": args.processes,
                               "repetitions": args.repetitions,
                               "order": args.order,
                               "describe": describe, "benchmark": benchmark,
                               "per_op_ns": result["per_op_ns"],
                               "seconds": result["seconds"],
                               "raw": result["raw"]}, handle)
    except CalibrationError as err:
        print(f"calibrate_stats: {err}", file=sys.stderr)
        return 2

    level = round((1 - args.alpha) * 100)
    trials = result["trials"]
    aa_rate = result["aa_hits"] / trials
    injected_rate = result["injected_hits"] / trials
    aa_met = aa_rate <= AA_TARGET_MAX
    injected_met = injected_rate >= INJECTED_TARGET_MIN
    inject_share = result["inject_share"]
    low, high = result["inject_ns_min"], result["inject_ns_max"]
    injected = f"{low} ns" if low == high else f"{low}-{high} ns"
    print("pasidbench statistics calibration")
    print(f"  test:      {stats.TEST_METHOD}, p < {args.alpha:g}, and "
          f"{stats.CI_METHOD} ({level}%, {args.bootstrap} resamples) "
          f"excluding 0 -- the report's code")
    print(f"  samples:   {describe}")
    print(f"             {unit}")
    print(f"  benchmark: {benchmark}; per-op time "
          f"{result['per_op_ns']:.1f} ns (median of the first probe run)")
    print(f"  injected:  {injected}, {inject_share:.2f}% of "
          + ("the probe run before each trial (median)"
             if result["probed_each_trial"] else "the first probe run"))
    print(f"  trials:    {trials}, {result['seconds']:.0f} s"
          + (f" (decided again from {args.from_file})"
             if args.from_file else ""))
    print("  " + rate_line("A/A flagged significant", result["aa_hits"],
                           trials, f"<= {AA_TARGET_MAX:.0%}", aa_met))
    print("  " + rate_line(f"{inject_share:.1f}% delay flagged",
                           result["injected_hits"], trials,
                           f">= {INJECTED_TARGET_MIN:.0%}", injected_met))
    print(f"  median |A/A change| {result['aa_median_abs_change']:.2f}%, "
          f"median injected change {result['injected_median_change']:+.2f}% "
          f"(+ is better)")
    steady = result["steady_trials"]
    print(f"  machine:   trials' plain per-op times at "
          f"{result['speed_min']:.2f}-{result['speed_max']:.2f}x their "
          f"median ({result['typical_per_op_ns']:.0f} ns); "
          f"{trials - steady} of {trials} off by more than "
          f"{STEADY_TOLERANCE:.0%}")
    if 0 < steady < trials:
        # Diagnostic only: the verdict above counts every trial.
        print(f"             in the {steady} steady trials: A/A "
              f"{result['steady_aa_hits']}/{steady}, delay "
              f"{result['steady_injected_hits']}/{steady} (not the verdict)")
    return 0 if aa_met and injected_met else 1


if __name__ == "__main__":
    sys.exit(main())
