"""Bad input: a clear message, and a report of what is valid that says
what was left out. Exit 0 when a report was made, 2 when nothing valid."""

import json
import subprocess
import sys

import numpy as np

import report_fixtures as fx

BASE = np.arange(1000.0, 1015.0)


def good_set(directory, name="6.10.0-a", metrics=None, factor=1.0):
    metrics = metrics or {"ctxsw_ns": fx.metric(BASE * factor)}
    return fx.write_results(directory, [
        fx.environment_record(release=name),
        fx.test_record("pipe-pingpong", {"with_pasid": False}, metrics,
                       kernel=name, release=name)]).parent


def footer(out):
    lines = out.splitlines()
    start = lines.index("Left out (also printed on stderr):")
    return " ".join(" ".join(lines[start + 1:]).split())


def test_other_schema_version_is_left_out_with_a_message(tmp_path):
    a = good_set(tmp_path / "a")
    v3 = fx.test_record("pipe-pingpong", {"with_pasid": False},
                        {"ctxsw_ns": fx.metric(BASE)}, kernel="6.11.0-b")
    v3["schema"] = "pasidbench-result/3"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "results.jsonl").write_text(json.dumps(v3) + "\n")
    status, out, err = fx.run_cli([a, tmp_path / "b"])
    assert status == 0
    message = ("1 record(s) of schema 'pasidbench-result/3' skipped "
               "(this report reads pasidbench-result/2 or pasidbench-result/1)")
    assert message in footer(out)
    assert "whole set left out" in footer(out)
    assert message in " ".join(err.split())
    assert "A  6.10.0-a (baseline)" in out   # the valid set is still reported


def test_mixed_schema_versions_in_one_file_keep_the_known_records(tmp_path):
    good = good_set(tmp_path / "a")
    foreign = dict(fx.environment_record(), schema="pasidbench-result/3")
    with open(good / "results.jsonl", "a") as results:
        results.write(json.dumps(foreign) + "\n")
    status, out, _ = fx.run_cli([good])
    assert status == 0
    assert "1 record(s) of schema 'pasidbench-result/3' skipped" in footer(out)
    assert "ctxsw_ns [ns, lower is better]" in out


def test_only_other_schema_versions_is_exit_2(tmp_path):
    record = dict(fx.environment_record(), schema="pasidbench-result/0")
    (tmp_path / "x.jsonl").write_text(json.dumps(record) + "\n")
    status, out, err = fx.run_cli([tmp_path / "x.jsonl"])
    assert status == 2
    assert out == ""
    assert "no valid test records" in err
    assert "schema 'pasidbench-result/0'" in err


def test_truncated_jsonl_from_a_crashed_run(tmp_path):
    a = good_set(tmp_path / "a")
    whole = json.dumps(fx.test_record(
        "membarrier", {"spinning_cpus": 4}, {"membarrier_ns": fx.metric(BASE)},
        kernel="6.10.0-b"))
    b = fx.write_results(tmp_path / "b", [fx.test_record(
        "pipe-pingpong", {"with_pasid": False},
        {"ctxsw_ns": fx.metric(BASE * 1.1)}, kernel="6.10.0-b")],
        raw_tail=whole[:len(whole) // 2]).parent
    status, out, err = fx.run_cli([a, b])
    assert status == 0
    assert "results.jsonl:2: truncated last line (did the run crash?); " \
           "line skipped" in err
    assert "truncated last line (did the run crash?)" in footer(out)
    assert "* -10.00%*" in out      # the valid record is still compared


def test_malformed_line_in_the_middle_is_named(tmp_path):
    a = good_set(tmp_path / "a")
    path = a / "results.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n{not json\n" + lines[1] + "\n")
    status, out, err = fx.run_cli([a])
    assert status == 0
    assert "results.jsonl:2: malformed JSON" in err
    assert "malformed JSON" in footer(out)


def test_record_not_matching_the_schema_names_the_field(tmp_path):
    a = good_set(tmp_path / "a")
    bad = fx.test_record("pipe-pingpong", {"with_pasid": True},
                         {"ctxsw_ns": fx.metric(BASE)}, kernel="6.10.0-a")
    bad["metrics"]["ctxsw_ns"]["better"] = "faster"
    with open(a / "results.jsonl", "a") as results:
        results.write(json.dumps(bad) + "\n")
    status, out, _ = fx.run_cli([a])
    assert status == 0
    assert ("test record does not match pasidbench-result/2 "
            "(metrics.ctxsw_ns.better: 'faster' is not one of") in footer(out)


def test_metric_missing_in_one_set(tmp_path):
    a = good_set(tmp_path / "a", metrics={"ctxsw_ns": fx.metric(BASE),
                                          "ipis": fx.metric(BASE, "count")})
    b = good_set(tmp_path / "b", "6.10.0-b",
                 metrics={"ctxsw_ns": fx.metric(BASE)})
    status, out, err = fx.run_cli([a, b])
    assert status == 0
    assert ("metric ipis (pipe-pingpong with_pasid=false): missing from B"
            in footer(out))
    block = out.split("ipis [count, lower is better]")[1]
    assert block.splitlines()[2].split() == ["Min", "1000.00", "(", "0.00%)",
                                             "missing"]
    assert "missing from B" in err


def test_metric_missing_from_the_baseline(tmp_path):
    a = good_set(tmp_path / "a", metrics={"ctxsw_ns": fx.metric(BASE)})
    b = good_set(tmp_path / "b", "6.10.0-b",
                 metrics={"ctxsw_ns": fx.metric(BASE),
                          "ipis": fx.metric(BASE, "count")})
    status, out, _ = fx.run_cli([a, b])
    assert status == 0
    assert "missing from A" in footer(out)
    assert "note: not in the baseline: no changes computed" in out


def test_test_missing_from_a_set(tmp_path):
    a = good_set(tmp_path / "a")
    fx.write_results(tmp_path / "b", [fx.test_record(
        "other-workload", {}, {"x": fx.metric(BASE)}, kernel="b")])
    status, out, _ = fx.run_cli([a, tmp_path / "b"])
    assert status == 0
    assert "test 'pipe-pingpong with_pasid=false' is not in B" in footer(out)
    assert "test 'other-workload' is not in A" in footer(out)


def test_single_sample(tmp_path):
    a = good_set(tmp_path / "a", metrics={"ctxsw_ns": fx.metric([1000.0])})
    b = good_set(tmp_path / "b", "6.10.0-b",
                 metrics={"ctxsw_ns": fx.metric(BASE)})
    status, out, _ = fx.run_cli([a, b])
    assert status == 0
    assert ("a single sample in A; shown without spread or significance test"
            in footer(out))
    assert "  ! A: a single sample: no spread, no significance test" in out
    verdict = next(line for line in out.splitlines()
                   if line.startswith("Verdict"))
    assert verdict.split() == ["Verdict", "baseline", "untested"]


def test_value_without_samples_counts_as_one_sample(tmp_path):
    metric = {"value": 12.0, "unit": "count", "better": "lower"}
    a = good_set(tmp_path / "a", metrics={"ipis": metric})
    status, out, _ = fx.run_cli([a])
    assert status == 0
    assert "a single sample in A" in footer(out)


def test_crashed_benchmark_metrics_are_left_out_with_the_reason(tmp_path):
    a = good_set(tmp_path / "a")
    fx.write_results(tmp_path / "b", [fx.test_record(
        "pipe-pingpong", {"with_pasid": False}, {"ctxsw_ns": fx.metric(BASE)},
        kernel="6.10.0-b", outcome="crashed", reason="crashed: SIGSEGV")])
    status, out, _ = fx.run_cli([a, tmp_path / "b"])
    assert status == 0
    assert ("B: 'pipe-pingpong with_pasid=false' ended 'crashed' "
            "(crashed: SIGSEGV); its metrics are left out") in footer(out)


def test_duplicate_test_record_later_one_wins(tmp_path):
    first = fx.test_record("w", {}, {"m": fx.metric(BASE)}, kernel="k")
    second = fx.test_record("w", {}, {"m": fx.metric(BASE * 2)}, kernel="k")
    fx.write_results(tmp_path / "a", [first, second])
    status, out, _ = fx.run_cli([tmp_path / "a"])
    assert status == 0
    assert "recorded again; the later record replaces the earlier one" in \
        footer(out)
    assert "Min        2000.00 (   0.00%)" in out


def test_missing_path_is_left_out_but_the_rest_reported(tmp_path):
    a = good_set(tmp_path / "a")
    status, out, err = fx.run_cli([a, tmp_path / "nowhere"])
    assert status == 0
    assert "nowhere: no results.jsonl found -- whole set left out" in err
    assert "no results.jsonl found -- whole set left out" in footer(out)


def test_unreadable_baseline_is_replaced_loudly(tmp_path):
    b = good_set(tmp_path / "b", "6.10.0-b")
    status, out, _ = fx.run_cli([tmp_path / "nowhere", b])
    assert status == 0
    # In the summary, and above and below the table.
    assert out.count("BASELINE REPLACED") == 3
    assert "A  6.10.0-b (baseline)" in out


def test_nothing_valid_is_exit_2(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    status, out, err = fx.run_cli([tmp_path / "nowhere",
                                   tmp_path / "empty.jsonl"])
    assert status == 2 and out == ""
    assert "nothing to report" in err


def test_bad_usage_is_exit_2(tmp_path):
    assert fx.run_cli([])[0] == 2
    assert fx.run_cli(["--alpha", "2", "x"])[0] == 2
    a = good_set(tmp_path / "a")
    status, _, err = fx.run_cli([a, "--name", "x", "--name", "y"])
    assert status == 2 and "2 --name labels for 1 result sets" in err


def test_script_entry_point_runs_under_debian_python(tmp_path):
    a = good_set(tmp_path / "a")
    b = good_set(tmp_path / "b", "6.10.0-b", factor=1.1)
    script = fx.REPO / "reports" / "pasidbench_report.py"
    done = subprocess.run(["/usr/bin/python3", str(script), str(a), str(b),
                           "--no-plots", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "* -10.00%*" in done.stdout
    assert (tmp_path / "out" / "report.html").is_file()
    assert (tmp_path / "out" / "report.txt").read_text() == done.stdout
    usage = subprocess.run([sys.executable, str(script), "--help"],
                           capture_output=True, text=True, check=False)
    assert usage.returncode == 0 and "--cov-warn" in usage.stdout


# Issue 16 finding 8: the report reads what the C++ reads, no more.

def _one_line_set(directory, line):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.jsonl").write_text(line + "\n")
    return directory


def test_nan_and_infinity_are_not_json(tmp_path):
    record = fx.test_record("pipe-pingpong", {"with_pasid": False},
                            {"ctxsw_ns": fx.metric(BASE)}, kernel="6.10.0-a")
    text = json.dumps(record)
    for word in ("NaN", "Infinity", "-Infinity"):
        bad = _one_line_set(tmp_path / word,
                            text.replace("1001.0", word, 1))
        status, out, err = fx.run_cli([bad])
        assert status == 2, word
        assert out == ""
        assert f"results.jsonl:1: malformed JSON ({word} is not a JSON " \
               f"number)" in err, err
    # Beside a valid set, the bad line is left out by name, not read.
    a = good_set(tmp_path / "a")
    with open(a / "results.jsonl", "a") as results:
        results.write(text.replace("1001.0", "NaN", 1)
                      .replace("false", "true") + "\n")
    status, out, err = fx.run_cli([a])
    assert status == 0
    assert "results.jsonl:3: malformed JSON (NaN is not a JSON number)" in err
    assert "with_pasid=true" not in out


def test_deep_nesting_is_a_named_error_not_a_traceback(tmp_path):
    bad = _one_line_set(tmp_path / "deep", "[" * 100000)
    status, out, err = fx.run_cli([bad])
    assert status == 2
    assert "Traceback" not in err
    assert "results.jsonl:1: malformed JSON (nested too deeply)" in err


def test_a_metric_without_usable_values_says_so(tmp_path):
    a = good_set(tmp_path / "a")
    unmeasured = {"value": None, "unit": "ns", "better": "lower",
                  "note": "PAPI: no hardware counters"}
    b = good_set(tmp_path / "b", "6.10.0-b",
                 metrics={"ctxsw_ns": unmeasured})
    status, out, err = fx.run_cli([a, b])
    assert status == 0
    flat = " ".join(out.split())
    assert "no usable value in B (no value: PAPI: no hardware counters)" \
        in flat
    assert "a single sample in B" not in flat   # there is no sample at all


def test_values_that_are_not_finite_are_left_out_with_a_note():
    from pasidbench_reports import compare, load
    base = fx.test_record("w", {}, {"m": fx.metric(BASE)}, kernel="a")
    odd = fx.test_record("w", {}, {"m": fx.metric(BASE)}, kernel="b")
    odd["metrics"]["m"]["samples"][3] = float("nan")
    sets = []
    for label, record in (("a", base), ("b", odd)):
        result_set = load.ResultSet(source=label, path=None, label=label)
        result_set.tests[load.TestKey.of(record)] = record
        sets.append(result_set)
    report = compare.build_report(sets, resamples=200)
    [row] = report.metrics
    assert "B: 1 of 15 values not finite numbers; left out of its " \
           "statistics" in row.notes
    assert row.columns[1].summary.n == 14
    assert all(v == v for v in (row.columns[1].summary.amean,
                                row.columns[1].summary.median))
