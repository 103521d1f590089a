"""The conjecture of App. D (Eqs. D4-D5), tested numerically for d = 2..6.

Findings pinned here: 1 - F = c1 mu + c2 mu^2 + O(mu^3) with c1 = (d - sum lambda^4)
/(d + 1) independent of g/p_B, the fitted exponent is 1, the extrapolated limit state is
the Schmidt target, and no Schmidt vector (zero coefficients included) violates this;
only the negativity of rho' converges non-uniformly when a coefficient is tiny.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from analysis.measures import negativity
from trajectories.paper.schmidt_study import (
    deficit_prefactor,
    deficit_scaling,
    deficit_second_order,
    deficit_small_g,
    fidelity_deficit,
    heralded_state,
    limit_state,
    linear_coefficient,
    random_schmidt,
    target_negativity,
)
from trajectories.system.liouvillian import diagonal_indices, reachable_support
from trajectories.system.machines import schmidt
from trajectories.system.models import ResetModel

DIMENSIONS = [2, 3, 4, 5, 6]


def _schmidt_dm(lambdas: np.ndarray) -> np.ndarray:
    """|psi><psi| of Eq. D5 in the relabelled basis: sum_k lambda_k |k, d-1-k>."""
    d = lambdas.size
    psi = np.zeros(d * d)
    psi[[k * d + d - 1 - k for k in range(d)]] = lambdas
    return np.outer(psi, psi)


def test_random_schmidt_is_a_fixed_unit_vector() -> None:
    lam = random_schmidt(4, seed=4)
    np.testing.assert_array_equal(lam, random_schmidt(4, seed=4))
    assert np.linalg.norm(lam) == pytest.approx(1.0, abs=1e-15)
    assert np.all(lam >= 0)


@pytest.mark.parametrize("d", DIMENSIONS)
def test_deficit_vanishes_linearly_with_closed_form_prefactor(d: int) -> None:
    lam = random_schmidt(d, seed=d)
    fit = deficit_scaling(lam, 1.0)
    deficits = np.array(fit.deficits)
    assert np.all(deficits > 0)
    assert np.all(np.diff(deficits) > 0)  # mus increase: 1 - F -> 0 as mu -> 0
    assert deficits[0] < 1e-6
    # fit over mu in [1e-7, 1e-4]: observed |b - 1| < 5e-9, |a / c1 - 1| < 6e-8
    assert abs(fit.exponent - 1) < 1e-7
    assert fit.prefactor == pytest.approx(deficit_prefactor(lam), rel=1e-6)
    c1 = deficit_prefactor(lam)
    assert fit.correction == pytest.approx(
        deficit_second_order(lam, 1.0) / c1, rel=1e-3
    )


@pytest.mark.parametrize("d", DIMENSIONS)
@pytest.mark.parametrize("g_over_pB", [0.01, 1.0, 100.0])
def test_prefactor_does_not_depend_on_g(d: int, g_over_pB: float) -> None:
    lam = random_schmidt(d, seed=d)
    assert linear_coefficient(lam, g_over_pB) == pytest.approx(
        deficit_prefactor(lam), rel=1e-6
    )


@pytest.mark.parametrize("d", DIMENSIONS)
@pytest.mark.parametrize("g_over_pB", [0.01, 1.0, 100.0])
def test_second_order_coefficient(d: int, g_over_pB: float) -> None:
    lam = random_schmidt(d, seed=d)
    mu = 1e-4
    c1 = deficit_prefactor(lam)
    c2 = (fidelity_deficit(lam, mu, g_over_pB) - c1 * mu) / mu**2
    assert c2 == pytest.approx(deficit_second_order(lam, g_over_pB), rel=1e-3)


@pytest.mark.parametrize("d", DIMENSIONS)
def test_small_g_and_uniform_closed_forms_are_exact(d: int) -> None:
    lam = random_schmidt(d, seed=d)
    uniform = np.ones(d) / math.sqrt(d)
    for mu in (0.1, 1e-2):
        assert fidelity_deficit(lam, mu, 1e-4) == pytest.approx(
            deficit_small_g(lam, mu), rel=1e-10
        )
        assert fidelity_deficit(uniform, mu, 3.0) == pytest.approx(
            deficit_small_g(uniform, mu), rel=1e-10
        )


@pytest.mark.parametrize("d", DIMENSIONS)
@pytest.mark.parametrize("g_over_pB", [0.1, 10.0])
def test_limit_state_is_the_schmidt_target(d: int, g_over_pB: float) -> None:
    lam = random_schmidt(d, seed=d)
    rho0 = limit_state(lam, g_over_pB)
    assert np.abs(rho0 - _schmidt_dm(lam)).max() < 1e-9


@pytest.mark.parametrize(
    "lambdas",
    [[0.6, 0.0, 0.8], [0.5, 0.0, 0.5, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], [1.0, 1e-6]],
)
def test_zero_and_unequal_coefficients_are_no_counterexample(lambdas) -> None:
    lam = np.asarray(lambdas) / np.linalg.norm(lambdas)
    assert np.abs(limit_state(lam) - _schmidt_dm(lam)).max() < 1e-9
    assert linear_coefficient(lam) == pytest.approx(deficit_prefactor(lam), rel=1e-6)


@pytest.mark.parametrize("g_over_pB", [1e-3, 1e3])
def test_deficit_is_bounded_by_its_linear_term(g_over_pB: float) -> None:
    for d in DIMENSIONS:
        lam = random_schmidt(d, seed=d)
        c1 = deficit_prefactor(lam)
        assert (d - 1) / (d + 1) <= c1 <= (d - 1) / d
        for mu in (1e-2, 1.0):
            assert fidelity_deficit(lam, mu, g_over_pB) < c1 * mu


def test_negativity_converges_non_uniformly_for_a_tiny_coefficient() -> None:
    lam = np.array([1.0, 1e-4]) / math.hypot(1.0, 1e-4)
    ratios = []
    for mu in (1e-2, 1e-6):
        rho, _, _ = heralded_state(lam, mu)
        assert fidelity_deficit(lam, mu) < deficit_prefactor(lam) * mu
        ratios.append(negativity(rho) / target_negativity(lam))
    assert ratios[0] < 0.05  # 1 - F ~ 3e-3, yet 97% of the negativity is lost
    # small mu: 1 - N'/N ~ mu / (2 (d + 1) lambda_min)
    assert ratios[1] == pytest.approx(1 - 1e-6 / (6 * 1e-4), abs=1e-4)


@pytest.mark.parametrize("d", DIMENSIONS)
def test_success_probability_tends_to_mu_over_d_plus_1(d: int) -> None:
    mu = 1e-7
    _, _, p_suc = heralded_state(random_schmidt(d, seed=d), mu, 1.0)
    assert p_suc / mu == pytest.approx(1 / (d + 1), rel=1e-5)


def test_reduced_solver_agrees_with_dense_in_the_fit_range() -> None:
    lam = random_schmidt(2, seed=2)
    for mu in (1e-2, 1e-4):
        assert fidelity_deficit(lam, mu) == pytest.approx(
            fidelity_deficit(lam, mu, method="dense"), rel=1e-6
        )


def _mp_deficit(lambdas: np.ndarray, mu: float, g_over_pB: float) -> float:
    """1 - F from a 40-digit solve of the reduced steady-state equations."""
    p_B = 1e-2
    m = schmidt(lambdas, g=g_over_pB * p_B)
    L = ResetModel(m, p_A=mu * p_B, p_B=p_B).liouvillian()
    D = m.dim
    support = reachable_support(L, diagonal_indices(D))
    L_R = L[support][:, support].toarray()
    is_pop = np.isin(support, diagonal_indices(D))
    with mpmath.workdps(40):
        A = mpmath.matrix([[mpmath.mpc(v.real, v.imag) for v in row] for row in L_R])
        row = int(np.flatnonzero(is_pop)[0])
        for j in range(support.size):
            A[row, j] = 1 if is_pop[j] else 0
        b = mpmath.matrix(support.size, 1)
        b[row] = 1
        x = mpmath.lu_solve(A, b)
        rho = {(int(s) % D, int(s) // D): x[k] for k, s in enumerate(support)}
        d = lambdas.size
        kept = [a * (d + 1) + b for a in range(d) for b in range(1, d + 1)]
        psi = m.target.real
        trace = sum(rho.get((i, i), 0) for i in kept)
        overlap = sum(
            psi[a] * psi[b] * rho.get((kept[a], kept[b]), 0)
            for a in range(len(kept))
            for b in range(len(kept))
            if psi[a] and psi[b]
        )
        return float(mpmath.re(1 - overlap / trace))


@pytest.mark.parametrize("d", [2, 3])
def test_float64_deficit_is_accurate_down_to_the_fit_range(d: int) -> None:
    lam = random_schmidt(d, seed=d)
    for mu in (1e-4, 1e-7):
        assert fidelity_deficit(lam, mu) == pytest.approx(
            _mp_deficit(lam, mu, 1.0), rel=1e-7
        )


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="mu"):
        fidelity_deficit([0.6, 0.8], 0.0)
    with pytest.raises(ValueError, match="lambdas"):
        fidelity_deficit([0.0, 0.0], 1e-3)
    with pytest.raises(ValueError, match="mus"):
        deficit_scaling([0.6, 0.8], 1.0, mus=[1e-3, 1e-4])
