"""Statistics of the comparative reports, on synthetic data with known
answers."""

import math

import numpy as np
import pytest

import report_fixtures  # noqa: F401  (puts reports/ on sys.path)
from pasidbench_reports import stats

# 15 distinct, evenly spread samples: median = mean = 1007, sd = sqrt(20)
BASE = np.arange(1000.0, 1015.0)


def test_summary_known_values():
    s = stats.summarize([1.0, 2.0, 3.0, 4.0])
    assert s.n == 4
    assert (s.min, s.max, s.amean, s.median) == (1.0, 4.0, 2.5, 2.5)
    assert s.hmean == pytest.approx(4 / (1 + 1 / 2 + 1 / 3 + 1 / 4))
    assert s.stddev == pytest.approx(math.sqrt(5 / 3))
    assert s.coeff_var == pytest.approx(math.sqrt(5 / 3) / 2.5 * 100)


def test_summary_of_one_sample_has_no_spread():
    s = stats.summarize([7.0])
    assert s.n == 1 and s.median == 7.0
    assert math.isnan(s.stddev) and math.isnan(s.coeff_var)


def test_hmean_undefined_with_zero_sample():
    assert math.isnan(stats.summarize([0.0, 1.0, 2.0]).hmean)


@pytest.mark.parametrize("better, expected", [
    ("lower", -10.0),    # 10 % slower is 10 % worse
    ("higher", 10.0),    # 10 % more throughput is 10 % better
    ("none", 10.0),      # no direction: the raw change
])
def test_percent_change_positive_means_better(better, expected):
    assert stats.percent_change(100.0, 110.0, better) == pytest.approx(
        expected)


def test_percent_change_lower_is_better_improvement_is_positive():
    assert stats.percent_change(100.0, 90.0, "lower") == pytest.approx(10.0)


def test_percent_change_undefined_for_zero_base():
    assert stats.percent_change(0.0, 5.0, "lower") is None


def test_ten_percent_slower_is_minus_ten_and_significant():
    result = stats.compare_samples(BASE, BASE * 1.10, "lower")
    assert result.change_pct == pytest.approx(-10.0)
    assert result.significant
    assert result.verdict == "worse"
    assert result.p_value < 0.001
    # Every resample of two disjoint, exactly scaled sets lies near -10 %.
    assert -12.0 < result.ci_low <= -10.0 <= result.ci_high < -8.0


def test_ten_percent_more_throughput_is_plus_ten_and_better():
    result = stats.compare_samples(BASE, BASE * 1.10, "higher")
    assert result.change_pct == pytest.approx(10.0)
    assert result.verdict == "better" and result.significant


def test_lower_is_better_improvement_is_better():
    result = stats.compare_samples(BASE, BASE * 0.9, "lower")
    assert result.change_pct == pytest.approx(10.0)
    assert result.verdict == "better"


def test_identical_sets_are_noise_at_zero():
    result = stats.compare_samples(BASE, BASE.copy(), "lower")
    assert result.change_pct == 0.0
    assert not result.significant
    assert result.verdict == "noise"
    assert result.p_value == pytest.approx(1.0)
    assert result.ci_low <= 0.0 <= result.ci_high


def test_constant_identical_samples_are_noise():
    result = stats.compare_samples([5.0] * 10, [5.0] * 10, "lower")
    assert result.verdict == "noise" and result.p_value == 1.0


def test_overlapping_small_shift_is_noise():
    rng = np.random.default_rng(1)
    base = 1000 * np.exp(rng.normal(0, 0.05, 12))
    new = base[::-1] * 1.001
    result = stats.compare_samples(base, new, "lower")
    assert result.verdict == "noise"


def test_direction_none_reports_changed():
    result = stats.compare_samples(BASE, BASE * 1.5, "none")
    assert result.verdict == "changed" and result.significant


def test_zero_base_median_still_gets_a_verdict():
    # A fault count going from 0 to 3 is worse though no percent exists.
    result = stats.compare_samples([0.0] * 10, [3.0] * 10, "lower")
    assert result.change_pct is None
    assert result.verdict == "worse"


def test_single_sample_is_untested_with_a_reason():
    result = stats.compare_samples([1000.0], BASE, "lower")
    assert result.verdict == "untested" and not result.significant
    assert result.p_value is None
    assert "baseline has 1 sample" in result.reason


def test_bootstrap_is_reproducible_for_a_seed():
    rng = np.random.default_rng(3)
    base, new = rng.normal(100, 5, 20), rng.normal(103, 5, 20)
    first = stats.compare_samples(base, new, "lower", seed=42)
    again = stats.compare_samples(base, new, "lower", seed=42)
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)


def test_ci_level_follows_alpha():
    rng = np.random.default_rng(4)
    base, new = rng.normal(100, 5, 30), rng.normal(102, 5, 30)
    wide = stats.compare_samples(base, new, "lower", alpha=0.01, seed=1)
    narrow = stats.compare_samples(base, new, "lower", alpha=0.2, seed=1)
    assert wide.ci_level == pytest.approx(0.99)
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low


@pytest.mark.parametrize("unit, expected", [
    ("ops/s", "Hmean"), ("MB/s", "Hmean"), ("Hz", "Hmean"),
    ("ns", "Amean"), ("count", "Amean"), ("pasid-s", "Amean"),
])
def test_hmean_for_rates_amean_otherwise(unit, expected):
    assert stats.central_statistic(unit) == expected


def test_rate_falls_back_to_amean_when_hmean_undefined():
    summary = stats.summarize([0.0, 10.0])
    assert stats.central_statistic("ops/s", summary) == "Amean"


def test_shift_is_the_hodges_lehmann_estimate():
    base = np.array([1.0, 2.0, 3.0, 10.0])
    new = np.array([2.0, 4.0, 5.0])
    # the 12 differences new - base, sorted: -8 -6 -5 -1 0 1 1 2 2 3 3 4
    assert stats.point_shift(base, new) == pytest.approx(1.0)
    # too many pairs: the difference of the medians
    wide = np.arange(300.0)
    assert stats.point_shift(wide, wide[::-1] + 7.5) == pytest.approx(7.5)


def test_interval_of_a_known_two_percent_slowdown():
    rng = np.random.default_rng(5)
    base = 1000.0 * np.exp(rng.normal(0, 0.01, 30))
    new = 1020.0 * np.exp(rng.normal(0, 0.01, 30))
    result = stats.compare_samples(base, new, "lower", seed=3)
    assert result.significant and result.verdict == "worse"
    assert result.ci_low < -2.0 < result.ci_high < 0.0
    assert result.ci_high - result.ci_low < 2.0
