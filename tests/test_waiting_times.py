"""Statistics of sampled waiting times: calibration against known laws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.waiting_times import (
    bank_first_success_round,
    bank_minimum,
    bootstrap_ci,
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


@pytest.fixture(scope="module")
def short_period_law() -> tuple[np.ndarray, float]:
    """The exact law of K for the qutrit machine at T = 10 (far from geometric)."""
    model = ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01)
    law = attempts_pmf(model, 10.0, 3000)
    return law.pmf, law.tail


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


def test_bank_round_from_flags_follows_the_bank_law() -> None:
    """iid Bernoulli(p) attempts: R of n machines is geometric with 1 - (1 - p)^n."""
    rng = np.random.default_rng(7)
    p, n, n_banks, n_attempts = 0.05, 5, 3000, 60
    flags = rng.random((n_banks * n, n_attempts)) < p
    rounds = bank_first_success_round(flags, n)
    assert rounds.shape == (n_banks,)
    np.testing.assert_array_equal(
        rounds, bank_minimum(first_success_attempts(flags), n)
    )
    law = geometric_pmf(1 - (1 - p) ** n, n_attempts)
    assert chi_square_gof(rounds, law.pmf, law.tail).p_value > 0.01
    single = geometric_pmf(p, n_attempts)  # the law of one machine: wrong here
    assert chi_square_gof(rounds, single.pmf, single.tail).p_value < 1e-10


def test_empirical_pmf() -> None:
    law = empirical_pmf([1, 3, 3, 7, 2], k_max=3)
    np.testing.assert_allclose(law.pmf, [0.2, 0.2, 0.4])
    assert law.tail == pytest.approx(0.2)
    assert law.n == 5
    assert empirical_pmf([2, 2]).pmf.tolist() == [0.0, 1.0]


# ----------------------------------------------------------------- chi-square


def test_chi_square_accepts_the_exact_law(short_period_law) -> None:
    pmf, tail = short_period_law
    rng = np.random.default_rng(12345)
    k = _draw(pmf, tail, 5000, rng)
    fit = chi_square_gof(k, pmf, tail)
    assert fit.p_value > 0.01
    assert fit.expected.min() >= 5
    assert fit.observed.sum() == k.size
    assert fit.expected.sum() == pytest.approx(k.size)
    assert fit.dof == fit.edges.size - 1
    assert fit.edges[0] == 1
    assert np.all(np.diff(fit.edges) >= 1)


def test_chi_square_rejects_a_different_law(short_period_law) -> None:
    """Negative control: geometric samples with the same P(K = 1) = p_suc."""
    pmf, tail = short_period_law
    rng = np.random.default_rng(12345)
    geo = geometric_pmf(pmf[0], pmf.size)
    k = _draw(geo.pmf, geo.tail, 5000, rng)
    assert chi_square_gof(k, pmf, tail).p_value < 1e-12
    # a 10 % change of the success probability is caught with 20000 samples
    k = _draw(*_geometric(0.055), 20000, rng)
    assert chi_square_gof(k, *_geometric(0.05)).p_value < 1e-4


def test_chi_square_p_values_are_calibrated() -> None:
    """Under the null the p-values are ~ uniform: ~5 % fall below 0.05."""
    rng = np.random.default_rng(2024)
    pmf, tail = _geometric(0.08)
    p_values = np.array(
        [
            chi_square_gof(_draw(pmf, tail, 1000, rng), pmf, tail).p_value
            for _ in range(300)
        ]
    )
    assert 0.02 <= np.mean(p_values < 0.05) <= 0.09
    assert 0.4 <= np.mean(p_values < 0.5) <= 0.6


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


def test_sample_moments_standard_errors_are_calibrated() -> None:
    rng = np.random.default_rng(99)
    p = 0.1
    mean, std = 1 / p, math.sqrt(1 - p) / p
    z_mean, z_std = [], []
    for _ in range(400):
        m = sample_moments(rng.geometric(p, size=500))
        z_mean.append((m.mean - mean) / m.mean_se)
        z_std.append((m.std - std) / m.std_se)
    assert abs(np.mean(z_mean)) < 0.2
    assert 0.85 < np.std(z_mean) < 1.15
    assert abs(np.mean(z_std)) < 0.3
    assert 0.8 < np.std(z_std) < 1.25


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_quantile_ci_covers_the_true_quantile(q: float) -> None:
    rng = np.random.default_rng(31)
    pmf, tail = _geometric(0.05, 2000)
    true = pmf_quantile(pmf, q, tail)
    assert true == math.ceil(math.log(1 - q) / math.log(0.95))
    hits = []
    for _ in range(300):
        est = quantile_ci(rng.geometric(0.05, size=400), q, confidence=0.9)
        assert est.low <= est.estimate <= est.high
        hits.append(est.low <= true <= est.high)
    # nominal 90 %, conservative for a discrete law
    assert np.mean(hits) >= 0.87


def test_quantile_ci_small_sample_is_unbounded() -> None:
    est = quantile_ci([3, 1, 2], 0.5, confidence=0.99)
    assert est.estimate == 2
    assert est.low == -math.inf
    assert est.high == math.inf


def test_bootstrap_ci_is_reproducible_and_covers_the_mean() -> None:
    k = np.random.default_rng(5).geometric(0.1, size=1000)
    a = bootstrap_ci(k, np.mean, np.random.default_rng(1), n_boot=500)
    b = bootstrap_ci(k, np.mean, np.random.default_rng(1), n_boot=500)
    assert a == b
    assert a[1] < a[0] < a[2]
    assert a[1] < 10 < a[2]


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
        (lambda: bootstrap_ci([1, 2], np.mean, rng=1), r"rng=1"),
        (lambda: pmf_quantile([0.5, -0.1], 0.5), r"pmf must be"),
    ],
)
def test_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
