"""`pasidbench report --rows mmtests`: compare-mmtests.pl's row layout (the
statistic, then the metric and parameters, on every row) and mmtests'
marking rule as an option."""
import re

import numpy as np

import report_fixtures as fx
from pasidbench_reports import mmtests_rows


def write_set(directory, name, samples):
    records = [fx.environment_record(release=name),
               fx.test_record("pipe-pingpong", {"with_pasid": True},
                              {"ctxsw_ns": fx.metric(np.asarray(samples)),
                               "ops_rate": fx.metric(1e6 / np.asarray(samples),
                                                     "ops/s", "higher")},
                              kernel=name, release=name, build_id="bid-" + name)]
    fx.write_results(directory, records)
    return directory


# 30 tight samples against 30 shifted by 1.5 %: the U test calls it, while
# the two sets' mean +- 1.96 stddev intervals still overlap.
BASE = 1000.0 + np.tile(np.arange(-7.0, 8.0), 2)
SHIFTED = BASE * 1.015


def rows(tmp_path, *extra):
    a = write_set(tmp_path / "a", "6.10.0-vanilla", BASE)
    b = write_set(tmp_path / "b", "6.10.0-patched", SHIFTED)
    code, out, err = fx.run_cli([str(a), str(b), "--rows", "mmtests", *extra])
    assert code == 0, err
    return out


def test_every_row_names_its_statistic_and_metric(tmp_path):
    out = rows(tmp_path)
    amean = [l for l in out.splitlines() if l.startswith("Amean")]
    hmean = [l for l in out.splitlines() if l.startswith("Hmean")]
    assert len(amean) == 1 and len(hmean) == 1, out
    fields = amean[0].split()
    assert fields[1] == "ctxsw_ns-pipe-pingpong,with_pasid=true"
    assert fields[2] == "1000.00" and fields[3:5] == ["(", "0.00%)"]
    assert fields[5] == "1015.00"
    assert hmean[0].split()[1].startswith("ops_rate-pipe-pingpong")
    stats_shown = [l.split()[0] for l in out.splitlines()
                   if re.match(r"^[A-Z][A-Za-z]+ +ctxsw_ns-", l)]
    assert stats_shown == ["Min", "Amean", "Stddev", "CoeffVar", "Max"]


def test_marking_rule_is_a_choice(tmp_path):
    ours = rows(tmp_path)
    amean = next(l for l in ours.splitlines() if l.startswith("Amean"))
    assert "*  -1.50%*" in amean, amean  # U test and bootstrap interval agree
    theirs = rows(tmp_path, "--mark", "mmtests")
    amean = next(l for l in theirs.splitlines() if l.startswith("Amean"))
    assert "(  -1.50%)" in amean, amean  # the intervals overlap: mmtests marks nothing
    assert "qnorm" in theirs.splitlines()[1]


def test_mmtests_rule_marks_non_overlapping_intervals():
    base = list(BASE)
    assert not mmtests_rows.mmtests_significant(base, list(SHIFTED), "Amean")
    assert mmtests_rows.mmtests_significant(base, [x * 1.05 for x in base], "Amean")
    assert mmtests_rows.mmtests_significant(base, [x * 0.95 for x in base], "Amean")
    assert not mmtests_rows.mmtests_significant([5.0], [9.0], "Amean")  # no interval
    rates = [1e6 / x for x in base]
    assert mmtests_rows.mmtests_significant(rates, [r * 1.05 for r in rates], "Hmean")


def test_mark_mmtests_needs_the_row_layout(tmp_path):
    a = write_set(tmp_path / "a", "6.10.0-vanilla", BASE)
    code, _, err = fx.run_cli([str(a), "--mark", "mmtests"])
    assert code == 2 and "--mark mmtests needs --rows mmtests" in err
