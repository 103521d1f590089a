"""Statistics of sampled waiting times: calibration against known laws.

Measured false-alarm rate: 2.0e-4 per change of random stream (95% upper bound
0.019; 45 seeds, `python examples/seed_scan.py --checks 'waiting_times:*' --seeds 45
--first-seed 2000000`), the sum over its 8 stochastic checks; no failure. Each
compares a statistic with its exact value at the level of ``tests/calibration.py``
(6.8e-6 per check): exact binomial tests for the calibration of p-values and the
coverage of intervals (the former bounds, e.g. a coverage >= 0.87 of nominal 90 %
intervals over 300 samples, would fail a correct implementation up to ~1-5 % of the
time each, by their binomial laws), and samples large enough that the finite-sample
bias of an SE's z stays below half its standard error.

The quantile intervals are those of ``scipy.stats.quantile_test`` and the chi-square
statistic that of ``scipy.stats.chisquare``; the tests check the binning, the
coverage and the calibration that this module adds around them.
"""

from __future__ import annotations

import math
from functools import lru_cache, partial

import numpy as np
import pytest
from calibration import GOF_MIN_EXPECTED as GOF
from calibration import P_MIN, Bound, Outcome
from scipy import stats

from analysis.waiting_times import (
    bank_first_success_round,
    bank_minimum,
    chi_square_gof,
    empirical_pmf,
    first_success_attempts,
    pmf_quantile,
    quantile_ci,
    renewal_attempts,
    sample_moments,
)
from trajectories.exact.attempt_laws import attempts_pmf, geometric_pmf
from trajectories.system.machines import qutrit
from trajectories.system.models import ResetModel

K_MAX = 400


def _geometric(p: float, k_max: int = K_MAX) -> tuple[np.ndarray, float]:
    k = np.arange(1, k_max + 1)
    return p * (1 - p) ** (k - 1), (1 - p) ** k_max


def _draw(
    pmf: np.ndarray, tail: float, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Samples of K from (pmf, tail); the tail is drawn as k_max + 1 (censored)."""
    probs = np.append(pmf, tail)
    return rng.choice(np.arange(1, probs.size + 1), size=size, p=probs / probs.sum())


@lru_cache(maxsize=1)
def _short_period_law() -> tuple[np.ndarray, float]:
    """The exact law of K for the qutrit machine at T = 10 (far from geometric)."""
    model = ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01)
    law = attempts_pmf(model, 10.0, 3000)
    return law.pmf, law.tail


@pytest.fixture(scope="module")
def short_period_law() -> tuple[np.ndarray, float]:
    return _short_period_law()


# --------------------------------------------------------------- from the flags


def test_first_success_and_renewal_attempts() -> None:
    flags = np.array(
        [
            [0, 0, 1, 0, 1, 0, 0, 0],
            [1, 1, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 0, 0, 0],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(first_success_attempts(flags), [3, 1, 9])
    np.testing.assert_array_equal(renewal_attempts(flags), [2, 1, 5])


def _bank_rounds(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    flags = rng.random((BANKS * BANK_SIZE, BANK_ATTEMPTS)) < BANK_P
    return flags, bank_first_success_round(flags, BANK_SIZE)


BANK_P, BANK_SIZE, BANKS, BANK_ATTEMPTS = 0.05, 5, 3000, 60


def check_bank_round_law(seed: int = 7) -> Outcome:
    """iid Bernoulli(p) attempts: R of n machines is geometric with 1 - (1 - p)^n
    (chi-square); the law of one machine is rejected (negative control, p < 1e-10)."""
    rounds = _bank_rounds(seed)[1]
    law = geometric_pmf(1 - (1 - BANK_P) ** BANK_SIZE, BANK_ATTEMPTS)
    single = geometric_pmf(BANK_P, BANK_ATTEMPTS)
    wrong = chi_square_gof(rounds, single.pmf, single.tail, min_expected=GOF).p_value
    return Outcome.of(
        p=[chi_square_gof(rounds, law.pmf, law.tail, min_expected=GOF).p_value],
        bounds=[Bound("log10 p of the one-machine law", _log10(wrong), high=-10)],
        label="bank rounds from flags",
    )


def test_bank_round_from_flags_follows_the_bank_law() -> None:
    flags, rounds = _bank_rounds(7)
    assert rounds.shape == (BANKS,)
    np.testing.assert_array_equal(
        rounds, bank_minimum(first_success_attempts(flags), BANK_SIZE)
    )
    check_bank_round_law().check()


def test_empirical_pmf() -> None:
    law = empirical_pmf([1, 3, 3, 7, 2], k_max=3)
    np.testing.assert_allclose(law.pmf, [0.2, 0.2, 0.4])
    assert law.tail == pytest.approx(0.2)
    assert law.n == 5
    assert empirical_pmf([2, 2]).pmf.tolist() == [0.0, 1.0]


# ----------------------------------------------------------------- chi-square


def check_chi_square_accepts_the_exact_law(seed: int = 12345) -> Outcome:
    pmf, tail = _short_period_law()
    k = _draw(pmf, tail, 5000, np.random.default_rng(seed))
    fit = chi_square_gof(k, pmf, tail, min_expected=GOF)
    return Outcome.of(p=[fit.p_value], label="chi-square of the exact law")


def test_chi_square_accepts_the_exact_law(short_period_law) -> None:
    pmf, tail = short_period_law
    k = _draw(pmf, tail, 5000, np.random.default_rng(12345))
    fit = chi_square_gof(k, pmf, tail)
    assert fit.expected.min() >= 5
    assert fit.observed.sum() == k.size
    assert fit.expected.sum() == pytest.approx(k.size)
    assert fit.dof == fit.edges.size - 1
    assert fit.edges[0] == 1
    assert np.all(np.diff(fit.edges) >= 1)
    check_chi_square_accepts_the_exact_law().check()


def check_chi_square_rejects_a_different_law(seed: int = 12345) -> Outcome:
    """Negative controls (their power, kept as bounds on log10 p): geometric samples
    with the same P(K = 1) = p_suc are rejected at p < 1e-12, and a 10 % change of
    the success probability at the suite's level p < P_MIN = 6.8e-6 with 40000
    samples (log10 p = -37 +- 5; with 20000 samples, -13 +- 4, too close)."""
    pmf, tail = _short_period_law()
    rng = np.random.default_rng(seed)
    geo = geometric_pmf(pmf[0], pmf.size)
    k = _draw(geo.pmf, geo.tail, 5000, rng)
    p_geo = chi_square_gof(k, pmf, tail, min_expected=GOF).p_value
    k = _draw(*_geometric(0.055), 40000, rng)
    p_shift = chi_square_gof(k, *_geometric(0.05), min_expected=GOF).p_value
    return Outcome.of(
        bounds=[
            Bound("log10 p of the geometric samples", _log10(p_geo), high=-12),
            Bound("log10 p of a 10 % shift", _log10(p_shift), high=math.log10(P_MIN)),
        ],
        label="chi-square negative controls",
    )


def test_chi_square_rejects_a_different_law() -> None:
    check_chi_square_rejects_a_different_law().check()


CALIBRATION_RUNS = 300


def check_chi_square_p_values_are_calibrated(seed: int = 2024) -> Outcome:
    """Under the null the p-values are ~ uniform: the counts of p < 0.05 and
    p < 0.5 among 300 against Binomial(300, 0.05) and Binomial(300, 0.5) (exact
    binomial tests)."""
    from scipy.stats import binomtest

    rng = np.random.default_rng(seed)
    pmf, tail = _geometric(0.08)
    p_values = np.array(
        [
            chi_square_gof(_draw(pmf, tail, 1000, rng), pmf, tail).p_value
            for _ in range(CALIBRATION_RUNS)
        ]
    )
    p = [
        binomtest(int(np.sum(p_values < q)), CALIBRATION_RUNS, q).pvalue
        for q in (0.05, 0.5)
    ]
    return Outcome.of(p=p, label="chi-square p-values")


def test_chi_square_p_values_are_calibrated() -> None:
    check_chi_square_p_values_are_calibrated().check()


def test_chi_square_merges_the_tail_and_small_bins() -> None:
    pmf, tail = _geometric(0.3, 10)  # 100 samples: expected 30, 21, 14.7, ..., 0.85
    counts = {1: 30, 2: 21, 3: 15, 4: 10, 5: 7, 6: 5, 7: 4, 8: 2, 9: 2, 11: 4}
    k = np.repeat(list(counts), list(counts.values()))  # 11 = censored (k_max + 1)
    fit = chi_square_gof(k, pmf, tail)
    assert fit.expected.min() >= 5
    # k = 1..6 alone (expected >= 5), then {7, 8}, then K >= 9 with the tail
    np.testing.assert_array_equal(fit.edges, [1, 2, 3, 4, 5, 6, 7, 9])
    want = 100 * np.concatenate([pmf[:6], [pmf[6:8].sum(), pmf[8:].sum() + tail]])
    np.testing.assert_allclose(fit.expected, want)
    np.testing.assert_array_equal(fit.observed, [30, 21, 15, 10, 7, 5, 6, 6])
    assert fit.dof == 7
    assert fit.statistic == pytest.approx(np.sum((fit.observed - want) ** 2 / want))
    # a remainder below min_expected is merged into the previous bin
    # (expected 30 | 21 + 14.7 | 10.3 + 7.2 + 5.0 + 3.5, then 8.2 left over)
    small = chi_square_gof(k, pmf, tail, min_expected=25)
    np.testing.assert_array_equal(small.edges, [1, 2, 4])
    assert small.expected[-1] == pytest.approx(100 * (1 - pmf[:3].sum()))


# ------------------------------------------------------------- moments, quantiles


MOMENT_RUNS, MOMENT_SIZE = 400, 25600


def check_sample_moments_standard_errors(seed: int = 99) -> Outcome:
    """z of the sample mean and std of geometric samples against their exact values,
    over 400 samples: each set of z has mean 0 (t-test) and standard deviation 1
    (z with the delta-method SE of a standard deviation). Samples of 25600, where
    the bias of the std's z (-3.9/sqrt(n), -0.18 at n = 500) is 0.5 SE of its mean
    over the 400."""
    rng = np.random.default_rng(seed)
    p = 0.1
    mean, std = 1 / p, math.sqrt(1 - p) / p
    z_mean, z_std = [], []
    for _ in range(MOMENT_RUNS):
        m = sample_moments(rng.geometric(p, size=MOMENT_SIZE))
        z_mean.append((m.mean - mean) / m.mean_se)
        z_std.append((m.std - std) / m.std_se)
    z, t = [], []
    for x in (np.array(z_mean), np.array(z_std)):
        n, s = x.size, x.std(ddof=1)
        t.append((x.mean() / (s / math.sqrt(n)), n - 1))
        m4 = np.mean((x - x.mean()) ** 4)
        se_s = math.sqrt(max(m4 - s**4 * (n - 3) / (n - 1), 0) / n) / (2 * s)
        z.append((s - 1) / se_s)
    return Outcome.of(z, t=t, label="SEs of sample moments")


def test_sample_moments_standard_errors_are_calibrated() -> None:
    check_sample_moments_standard_errors().check()


def check_quantile_ci_coverage(q: float, seed: int = 31) -> Outcome:
    """Coverage of 300 nominal 90 % intervals (conservative for a discrete law):
    one-sided exact binomial test of the hits against coverage 0.9."""
    rng = np.random.default_rng(seed)
    pmf, tail = _geometric(0.05, 2000)
    true = pmf_quantile(pmf, q, tail)
    hits, ordered = [], []
    for _ in range(300):
        est = quantile_ci(rng.geometric(0.05, size=400), q, confidence=0.9)
        ordered.append(est.low <= est.estimate <= est.high)
        hits.append(est.low <= true <= est.high)
    p = stats.binom.cdf(int(np.sum(hits)), len(hits), 0.9)
    return Outcome.of(
        p=[p], flags=[("low <= estimate <= high", all(ordered))], label=f"q = {q}"
    )


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_quantile_ci_covers_the_true_quantile(q: float) -> None:
    pmf, tail = _geometric(0.05, 2000)
    assert pmf_quantile(pmf, q, tail) == math.ceil(math.log(1 - q) / math.log(0.95))
    check_quantile_ci_coverage(q).check()


def test_quantile_ci_is_the_order_statistic_interval() -> None:
    """[x_(l), x_(u)] with l = B^-1(alpha/2), u = B^-1(1 - alpha/2) + 1 (1-based),
    B ~ Binomial(n, q): the interval scipy's quantile_test gives, end for end."""
    rng = np.random.default_rng(8)
    for n in (5, 40, 400):
        k = rng.geometric(0.1, size=n)
        a = np.sort(k)
        for q in (0.1, 0.5, 0.9):
            est = quantile_ci(k, q, confidence=0.9)
            lo = int(stats.binom.ppf(0.05, n, q))
            hi = int(stats.binom.ppf(0.95, n, q)) + 1
            assert est.low == (a[lo - 1] if lo >= 1 else -math.inf)
            assert est.high == (a[hi - 1] if hi <= n else math.inf)
            assert est.estimate == np.quantile(k, q, method="inverted_cdf")


def test_quantile_ci_small_sample_is_unbounded() -> None:
    est = quantile_ci([3, 1, 2], 0.5, confidence=0.99)
    assert est.estimate == 2
    assert est.low == -math.inf
    assert est.high == math.inf


def _log10(p: float) -> float:
    return math.log10(p) if p > 0 else -math.inf


STOCHASTIC_CHECKS = {
    "bank-round-law": check_bank_round_law,
    "chi-square-exact-law": check_chi_square_accepts_the_exact_law,
    "chi-square-negative-controls": check_chi_square_rejects_a_different_law,
    "chi-square-calibration": check_chi_square_p_values_are_calibrated,
    "moment-ses": check_sample_moments_standard_errors,
    **{
        f"quantile-ci[{q}]": partial(check_quantile_ci_coverage, q)
        for q in (0.1, 0.5, 0.9)
    },
}
"""Every stochastic check of this module as a function of the seed."""


def test_pmf_quantile_in_the_tail() -> None:
    pmf, tail = _geometric(0.01, 10)
    assert pmf_quantile(pmf, 0.5, tail) == math.inf


# ----------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: empirical_pmf([0, 1]), r"k has values < 1"),
        (lambda: empirical_pmf([1.5, 2]), r"k must hold integers"),
        (lambda: empirical_pmf([]), r"non-empty 1-d"),
        (lambda: empirical_pmf([1, 2], k_max=0), r"k_max=0"),
        (lambda: sample_moments([3]), r"at least 2"),
        (lambda: sample_moments([1, 2, 11], censored_at=11), r"censored"),
        (lambda: quantile_ci([1, 2], 1.0), r"q=1\.0 must be in \(0, 1\)"),
        (lambda: quantile_ci([1, 2], 0.5, confidence=95), r"confidence=95"),
        (lambda: chi_square_gof([1, 2], [0.5, 0.6]), r"together they must be 1"),
        (lambda: chi_square_gof([1, 2], [0.5, 0.5]), r"needs more samples"),
        (lambda: chi_square_gof([1] * 50, [0.5, 0.5], ddof=-1), r"ddof=-1"),
        (lambda: first_success_attempts([1, 0, 1]), r"\(n_machines, n_attempts\)"),
        (lambda: first_success_attempts([[2, 0]]), r"booleans"),
        (lambda: bank_first_success_round([[True], [False]] * 3, 4), r"multiple"),
        (lambda: bank_minimum([1, 2, 3], 2), r"n_machines=2"),
        (lambda: pmf_quantile([0.5, -0.1], 0.5), r"pmf must be"),
    ],
)
def test_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
