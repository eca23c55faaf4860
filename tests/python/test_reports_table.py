"""The plain-text mail table: golden lines, width, warnings, blocks."""

import numpy as np
import pytest

import report_fixtures as fx
from pasidbench_reports import table

BASE = np.arange(1000.0, 1015.0)


def host_set(directory, name, factor, n=None, *, samples=None, extra=(),
             env=None, **kwargs):
    values = BASE * factor if samples is None else np.asarray(samples)
    if n is not None:
        values = values[:n]
    records = [fx.environment_record(release=name, **(env or {})),
               fx.test_record("pipe-pingpong", {"with_pasid": True},
                              {"ctxsw_ns": fx.metric(values),
                               "ops_rate": fx.metric(1e6 / values, "ops/s",
                                                     "higher")},
                              kernel=name, release=name, build_id="bid-" + name,
                              **kwargs)]
    fx.write_results(directory, records + list(extra))
    return directory


@pytest.fixture
def three_sets(tmp_path):
    return [host_set(tmp_path / "a", "6.10.0-vanilla", 1.0),
            host_set(tmp_path / "b", "6.10.0-patched", 1.1),
            host_set(tmp_path / "c", "6.10.0-same", 1.0)]


def assert_width(text):
    too_wide = [line for line in text.splitlines() if len(line) > table.WIDTH]
    assert not too_wide, too_wide


def block(text, heading):
    """The lines of one metric block, from its heading to the blank line."""
    lines = text.splitlines()
    start = lines.index(heading)
    end = lines.index("", start)
    return lines[start:end]


def test_golden_block_for_ten_percent_slower_kernel(three_sets):
    status, out, _ = fx.run_cli(three_sets)
    assert status == 0
    assert block(out, "ctxsw_ns [ns, lower is better]") == [
        "ctxsw_ns [ns, lower is better]",
        "  pipe-pingpong with_pasid=true",
        "Min        1000.00 (   0.00%)   1100.00 ( -10.00%)   1000.00 (   0.00%)",
        "Amean      1007.00 (   0.00%)   1107.70 * -10.00%*   1007.00 (   0.00%)",
        "Median     1007.00 (   0.00%)   1107.70 * -10.00%*   1007.00 (   0.00%)",
        "Stddev        4.47 (   0.00%)      4.92 ( -10.00%)      4.47 (   0.00%)",
        "CoeffVar      0.44 (   0.00%)      0.44 (   0.00%)      0.44 (   0.00%)",
        "Max        1014.00 (   0.00%)   1115.40 ( -10.00%)   1014.00 (   0.00%)",
        "Samples         15                   15                   15",
        "U-test p                    -              <0.0001               1.0000",
        "CI95                        -      [-10.38, -9.62]       [-0.30, +0.30]",
        "Verdict              baseline              *worse*                noise",
    ]
    assert_width(out)


def test_rates_use_hmean_and_positive_means_more_throughput(three_sets):
    _, out, _ = fx.run_cli(three_sets)
    lines = block(out, "ops_rate [ops/s, higher is better]")
    hmean = next(line for line in lines if line.startswith("Hmean"))
    # 1e6 / mean(BASE) = 993.05; B does 1/1.1 of the work rate: -9.09 %.
    assert hmean == ("Hmean       993.05 (   0.00%)    902.77 *  -9.09%*"
                     "    993.05 (   0.00%)")
    assert not any(line.startswith("Amean") for line in lines)


def test_header_names_each_set_with_provenance(three_sets):
    _, out, _ = fx.run_cli(three_sets)
    lines = out.splitlines()
    assert "A  6.10.0-vanilla (baseline)" in lines
    assert "B  6.10.0-patched" in lines
    assert "bid-6.10.0-patched" in out and "release 6.10.0-patched" in out
    # mmtests' two-line column header: version over variant
    assert any(line.split() == ["6.10.0", "6.10.0", "6.10.0"]
               for line in lines)
    assert any(line.split() == ["vanilla", "patched", "same"]
               for line in lines)


def test_significance_method_is_named(three_sets):
    _, out, _ = fx.run_cli(three_sets)
    flat = " ".join(out.split())
    assert "Mann-Whitney U, two-sided, p < 0.05" in flat
    assert "bootstrap" in flat and "95%" in flat


def test_environment_block(tmp_path):
    sets = [host_set(tmp_path / "a", "6.10.0-a", 1.0),
            host_set(tmp_path / "b", "6.10.0-b", 1.0,
                     env={"mitigations": "off", "governor": "performance"})]
    _, out, _ = fx.run_cli(sets)
    env = block(out, "Environment")
    assert "  governor     (all) performance" in env
    assert "  mitigations  A: auto  B: off" in env
    assert any(line.startswith("  topology") for line in env)
    assert any(line.startswith("  cpu ") for line in env)


def test_environment_block_from_the_record_this_machine_writes(tmp_path):
    """The environment record as `pasidbench env --json` writes it (details
    nested under cpu, kernel, iommu, dsa) gives every line of the block,
    each short, none a dump of a dict."""
    import json
    import subprocess
    from conftest import PASIDBENCH
    env = json.loads(subprocess.run([str(PASIDBENCH), "env", "--json"],
                                    capture_output=True, text=True,
                                    check=True).stdout)
    record = fx.environment_record()
    record["environment"] = env
    fx.write_results(tmp_path / "a", [record, fx.test_record(
        "pipe-pingpong", {}, {"ctxsw_ns": fx.metric(BASE)})])
    _, out, _ = fx.run_cli([tmp_path / "a"])
    lines = block(out, "Environment")
    text = "\n".join(lines)
    for key in table.ENV_KEYS:
        assert any(line.startswith(f"  {key} ") for line in lines), key
    assert env["cpu"]["model"] in " ".join(text.split())
    assert env["cpu"]["topology"] in " ".join(text.split())
    assert "{" not in text and "=True" not in text and "flags=" not in text
    assert len(lines) <= 16


def test_mitigations_and_pasid_hardware_are_summarised():
    environment = {
        "kernel": {"release": "6.12.0",
                   "cmdline": "root=/dev/sda1 mitigations=off quiet"},
        "cpu": {"model": "Xeon", "count": 8, "family": "6",
                "model_number": "143", "stepping": "8",
                "flags": {"enqcmd": True, "hypervisor": False},
                "governor": "performance",
                "topology": "1 package, 4 cores, 8 PUs",
                "vulnerabilities": {"meltdown": "Not affected",
                                    "spectre_v2": "Mitigation: eIBRS",
                                    "mds": "Vulnerable: Clear CPU buffers"}},
        "dsa": {"present": True},
        "iommu": {"sva": {"iommu_pasid_capable": True}},
    }
    summary = lambda key: table.environment_summary(environment, key)
    assert summary("cpu") == ("Xeon (family 6 model 143 stepping 8), "
                              "8 CPUs")
    assert summary("governor") == "performance"
    assert summary("topology") == "1 package, 4 cores, 8 PUs"
    assert summary("mitigations") == ("mitigations=off; vulnerable: mds; "
                                      "1 mitigated")
    assert summary("pasid hw") == "ENQCMD yes, DSA yes, IOMMU PASID yes"
    assert summary("kernel") == "6.12.0"
    # A record without those details leaves the lines out, not '?'.
    assert table.environment_summary({}, "mitigations") is None
    assert table.environment_summary({}, "pasid hw") is None


def test_noisy_metric_is_warned(tmp_path):
    rng = np.random.default_rng(0)
    noisy = 1000 * np.exp(rng.normal(0, 0.2, 15))
    sets = [host_set(tmp_path / "a", "6.10.0-a", 1.0),
            host_set(tmp_path / "b", "6.10.0-b", 1.0, samples=noisy)]
    _, out, _ = fx.run_cli(sets + ["--cov-warn", "5"])
    lines = block(out, "ctxsw_ns [ns, lower is better]")
    assert any(line.startswith("  ! B: CoeffVar above 5% (")
               and line.endswith("too noisy to trust") for line in lines)


def test_cov_threshold_is_an_option(tmp_path):
    sets = [host_set(tmp_path / "a", "6.10.0-a", 1.0),
            host_set(tmp_path / "b", "6.10.0-b", 1.0)]
    _, out, _ = fx.run_cli(sets + ["--cov-warn", "0.1"])
    assert "! A, B: CoeffVar above 0.1% (0.4%, 0.4%)" in " ".join(out.split())


def test_few_samples_are_warned(tmp_path):
    sets = [host_set(tmp_path / "a", "6.10.0-a", 1.0, n=5),
            host_set(tmp_path / "b", "6.10.0-b", 1.1, n=5)]
    _, out, _ = fx.run_cli(sets)
    assert ("  ! A, B: fewer than 9 samples (5, 5): the test has little power"
            in out.splitlines())


def test_many_sets_print_in_panels_that_repeat_the_baseline(tmp_path):
    sets = [host_set(tmp_path / str(i), f"6.10.{i}-kernel-with-a-long-name",
                     1.0 + i / 100) for i in range(6)]
    _, out, _ = fx.run_cli(sets)
    assert_width(out)
    assert "Benchmarks (panel 1 of 3: sets A, B, C)" in out
    assert "Benchmarks (panel 3 of 3: sets A, F)" in out


def test_names_option_overrides_labels(three_sets):
    _, out, _ = fx.run_cli(three_sets + ["--name", "base", "--name", "pv2"])
    assert "A  base (baseline)" in out.splitlines()
    assert "B  pv2" in out.splitlines()
    assert "C  6.10.0-same" in out.splitlines()


def test_long_parameters_and_names_stay_within_72_columns(tmp_path):
    long_params = {f"parameter_{i}": "x" * 30 for i in range(4)}
    sets = []
    for i, name in enumerate(["k" * 80, "6.10.0-" + "y" * 60]):
        record = fx.test_record("w" * 90, long_params,
                                {"m" * 80: fx.metric(BASE * (1 + i / 10))},
                                kernel=name, release=name)
        fx.write_results(tmp_path / str(i), [record])
        sets.append(tmp_path / str(i))
    _, out, _ = fx.run_cli(sets)
    assert_width(out)


def test_control_characters_in_names_cannot_break_the_layout(tmp_path):
    sets = [host_set(tmp_path / "a", "evil\x1b[2J\nname\tx", 1.0),
            host_set(tmp_path / "b", "6.10.0-b", 1.0)]
    _, out, _ = fx.run_cli(sets)
    assert "\x1b" not in out and "\t" not in out
    assert "A  evil?[2J name x (baseline)" in out.splitlines()


def test_metric_note_is_shown(tmp_path):
    note_metric = fx.metric(BASE, note="PAPI: no hardware counters")
    for name in ("a", "b"):
        fx.write_results(tmp_path / name, [fx.test_record(
            "pipe-pingpong", {}, {"cycles": note_metric}, kernel=name)])
    _, out, _ = fx.run_cli([tmp_path / "a", tmp_path / "b"])
    assert "  note B: PAPI: no hardware counters" in out.splitlines()


def test_emulated_mixed_with_bare_metal_is_flagged_top_and_bottom(tmp_path):
    sets = [host_set(tmp_path / "a", "6.10.0-a", 1.0),
            host_set(tmp_path / "b", "6.10.0-b", 1.0, emulated=True,
                     time_base="virtual-icount")]
    _, out, err = fx.run_cli(sets)
    flat = " ".join(out.split())
    # In the summary, and above and below the table.
    assert flat.count("!! MIXED: this compares emulated (B) with bare-metal "
                      "(A)") == 3
    assert flat.count("!! EMULATED: B measured in an emulated VM (TCG): "
                      "emulator numbers") == 3
    assert "VIRTUAL TIME: B" in flat
    assert "MIXED" in err
    assert "EMULATED (TCG)" in flat


def test_conformance_block_shows_outcomes_and_the_trace(tmp_path):
    trace = [f"cpu{i} step {i}" for i in range(10)]
    records = {
        "task-refcount": fx.model_record(
            "task-refcount", "clone-bind-exit", {"rounds": 3}, kind="conformance",
            outcome="fail", reason="isolation_violation",
            violations={"isolation_violation": 2},
            counterexample={"violation": "isolation_violation", "events": 10,
                            "trace": trace}),
        "mm-lifetime": fx.model_record(
            "mm-lifetime", "clone-bind-exit", {"rounds": 3}, kind="conformance"),
    }
    fx.write_results(tmp_path / "m", list(records.values()))
    _, out, _ = fx.run_cli([tmp_path / "m"])
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines)
                  if line.startswith("Conformance"))
    assert lines[header + 2].split() == ["clone-bind-exit", "rounds=3",
                                         "FAIL", "PASS"]
    assert "A FAIL clone-bind-exit rounds=3" in lines
    assert "    violations: isolation_violation=2" in lines
    assert "    | cpu0 step 0" in lines and "    | cpu5 step 5" in lines
    assert "    | cpu6 step 6" not in lines
    assert "    (4 more lines in the HTML report and the result file)" in lines


def test_no_negative_zero_percent():
    assert table.format_pct(-0.0001) == "(   0.00%)"
    assert table.format_pct(-12.345, significant=True) == "* -12.35%*"
    assert table.format_pct(None) == "(    n/a )"
    assert len(table.format_pct(-123456.0)) == 10


def test_value_format_keeps_width():
    assert table.format_value(123456789.0, table.choose_decimals(
        [123456789.0])) == "123456789"
    assert len(table.format_value(1.5e12, table.choose_decimals([1.5e12]))) \
        <= table.VALUE_WIDTH
    # three significant digits for small values, 2 decimals at least
    assert table.format_value(0.00042, table.choose_decimals(
        [0.00042, 0.0125])) == " 0.000420"
    assert table.choose_decimals([0.0, 12.0, 4096.0]) == 2


def test_expected_mutant_failure_is_xfail_and_skip_reasons_are_listed(tmp_path):
    mutant = fx.model_record(
        "resync-ipi/free-before-ack", "clone-bind-exit", {"rounds": 1},
        kind="conformance", outcome="fail", reason="isolation_violation",
        violations={"isolation_violation": 1})
    mutant["expected_outcome"] = "fail"
    skipped = fx.model_record("resync-ipi/free-before-ack", "thread-pool", {},
                              kind="conformance", outcome="skip",
                              reason="no /sys/bus/dsa")
    fx.write_results(tmp_path / "m", [mutant, skipped])
    _, out, _ = fx.run_cli([tmp_path / "m"])
    lines = out.splitlines()
    assert ["clone-bind-exit", "rounds=1", "XFAIL"] in [l.split() for l in lines]
    assert "A XFAIL clone-bind-exit rounds=1" in lines
    assert "SKIP (A): no /sys/bus/dsa" in lines


def test_changes_only_keeps_the_significant_blocks(three_sets):
    # B is 10 % slower (ctxsw_ns and ops_rate both differ); C equals A.
    same = three_sets[:1] + three_sets[2:]
    _, full, _ = fx.run_cli(same)
    status, short, _ = fx.run_cli(same + ["--changes-only"])
    assert status == 0
    assert "ctxsw_ns" in full and "ctxsw_ns [" not in short
    assert "--changes-only: 0 of 2 metric blocks differ" in " ".join(
        short.split())
    _, changed, _ = fx.run_cli(three_sets + ["--changes-only"])
    assert "ctxsw_ns [" in changed and "ops_rate [" in changed
    assert "2 of 2 metric blocks" in " ".join(changed.split())


def test_metric_filter_and_a_bad_pattern(three_sets):
    _, out, _ = fx.run_cli(three_sets + ["--metric", "^ctxsw"])
    assert "ctxsw_ns [" in out and "ops_rate [" not in out
    _, out, err = fx.run_cli(three_sets + ["--metric", "nothing-like-it"])
    assert "no metric matches --metric nothing-like-it" in err
    status, _, err = fx.run_cli(three_sets + ["--metric", "("])
    assert status == 2 and "not a regular expression" in err
