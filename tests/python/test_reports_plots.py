"""Plots are data driven (drawn when their data is there, skipped cleanly
when not) and deterministic."""

import numpy as np

import report_fixtures as fx
from pasidbench_reports import cli, compare, plots

BASE = np.arange(1000.0, 1015.0)


def build(sources):
    sets, problems = cli.load_all([str(s) for s in sources])
    assert not problems
    return compare.build_report(sets, resamples=200)


def kinds(files):
    return sorted({f.kind for f in files})


def host_dir(directory, name, factor=1.0):
    records = []
    for cpus in (1, 2, 4, 8):
        records.append(fx.test_record(
            "membarrier", {"spinning_cpus": cpus},
            {"membarrier_ns": fx.metric(BASE * cpus * factor)}, kernel=name))
    for with_pasid in (False, True):
        records.append(fx.test_record(
            "pipe-pingpong", {"with_pasid": with_pasid},
            {"ctxsw_ns": fx.metric(BASE * (1.05 if with_pasid else 1.0))},
            kernel=name))
    return fx.write_results(directory, records).parent


def test_each_kind_is_drawn_from_its_data(tmp_path):
    report = build([host_dir(tmp_path / "a", "6.10.0-$a$"),
                    host_dir(tmp_path / "b", "6.10.0-b", 1.1)])
    files = plots.write_all(report, tmp_path / "plots")
    assert kinds(files) == ["distribution", "pasid", "scaling"]
    assert [f.kind for f in files].count("distribution") == 6
    assert [f.kind for f in files].count("scaling") == 1
    for f in files:
        assert f.png.stat().st_size > 0 and f.svg.stat().st_size > 0


def test_plots_without_their_data_are_skipped(tmp_path):
    fx.write_results(tmp_path / "a", [fx.test_record(
        "w", {"cpus": True, "with_pasid": "yes"}, {"m": fx.metric(BASE)})])
    report = build([tmp_path / "a"])
    files = plots.write_all(report, tmp_path / "plots")
    # a boolean 'cpus' is no CPU count, a string 'with_pasid' no switch
    assert kinds(files) == ["distribution"]


def test_timeline_for_model_results(tmp_path):
    records = fx.demo_records_model(np.random.default_rng(0))
    fx.write_results(tmp_path / "m", records)
    report = build([tmp_path / "m"])
    assert [s.label for s in report.sets] == [
        "task-refcount", "mm-lifetime", "mm-lifetime-lazy-gp"]
    files = plots.write_all(report, tmp_path / "plots")
    assert "timeline" in kinds(files)


def test_output_is_deterministic(tmp_path):
    report = build([host_dir(tmp_path / "a", "a"),
                    host_dir(tmp_path / "b", "b", 1.1)])
    first = plots.write_all(report, tmp_path / "one")
    second = plots.write_all(report, tmp_path / "two")
    for a, b in zip(first, second):
        assert a.svg.read_bytes() == b.svg.read_bytes()
        assert a.png.read_bytes() == b.png.read_bytes()
    svg = first[0].svg.read_text()
    assert "<dc:date>" not in svg


def test_stale_plots_are_removed_but_other_files_kept(tmp_path):
    out = tmp_path / "plots"
    out.mkdir()
    (out / "dist-old-00000000.png").write_bytes(b"old")
    (out / "notes.png").write_bytes(b"mine")
    report = build([host_dir(tmp_path / "a", "a")])
    plots.write_all(report, out)
    assert not (out / "dist-old-00000000.png").exists()
    assert (out / "notes.png").exists()


def test_scaling_plot_with_zero_cpus_and_unmeasured_metric(tmp_path):
    """spinning_cpus=0 is the IPI-free baseline; a metric with no value
    (PAPI without counters) must not break the plots."""
    records = []
    for spinning in (0, 1, 3):
        records.append(fx.test_record(
            "micro:ipi", {"spinning_cpus": spinning},
            {"membarrier_ns": fx.metric([1000.0 + 500 * spinning + i for i in range(9)]),
             "cycles": {"value": None, "unit": "count", "better": "lower",
                        "note": "PAPI: no hardware counters"}}))
    fx.write_results(tmp_path / "a", records)
    code, out, err = fx.run_cli([tmp_path / "a", "--out", tmp_path / "r"])
    assert code == 0, err
    assert list((tmp_path / "r" / "plots" / "kernel").glob("scaling-*.png"))
