"""The two-qutrit closed forms (Eqs. 6-8, B2-B11) against the exact steady state.

Exact forms are compared at relative precision 1e-9; the asymptotic ones (Eqs. 6, 8)
through their leading coefficients, extracted from exact numerics by polynomial
(Richardson) extrapolation to 1e-9.

Labelling (see ``trajectories.paper.qutrit``): the paper prints Eqs. 6 and B2 with
paper |a,b> = package |1-a, 1-b>; B3-B6 are exact in that reading.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import pytest

from trajectories.exact.states import Herald, herald, steady_state
from trajectories.paper import qutrit as paper
from trajectories.system.machines import qutrit
from trajectories.system.models import ResetModel

RTOL = 1e-9

# (g, theta, p_A, p_B): weak and strong coupling, small and large mu
PARAMS = [
    (0.01, 0.3, 0.002, 0.01),
    (0.05, 0.7, 0.004, 0.02),
    (0.003, 1.1, 0.001, 0.007),
    (0.02, math.pi / 4, 0.015, 0.01),
    (0.001, 0.2, 0.03, 0.005),
    (0.04, 1.4, 1e-4, 0.03),
]


@functools.cache
def _exact(g: float, theta: float, p_A: float, p_B: float) -> Herald:
    """Exact herald of the steady state (cached: several tests share parameters)."""
    m = qutrit(g=g, theta=theta)
    rho = steady_state(ResetModel(m, p_A=p_A, p_B=p_B, T_A=math.inf, T_B=0.0))
    return herald(rho, m.filter)


def _taylor(f: Callable[[float], np.ndarray], h: float, order: int) -> np.ndarray:
    """Taylor coefficients c_0..c_order of f at 0 from f(h), ..., f((order+1) h)."""
    x = h * np.arange(1, order + 2)
    F = np.array([np.asarray(f(xi)) for xi in x])
    V = np.vander(x, order + 1, increasing=True)
    return np.linalg.solve(V, F.reshape(order + 1, -1)).reshape(F.shape)


def _assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = RTOL) -> None:
    """Max-norm relative agreement."""
    err = np.abs(np.asarray(actual) - expected).max() / np.abs(expected).max()
    assert err <= rtol, f"relative error {err:.2e} > {rtol:g}"


# ------------------------------------------------------------------ Eqs. B2-B11


@pytest.mark.parametrize("params", PARAMS)
def test_b2_b6_are_the_exact_filtered_state(params: tuple[float, ...]) -> None:
    rho_post = _exact(*params).rho_post
    np.testing.assert_allclose(
        paper.filtered_state(*params), rho_post, rtol=RTOL, atol=1e-15
    )


@pytest.mark.parametrize("params", PARAMS)
def test_b2_as_printed_is_in_the_reversed_labelling(params: tuple[float, ...]) -> None:
    """Printed B2 = diag(r1, r2, r3, 1 - r1 - r2 - r3) with t in (1, 2) holds with
    paper |a,b> = package |1-a,1-b>, equivalently with theta -> pi/2 - theta."""
    g, theta, p_A, p_B = params
    rho_post = _exact(*params).rho_post

    def printed(theta: float) -> np.ndarray:
        r1, r2, r3, t = paper.b_coefficients(g, theta, p_A, p_B)
        m = np.diag([r1, r2, r3, 1 - r1 - r2 - r3]).astype(complex)
        m[1, 2], m[2, 1] = t, np.conj(t)
        return m

    _assert_close(paper.relabel_paper(printed(theta)), rho_post)
    _assert_close(printed(math.pi / 2 - theta), rho_post)
    # the two readings agree because rho'(pi/2 - theta) = R rho'(theta) R exactly
    mirrored = _exact(g, math.pi / 2 - theta, p_A, p_B).rho_post
    _assert_close(paper.relabel_paper(mirrored), rho_post)
    # the closed form used for 1 - r1 - r2 - r3 is that identity
    assert paper.filtered_state(*params)[0, 0].real == pytest.approx(
        1 - sum(paper.b_coefficients(*params)[:3]), rel=1e-9, abs=1e-15
    )


def test_b2_read_in_the_package_labelling_fails() -> None:
    """Taken literally in the package basis (or with only |0,1> <-> |1,0> swapped),
    printed B2 fails away from theta = pi/4."""
    g, theta, p_A, p_B = PARAMS[0]
    rho_post = _exact(*PARAMS[0]).rho_post
    r1, r2, r3, t = paper.b_coefficients(g, theta, p_A, p_B)
    literal = np.diag([r1, r2, r3, 1 - r1 - r2 - r3]).astype(complex)
    literal[1, 2] = literal[2, 1] = t
    swap_middle = literal[np.ix_([0, 2, 1, 3], [0, 2, 1, 3])]
    for wrong in (literal, swap_middle):
        assert np.abs(wrong - rho_post).max() > 1e-2


@pytest.mark.parametrize("params", PARAMS)
def test_b7_b11_are_the_exact_success_probability(params: tuple[float, ...]) -> None:
    assert paper.success_probability(*params) == pytest.approx(
        _exact(*params).p_suc, rel=RTOL
    )


def test_b7_broadcasts() -> None:
    g, theta, p_A, p_B = (np.array(x) for x in zip(*PARAMS, strict=True))
    got = paper.success_probability(g, theta, p_A, p_B)
    want = [paper.success_probability(*p) for p in PARAMS]
    np.testing.assert_allclose(got, want, rtol=1e-15)


# ------------------------------------------------------------------------ Eq. 6


@pytest.mark.parametrize("theta", [0.3, math.pi / 4, 1.2])
def test_eq6_is_the_first_order_in_mu(theta: float) -> None:
    """rho'(mu) = rho'_0 + mu rho'_1 + O(mu^2) at g << p_B: rho'_0 and rho'_1,
    extracted from exact numerics, are Eq. 6 (g/p_B = 1e-6: O(g^2/p_B^2) = 1e-12)."""
    p_B = 0.01
    g = 1e-6 * p_B
    coeffs = _taylor(lambda mu: _exact(g, theta, mu * p_B, p_B).rho_post, 1e-3, 5)
    c0 = paper.first_order_state(theta, 0.0)
    c1 = paper.first_order_state(theta, 1.0) - c0
    _assert_close(coeffs[0], c0)
    _assert_close(coeffs[1], c1)
    psi = paper.pure_state(theta)
    _assert_close(c0, np.outer(psi, psi.conj()))  # Eq. 7


def test_eq6_remainder_is_second_order() -> None:
    """||exact - Eq. 6|| / mu -> 0 linearly: the remainder is O(mu^2)."""
    theta, p_B = 0.3, 0.01
    g = 1e-6 * p_B
    mus = [4e-3, 2e-3, 1e-3]
    err = [
        np.abs(
            _exact(g, theta, mu * p_B, p_B).rho_post
            - paper.first_order_state(theta, mu)
        ).max()
        for mu in mus
    ]
    ratios = [err[i] / err[i + 1] for i in range(len(mus) - 1)]
    assert all(3.9 < r < 4.1 for r in ratios), ratios


def test_eq6_as_printed_is_in_the_reversed_labelling() -> None:
    """Printed Eq. 6 = diag(mu c^2/3, (1-mu/3) s^2, (1-mu/3) c^2, mu s^2/3) with
    coherence (1 - 2mu/3) c s: in the package basis it fails; relabelled (or with
    c <-> s) it is the first order of the exact state. Likewise Eq. 7 as printed,
    sin(theta)|0,1> + cos(theta)|1,0>, is package cos(theta)|0,1> + sin(theta)|1,0>."""
    theta, mu = 0.3, 1e-3
    c, s = math.cos(theta), math.sin(theta)
    printed = np.diag(
        [mu * c * c / 3, (1 - mu / 3) * s * s, (1 - mu / 3) * c * c, mu * s * s / 3]
    ).astype(complex)
    printed[1, 2] = printed[2, 1] = (1 - 2 * mu / 3) * c * s
    exact = _exact(1e-8, theta, mu * 0.01, 0.01).rho_post
    assert np.abs(printed - exact).max() > 0.5
    assert np.abs(paper.relabel_paper(printed) - exact).max() < 1e-5  # O(mu^2)
    np.testing.assert_allclose(
        paper.relabel_paper(printed), paper.first_order_state(theta, mu), atol=1e-16
    )
    np.testing.assert_allclose(
        paper.first_order_state(math.pi / 2 - theta, mu), printed, atol=1e-16
    )


# ------------------------------------------------------------------------ Eq. 8


@pytest.mark.parametrize(
    ("g", "theta", "p_B"), [(0.01, 0.3, 0.01), (0.03, 1.0, 0.01), (0.002, 0.7, 0.02)]
)
def test_eq8_small_mu(g: float, theta: float, p_B: float) -> None:
    """lim_{mu -> 0} p_suc / mu = 1/3 at fixed g, any theta."""
    lim = _taylor(lambda mu: _exact(g, theta, mu * p_B, p_B).p_suc / mu, 1e-5, 3)[0]
    assert lim == pytest.approx(paper.success_probability_small_mu(1.0, 1.0), rel=RTOL)


@pytest.mark.parametrize(
    ("theta", "p_A", "p_B"), [(0.3, 0.003, 0.01), (1.0, 0.02, 0.01), (0.7, 1e-4, 0.005)]
)
def test_eq8_small_g(theta: float, p_A: float, p_B: float) -> None:
    """lim_{g -> 0} p_suc / g^2 = 2 (2 p_A + 3 p_B) / (9 p_B (p_A + p_B)^2)."""
    lim = _taylor(
        lambda x: _exact(math.sqrt(x) * p_B, theta, p_A, p_B).p_suc / (x * p_B**2),
        1e-6,
        2,
    )[0]
    assert lim == pytest.approx(
        paper.success_probability_small_g(1.0, p_A, p_B), rel=RTOL
    )


def test_eq8_limits_are_limits_of_b7() -> None:
    g, theta, p_A, p_B = 0.01, 0.4, 0.002, 0.01
    small_mu = paper.success_probability(g, theta, 1e-9 * p_B, p_B) / 1e-9
    assert small_mu == pytest.approx(1 / 3, rel=1e-8)
    small_g = paper.success_probability(1e-8, theta, p_A, p_B)
    assert small_g == pytest.approx(
        paper.success_probability_small_g(1e-8, p_A, p_B), rel=1e-9
    )
