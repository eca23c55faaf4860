#!/usr/bin/python3
"""Accuracy benchmark: pasidbench-micro's pipe ping-pong beside perf bench sched pipe.

Runs both, alternating, in one run: `perf bench sched pipe` pinned to one CPU
(both of its tasks inherit the pin) and pasidbench-micro's
pipe_pingpong/<mode>/same_cpu, for the same number of repetitions. Prints
each repetition's per-round-trip time, the mean and coefficient of variation
of each, and the ratio pasidbench/perf. Targets: ratio within +-5 %, CoV
<= 1 % on a quiet machine. See docs/accuracy.md.

    /usr/bin/python3 suites/micro/accuracy_perf_pipe.py [--repetitions 10]
        [--loops 100000] [--min-time 1.0] [--modes processes,threads]
        [--cpu N] [--micro build/suites/micro/pasidbench-micro] [--perf /usr/bin/perf]
"""

import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_perf(explicit):
    if explicit:
        return explicit
    candidates = ["/usr/bin/perf"] + sorted(glob.glob("/usr/bin/perf_*"), reverse=True)
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    return shutil.which("perf")


def find_micro(explicit):
    if explicit:
        return explicit
    env = os.environ.get("PASIDBENCH_MICRO")
    if env:
        return env
    return os.path.join(ROOT, "build", "suites", "micro", "pasidbench-micro")


def first_allowed_cpu():
    return min(os.sched_getaffinity(0))


def perf_round_trip_ns(perf, loops, threads, cpu):
    cmd = [perf, "bench", "sched", "pipe", "-l", str(loops)] + (["-T"] if threads else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, {cpu})).stdout
    m = re.search(r"([0-9.]+)\s+usecs/op", out)
    if not m:
        raise RuntimeError("perf printed no usecs/op line:\n" + out)
    return float(m.group(1)) * 1000.0


def micro_round_trip_ns(micro, mode, min_time, cpu):
    name = f"pipe_pingpong/{mode}/same_cpu"
    cmd = [micro, f"--benchmark_filter=^{name}$", "--benchmark_repetitions=1",
           f"--benchmark_min_time={min_time}", "--benchmark_format=json", "--no-counters"]
    # pasidbench-micro keeps to its affinity mask: this pins it to `cpu` too.
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True,
                                    preexec_fn=lambda: os.sched_setaffinity(0, {cpu})).stdout)
    rows = [b for b in out["benchmarks"] if b.get("run_name", b["name"]) == name
            and b.get("run_type", "iteration") == "iteration"]
    if not rows or rows[0].get("error_occurred"):
        raise RuntimeError(f"{name}: " + (rows[0].get("error_message", "") if rows else "no result"))
    unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[rows[0].get("time_unit", "ns")]
    return rows[0]["real_time"] * unit, rows[0]["label"] if "label" in rows[0] else ""


def cov(values):
    return statistics.stdev(values) / statistics.mean(values) * 100 if len(values) > 1 else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repetitions", type=int, default=10)
    ap.add_argument("--loops", type=int, default=100000, help="perf bench round trips per repetition")
    ap.add_argument("--min-time", type=float, default=1.0,
                    help="Google Benchmark --benchmark_min_time per repetition (seconds)")
    ap.add_argument("--modes", default="processes,threads")
    ap.add_argument("--cpu", type=int, help="CPU to run both on (default: the first allowed)")
    ap.add_argument("--micro")
    ap.add_argument("--perf")
    args = ap.parse_args()

    perf = find_perf(args.perf)
    micro = find_micro(args.micro)
    if not perf:
        sys.exit("accuracy: perf not found (Debian package linux-perf)")
    if not os.access(micro, os.X_OK):
        sys.exit(f"accuracy: {micro} not found; build first or pass --micro")
    cpu = args.cpu if args.cpu is not None else first_allowed_cpu()
    print(f"perf: {perf}; pasidbench-micro: {micro}; both pinned to CPU {cpu}; "
          f"{args.repetitions} repetitions, alternating")
    print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs online, "
          f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    for mode in args.modes.split(","):
        perf_ns, micro_ns = [], []
        label = ""
        for i in range(args.repetitions):
            # Alternate, so that drift in the machine's state hits both alike.
            p = perf_round_trip_ns(perf, args.loops, mode == "threads", cpu)
            m, label = micro_round_trip_ns(micro, mode, args.min_time, cpu)
            perf_ns.append(p)
            micro_ns.append(m)
            print(f"  {mode:9s} rep {i + 1:2d}: perf {p:10.1f} ns  pasidbench {m:10.1f} ns  "
                  f"ratio {m / p:6.3f}", flush=True)
        ratio = statistics.mean(micro_ns) / statistics.mean(perf_ns)
        ratios = [m / p for m, p in zip(micro_ns, perf_ns)]
        print(f"{mode}: pasidbench pipe_pingpong/{mode}/same_cpu ({label})")
        print(f"  perf bench sched pipe{' -T' if mode == 'threads' else ''}: "
              f"mean {statistics.mean(perf_ns):10.1f} ns/round trip, CoV {cov(perf_ns):5.2f} %")
        print(f"  pasidbench-micro:            mean {statistics.mean(micro_ns):10.1f} ns/round trip, "
              f"CoV {cov(micro_ns):5.2f} %")
        print(f"  ratio pasidbench/perf: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %) of the means, "
              f"median per-repetition ratio {statistics.median(ratios):.3f}, "
              f"range {min(ratios):.3f}..{max(ratios):.3f}; "
              f"target +-5 %: {'met' if abs(ratio - 1) <= 0.05 else 'NOT met'}; "
              f"CoV target 1 %: {'met' if cov(micro_ns) <= 1 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
