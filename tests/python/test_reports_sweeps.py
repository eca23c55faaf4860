"""Scaling sweeps: suites/policy-scaling.toml, run small (2 PCT schedules
per point instead of 1,000, the same axes), gives per sweep and measure
a plot with a curve for each of the four real policies, of at least five
points each: a plot of two points is not a scaling plot."""

import re
import subprocess
import tomllib

import pytest

import report_fixtures as fx
from conftest import PASIDBENCH, ROOT
from pasidbench_reports import cli, compare, plots

SUITE = ROOT / "suites" / "policy-scaling.toml"
POLICIES = {"task-refcount", "mm-lifetime", "mm-lifetime-lazy-gp",
            "resync-ipi"}
MIN_POINTS = 5


def test_suite_lists_the_axes_and_their_ranges():
    suite = tomllib.loads(SUITE.read_text())
    assert suite["suite"]["backends"] == ["model:*"]
    models = [t for t in suite["test"] if "backends" not in t]
    # The host's unit costs first; every model point reads them.
    hosts = [t for t in suite["test"] if "backends" in t]
    assert hosts and all(t["backends"] == ["host"] for t in hosts)
    assert suite["test"][:len(hosts)] == hosts
    assert {t["params"]["costs_from"] for t in models} == {"this-run"}
    values = {}
    for test in models:
        for name, value in test["params"].items():
            if isinstance(value, list):
                values.setdefault(name, set()).update(value)
    # Every sweep axis the plots know, each over the range the issue asks
    # (tasks counts the binder: 2..64 is 1..63 pool workers).
    assert set(values) == set(plots.SWEEP_AXES)
    assert min(values["tasks"]) == 2 and max(values["tasks"]) == 64
    assert min(values["cpus"]) == 2 and max(values["cpus"]) == 64
    for name, listed in values.items():
        assert len(listed) >= MIN_POINTS, name
    # Sizes exhaustive search cannot reach: every point is PCT.
    assert {t["params"]["strategy"] for t in models} == {"pct"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} is not built (cmake --build --preset "
                    f"default)")
    out = tmp_path_factory.mktemp("sweep") / "run"
    done = subprocess.run([str(PASIDBENCH), "run", str(SUITE), "--param",
                           "schedules=2", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_small_sweeps_plot_five_points_per_axis_for_each_policy(
        small_run, tmp_path):
    sets, problems = cli.load_all([str(small_run)])
    assert not problems
    groups, mutants = cli.arrange(sets, None)
    assert not mutants
    (kind, members), = [g for g in groups if g[0] == "policy"]
    assert {s.label for s in members} == POLICIES
    report = compare.build_report(members)
    files = plots.sweep_plots(report, tmp_path)
    by_axis = {}
    for plot in files:
        axis = re.search(r" against (\w+) ", plot.title).group(1)
        by_axis.setdefault(axis, []).append(plot)
        assert plot.png.stat().st_size > 0
        assert set(plot.points) == POLICIES, plot.title
        assert min(plot.points.values()) >= MIN_POINTS, (plot.title,
                                                         plot.points)
    # The measures the issue names, each against its axes.
    drawn = {(axis, p.title.split()[0]) for axis, ps in by_axis.items()
             for p in ps}
    for axis, (_, measures) in plots.SWEEP_AXES.items():
        for measure in measures:
            assert (axis, measure) in drawn


def test_sweep_report_page_shows_the_curves_not_hundreds_of_boxes(
        small_run, tmp_path):
    status, _, err = fx.run_cli([small_run, "--out", tmp_path / "report"])
    assert status == 0, err
    page = (tmp_path / "report" / "report.html").read_text()
    images = re.findall(r'<img src="([^"]*)"', page)
    assert "Scaling sweeps (policy models)" in page
    sweeps = [src for src in images if "/sweep-" in src]
    assert len(sweeps) == sum(len(m) for _, m in plots.SWEEP_AXES.values())
    # Sweep points are read from their curves: no box plot or timeline
    # for each of the 96 model tests; the host's unit-cost benchmarks keep
    # their few distributions.
    others = [src for src in images if "/sweep-" not in src]
    assert all(src.startswith("plots/kernel/") for src in others), others
    assert len(others) <= 4, others
