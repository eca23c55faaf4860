"""Statistics for comparing benchmark samples.

Benchmark samples are skewed (a floor set by the hardware, a tail of
interrupts and migrations), so the significance test is rank based
(Mann-Whitney U, as Google Benchmark's compare.py uses) and the confidence
interval is a bootstrap of the Hodges-Lehmann shift (the median of all
pairwise differences, the estimate that goes with the U test), which
assumes no shape. The difference of two medians, the obvious alternative,
jumps between sample values at these sample sizes: its interval often
straddles 0 while the U test sees a clear shift.

Sign convention everywhere: a positive percent change means *better*, for
lower-is-better and higher-is-better metrics alike. For metrics whose
direction is 'none' the raw change (new - base) / |base| is given.

The report and reports/calibrate_stats.py both decide significance through
compare_samples(), so the calibration measures what the report prints.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

DEFAULT_ALPHA = 0.05
DEFAULT_BOOTSTRAP_RESAMPLES = 2000
MIN_SAMPLES_FOR_TEST = 2
# Below this the U test has little power and its p-values move in big steps;
# Google Benchmark's compare.py warns at the same count.
RECOMMENDED_SAMPLES = 9

TEST_METHOD = "Mann-Whitney U, two-sided"
CI_METHOD = "percentile bootstrap of the Hodges-Lehmann shift"
# Pairwise differences per resample above which the interval falls back to
# the change in median (a 200 x 200 comparison, drawn 2000 times, is
# already 80 million differences).
HODGES_LEHMANN_MAX_PAIRS = 40_000

# Bootstrap work is done in chunks of at most this many drawn values.
_BOOTSTRAP_CHUNK_VALUES = 2_000_000


@dataclass(frozen=True)
class Summary:
    n: int
    min: float
    max: float
    amean: float
    hmean: float        # nan unless every sample is > 0
    median: float
    stddev: float       # sample standard deviation (n - 1); nan for n < 2
    coeff_var: float    # stddev / amean in percent; nan when undefined
    q1: float
    q3: float


def summarize(samples) -> Summary:
    values = np.asarray(samples, dtype=float)
    if values.size == 0:
        raise ValueError("no samples")
    n = int(values.size)
    amean = float(values.mean())
    stddev = float(values.std(ddof=1)) if n > 1 else math.nan
    coeff_var = (stddev / abs(amean) * 100.0
                 if n > 1 and amean != 0 else math.nan)
    hmean = (float(n / np.sum(1.0 / values)) if np.all(values > 0)
             else math.nan)
    q1, median, q3 = (float(v) for v in np.percentile(values, [25, 50, 75]))
    return Summary(n=n, min=float(values.min()), max=float(values.max()),
                   amean=amean, hmean=hmean, median=median, stddev=stddev,
                   coeff_var=coeff_var, q1=q1, q3=q3)


def is_rate(unit: str) -> bool:
    """Rates (ops/s, MB/s, Hz) average harmonically: the arithmetic mean of
    rates over equal work overstates the rate actually achieved."""
    unit = unit.strip().lower()
    return unit.endswith("/s") or unit.endswith("/sec") or unit in (
        "hz", "khz", "mhz", "ghz")


def central_statistic(unit: str, summary: Summary | None = None) -> str:
    """'Hmean' for rates, 'Amean' otherwise (and when Hmean is undefined)."""
    if is_rate(unit) and (summary is None or not math.isnan(summary.hmean)):
        return "Hmean"
    return "Amean"


def central_value(summary: Summary, statistic: str) -> float:
    return summary.hmean if statistic == "Hmean" else summary.amean


def percent_change(base: float, new: float, better: str) -> float | None:
    """Change of new against base in percent, positive = better.

    None when the base is zero or either value is not a number.
    """
    if base is None or new is None:
        return None
    if math.isnan(base) or math.isnan(new) or base == 0:
        return None
    raw = (new - base) / abs(base) * 100.0
    return -raw if better == "lower" else raw


def _bootstrap_change(base: np.ndarray, new: np.ndarray, better: str,
                      resamples: int, level: float,
                      rng: np.random.Generator):
    """Percentile interval of the shift of new against base, in percent of
    the base median, + = better. The shift is the Hodges-Lehmann estimate,
    or the change in median for comparisons too large for all pairs."""
    pairwise = base.size * new.size <= HODGES_LEHMANN_MAX_PAIRS
    changes = []
    per_row = base.size * new.size if pairwise else base.size + new.size
    chunk = max(1, min(resamples, _BOOTSTRAP_CHUNK_VALUES // per_row))
    done = 0
    while done < resamples:
        rows = min(chunk, resamples - done)
        base_draw = base[rng.integers(0, base.size, size=(rows, base.size))]
        new_draw = new[rng.integers(0, new.size, size=(rows, new.size))]
        base_medians = np.median(base_draw, axis=1)
        if pairwise:
            shift = np.median((new_draw[:, :, None] - base_draw[:, None, :])
                              .reshape(rows, -1), axis=1)
        else:
            shift = np.median(new_draw, axis=1) - base_medians
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = shift / np.abs(base_medians) * 100.0
        changes.append(-raw if better == "lower" else raw)
        done += rows
    changes = np.concatenate(changes)
    changes = changes[np.isfinite(changes)]
    # A base median of zero in many resamples leaves no ratio to speak of.
    if changes.size < 0.9 * resamples:
        return None, None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(changes, [tail, 100.0 - tail])
    return float(low), float(high)


def point_shift(base: np.ndarray, new: np.ndarray) -> float:
    """new - base: the Hodges-Lehmann estimate, or the difference of the
    medians where there are too many pairs (as in _bootstrap_change)."""
    if base.size * new.size <= HODGES_LEHMANN_MAX_PAIRS:
        return float(np.median(new[:, None] - base[None, :]))
    return float(np.median(new) - np.median(base))


def stable_seed(text: str) -> int:
    """A seed that depends only on text, so reruns print the same CI."""
    return zlib.crc32(text.encode("utf-8"))


@dataclass(frozen=True)
class Comparison:
    change_pct: float | None     # change in median, positive = better
    ci_low: float | None         # bootstrap CI of the shift, % of base
    ci_high: float | None
    ci_level: float
    p_value: float | None        # Mann-Whitney U, two-sided
    significant: bool
    verdict: str                 # better | worse | changed | noise | untested
    reason: str                  # why untested, else ""

    @property
    def ci_excludes_zero(self) -> bool:
        return (self.ci_low is not None and self.ci_high is not None
                and (self.ci_low > 0 or self.ci_high < 0))


def compare_samples(base_samples, new_samples, better: str,
                    alpha: float = DEFAULT_ALPHA,
                    resamples: int = DEFAULT_BOOTSTRAP_RESAMPLES,
                    seed: int = 0) -> Comparison:
    """Compare new samples against base samples.

    Significant means both: the U test rejects equal distributions at alpha,
    and the (1 - alpha) bootstrap interval of the shift excludes 0.
    Requiring both keeps a shift in spread alone (which U can detect) from
    being reported as a faster or slower kernel.
    """
    base = np.asarray(base_samples, dtype=float)
    new = np.asarray(new_samples, dtype=float)
    level = 1.0 - alpha
    change = percent_change(float(np.median(base)), float(np.median(new)),
                            better)
    too_few = [f"{name} has {arr.size} sample{'s' if arr.size != 1 else ''}"
               for name, arr in (("baseline", base), ("this set", new))
               if arr.size < MIN_SAMPLES_FOR_TEST]
    if too_few:
        return Comparison(change, None, None, level, None, False, "untested",
                          "; ".join(too_few) + ": no test possible")

    p_value = float(scipy_stats.mannwhitneyu(
        new, base, alternative="two-sided").pvalue)
    if math.isnan(p_value):  # every sample identical
        p_value = 1.0
    rng = np.random.default_rng(seed)
    ci_low, ci_high = _bootstrap_change(base, new, better, resamples, level,
                                        rng)
    ci_ok = ci_low is None or ci_low > 0 or ci_high < 0
    # The shift, signed so that + is better; defined even when a zero base
    # median leaves no percent change (e.g. a fault count going 0 -> 3).
    shift = point_shift(base, new)
    if better == "lower":
        shift = -shift
    significant = p_value < alpha and ci_ok and shift != 0
    if not significant:
        verdict = "noise"
    elif better == "none":
        verdict = "changed"
    else:
        verdict = "better" if shift > 0 else "worse"
    return Comparison(change, ci_low, ci_high, level, p_value, significant,
                      verdict, "")
