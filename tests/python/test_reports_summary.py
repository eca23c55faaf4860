"""The summary that answers first, and what the sets compare: one set per
kernel of a lab file, policies apart from kernels, mutants never columns,
model counts without tests, virtual time without noise statistics."""

import numpy as np

import report_fixtures as fx
from pasidbench_reports import summary

BASE = np.arange(1000.0, 1015.0)
POLICIES = ("task-refcount", "mm-lifetime", "mm-lifetime-lazy-gp",
            "resync-ipi")


def counts(values, unit="count"):
    """Model metric: samples per explored schedule, the reference first."""
    return fx.metric(values, unit, "lower")


def smoke_like(tmp_path):
    records = [fx.environment_record(release="6.1.0")]
    for k, policy in enumerate(POLICIES):
        for binder in ("stays", "unbinds", "exits"):
            record = fx.model_record(
                policy, "thread-pool", {"binder": binder, "cpus": 2},
                {"ipis": counts([3 + k, 1, 9 + k]),
                 "pasid_allocs": counts([2, 2, 2]),
                 "pasid_peak_live": counts([1, 1, 2]),
                 "modelled_overhead_ns": counts([16000, 16000, 20000], "ns")},
                kind="conformance", reason="no violation in 10 schedules")
            record["search"] = {"strategy": "exhaustive", "schedules": 12000,
                                "complete": True}
            records.append(record)
    mutant = fx.model_record(
        "task-refcount/unbind-frees", "thread-pool", {"binder": "unbinds"},
        {"ipis": counts([1, 1])}, kind="conformance", outcome="fail",
        reason="isolation_violation in 3 of 9 schedules",
        counterexample={"violation": "isolation_violation", "events": 12,
                        "trace": ["cpu0 bind"],
                        "replay_file": str(tmp_path / "run" /
                                           "replay-x-thread-pool-1.json")})
    mutant["mutant_of"] = "task-refcount"
    mutant["expected_outcome"] = "fail"
    records.append(mutant)
    rng = np.random.default_rng(1)
    for placement in ("same_cpu", "cross_cpu"):
        records.append(fx.test_record(
            "micro:context-switch", {"placement": placement},
            {"ctxsw_ns": fx.metric(fx.skewed_samples(rng, 2400, 15))},
            kernel="6.1.0-amd64", release="6.1.0"))
    records.append(fx.test_record(
        "thread-pool", {}, kind="conformance", outcome="skip",
        reason="CPU lacks ENQCMD", kernel="6.1.0-amd64", release="6.1.0"))
    fx.write_results(tmp_path / "run", records)
    return tmp_path / "run"


def test_summary_comes_first_fits_a_screen_and_answers(tmp_path):
    status, out, _ = fx.run_cli([smoke_like(tmp_path), "--summary"])
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("pasidbench summary:")
    assert "R=" in " ".join(lines[:2])
    assert len(lines) <= summary.MAX_LINES
    assert all(len(line) <= 72 for line in lines), [
        line for line in lines if len(line) > 72]
    assert any(line.startswith("verdict: ok") for line in lines[:5])
    # Conformance: one column per policy, the mutant in a section of its
    # own with its violation, trace length and replay file.
    header = next(line for line in lines if line.startswith("Verdicts"))
    assert header.split()[-4:] == ["A", "B", "C", "D"]
    assert "  A task-refcount  B mm-lifetime  C mm-lifetime-lazy-gp  D " \
           "resync-ipi" in lines
    assert any(line.startswith("thread-pool binder=exits")
               and line.split()[-2:] == ["PASS", "12k"] for line in lines)
    assert "  task-refcount/unbind-frees: thread-pool, isolation, 12 " \
           "events" in lines
    assert "    $R/replay-x-thread-pool-1.json" in lines
    # The policy table: the reference schedule's value (the first
    # sample), the range where it differs.
    block = lines[lines.index("thread-pool binder=stays") + 1:]
    # columns: alloc/pk idle IPIs swPW twork #GP ovh ("-": not recorded)
    assert block[0].split() == ["A", "2/1(1-2)", "-", "3(1-9)", "-", "-",
                                "-", "16(16-20)"]
    assert block[3].split()[:4] == ["D", "2/1(1-2)", "-", "6(1-12)"]
    # The kernel's costs, and one line per skip.
    assert any(line.startswith("  ctxsw_ns micro:context-switch cross_cpu")
               or line.startswith("  ctxsw_ns context-switch cross_cpu")
               for line in lines), lines
    assert any(line.startswith("SKIP thread-pool (6.1.0-amd64): CPU lacks "
                               "ENQCMD") for line in lines)


def test_without_summary_the_full_report_follows_it(tmp_path):
    run = smoke_like(tmp_path)
    _, short, _ = fx.run_cli([run, "--summary"])
    status, out, _ = fx.run_cli([run])
    assert status == 0
    assert out.startswith(short)
    full = out[len(short):]
    assert "Policies (model backend)" in full
    assert "Kernel builds" in full
    assert "Seeded mutants (conformance only)" in full
    # Model metrics are counts over schedules: no test, no interval.
    policies = full[full.index("Policies (model backend)"):
                    full.index("Kernel builds")]
    assert "U-test p" not in policies and "CI95" not in policies
    assert "\nRef " in policies and "\nScheds " in policies
    kernels = full[full.index("Kernel builds"):
                   full.index("Seeded mutants")]
    assert "U-test p" in kernels
    # The mutant is no column of the policy comparison.
    assert "unbind-frees" not in policies


def lab_file(tmp_path, time_base="real", spread=True):
    """What a lab run writes: every kernel's records in one file."""
    records = []
    for kernel, factor in (("debian-6.1", 1.0), ("debian-6.1-rt", 1.1)):
        records.append(fx.environment_record(release=kernel,
                                             run_id=f"run-{kernel}"))
        samples = BASE * factor if spread else np.full(15, 1000.0 * factor)
        record = fx.test_record(
            "micro:context-switch", {"placement": "same_cpu"},
            {"ctxsw_ns": fx.metric(samples)}, kernel=kernel,
            release=kernel, time_base=time_base)
        record["run_id"] = f"run-{kernel}"
        records.append(record)
    fx.write_results(tmp_path / "lab", records)
    return tmp_path / "lab"


def test_a_lab_output_shows_one_set_per_kernel_first_kernel_first(tmp_path):
    status, out, err = fx.run_cli([lab_file(tmp_path)])
    assert status == 0
    assert "A  debian-6.1 (baseline)" in out
    assert "B  debian-6.1-rt" in out
    assert "recorded again" not in out + err
    assert "  A debian-6.1  B debian-6.1-rt" in " ".join(
        out.split("\n")[:12]) or "A debian-6.1  B debian-6.1-rt" in out
    status, out, _ = fx.run_cli([lab_file(tmp_path), "--baseline",
                                 "debian-6.1-rt"])
    assert status == 0
    assert "A  debian-6.1-rt (baseline)" in out


def test_baseline_that_names_no_set_is_bad_usage(tmp_path):
    status, _, err = fx.run_cli([lab_file(tmp_path), "--baseline", "nope"])
    assert status == 2
    assert "--baseline nope: no such set" in err
    assert "debian-6.1, debian-6.1-rt" in err


def test_virtual_time_shows_differences_without_noise_statistics(tmp_path):
    status, out, _ = fx.run_cli([lab_file(tmp_path, "virtual-icount",
                                          spread=False)])
    assert status == 0
    assert "virtual time (icount): figures repeat to the instruction" in \
        " ".join(out.split())
    block = out[out.index("ctxsw_ns [ns"):]
    block = block[:block.index("\n\n")]
    assert "U-test p" not in block and "CI95" not in block
    assert "-10.00%" in block
    verdict_row = next(line for line in block.splitlines()
                       if line.startswith("Verdict"))
    assert verdict_row.split()[1:] == ["baseline", "worse"]


def test_summary_is_cut_at_its_limit_and_says_so(tmp_path):
    records = []
    for i in range(80):
        record = fx.model_record("mm-lifetime", "w", {"i": i},
                                 {"ipis": counts([1, 1])}, kind="conformance")
        records.append(record)
    fx.write_results(tmp_path / "many", records)
    status, out, _ = fx.run_cli([tmp_path / "many", "--summary"])
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == summary.MAX_LINES
    assert any(line.startswith("(") and "more summary lines cut" in line
               for line in lines)


def test_a_conformance_table_of_many_sets_fits_72_columns(tmp_path):
    # A lab of kernels x policies gives ten sets or more; the table comes in
    # panels, each with the test names.
    records = []
    kernels = [f"debian-6.{k}-amd64/{p}" for k in (1, 12) for p in POLICIES]
    kernels += ["debian-6.1-rt-amd64/resync-ipi"]
    for kernel in kernels:
        records.append(fx.environment_record(release=kernel,
                                             run_id=f"run-{kernel}"))
        for binder in ("stays", "unbinds"):
            record = fx.test_record(
                "thread-pool", {"binder": binder}, kind="conformance",
                kernel=kernel, release=kernel)
            record["run_id"] = f"run-{kernel}"
            records.append(record)
    fx.write_results(tmp_path / "lab", records)
    status, out, _ = fx.run_cli([tmp_path / "lab", "--summary"])
    assert status == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 72, "\n".join(
        line for line in lines if len(line) > 72)
    headers = [line.split() for line in lines
               if line.split() and all(len(w) == 1 and w.isupper()
                                       for w in line.split()[-2:])]
    letters = [w for h in headers for w in h if len(w) == 1]
    assert "A" in letters and "I" in letters, out
    assert sum(line.startswith("thread-pool binder=unbinds")
               for line in lines) == 3, out
