"""The qudit closed forms (Eq. 12, C2-C3, C11, C12) against the exact steady state.

Notation of Sec. III: filtered dimension d, local dimension d+1, g_k = g/sqrt(2).
Each typo of App. C and Eq. 12 is stated, shown to fail against the exact numerics as
printed, and its correction pinned at relative precision 1e-9.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import pytest

from trajectories.exact import Herald, herald, steady_state
from trajectories.machines import qudit
from trajectories.models import ResetModel
from trajectories.paper import qudit as paper
from trajectories.paper import qutrit as paper_qutrit

RTOL = 1e-9
DIMS = range(2, 9)


def _params(d: int, n: int = 3) -> list[tuple[float, float, float]]:
    """n random (g, p_A, p_B) per d: p_B in [0.005, 0.02], mu in [0.02, 1.5],
    g/p_B in [0.1, 3]."""
    rng = np.random.default_rng(100 + d)
    out = []
    for _ in range(n):
        p_B = rng.uniform(0.005, 0.02)
        out.append((rng.uniform(0.1, 3) * p_B, rng.uniform(0.02, 1.5) * p_B, p_B))
    return out


@functools.cache
def _exact(
    d: int,
    g: float,
    p_A: float,
    p_B: float,
    couplings: tuple[float, ...] | None = None,
) -> tuple[np.ndarray, Herald]:
    """Exact steady state and herald (cached: several tests share parameters)."""
    m = qudit(d, g=g, couplings=couplings)
    rho = steady_state(ResetModel(m, p_A=p_A, p_B=p_B, T_A=math.inf, T_B=0.0))
    return rho, herald(rho, m.filter)


def _taylor(f: Callable[[float], float], h: float, order: int) -> np.ndarray:
    """Taylor coefficients c_0..c_order of f at 0 from f(h), ..., f((order+1) h)."""
    x = h * np.arange(1, order + 2)
    V = np.vander(x, order + 1, increasing=True)
    return np.linalg.solve(V, np.array([f(xi) for xi in x]))


def _rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(np.asarray(actual) - expected).max() / np.abs(expected).max())


def _eq12_as_printed(d: int, g: float, p_A: float, p_B: float) -> float:
    """Eq. 12 transcribed literally."""
    xi = 2 * (d - 1) * p_A * p_B + (d - 1) * p_B**2 + p_A**2
    return (
        (d - 1)
        * g**2
        * p_A
        * ((d - 1) * p_A + d * p_B)
        / (d**2 * (g**2 * xi + p_A * p_B * (p_A + p_B) ** 2))
    )


# ----------------------------------------------------------------------- Eq. 12


@pytest.mark.parametrize("d", DIMS)
def test_eq12_corrected_is_the_exact_success_probability(d: int) -> None:
    for g, p_A, p_B in _params(d):
        _, h = _exact(d, g, p_A, p_B)
        assert paper.success_probability(d, g, p_A, p_B) == pytest.approx(
            h.p_suc, rel=RTOL
        )


@pytest.mark.parametrize("d", DIMS)
def test_eq12_as_printed_uses_the_local_dimension(d: int) -> None:
    """Typo: Eq. 12's d is the local dimension, d+1 in the notation of Eqs. 9-11.
    Printed with the d of Sec. III it fails; with d+1 it is the exact p_suc."""
    errors = []
    for g, p_A, p_B in _params(d):
        _, h = _exact(d, g, p_A, p_B)
        errors.append(abs(_eq12_as_printed(d, g, p_A, p_B) / h.p_suc - 1))
        assert _eq12_as_printed(d + 1, g, p_A, p_B) == pytest.approx(h.p_suc, rel=RTOL)
    assert min(errors) > 1e-6  # far outside the 1e-9 agreement of the correction
    assert max(errors) > 1e-2


def test_eq12_for_the_qutrit_is_b7_at_theta_pi_over_4() -> None:
    """ "Agrees with (8) for d = 3": printed d = 3 is the qutrit machine (Sec. III
    d = 2, g_1 = g_2 = g/sqrt(2)), where Eq. 12 equals B7 at theta = pi/4 and hence
    has both limits of Eq. 8."""
    for g, p_A, p_B in _params(2, 5):
        assert paper.success_probability(2, g, p_A, p_B) == pytest.approx(
            paper_qutrit.success_probability(g, math.pi / 4, p_A, p_B), rel=1e-12
        )
    g, p_A, p_B = 0.01, 0.002, 0.01
    assert paper.success_probability(2, g, 1e-9 * p_B, p_B) / 1e-9 == pytest.approx(
        1 / 3, rel=1e-8
    )
    assert paper.success_probability(2, 1e-8, p_A, p_B) == pytest.approx(
        paper_qutrit.success_probability_small_g(1e-8, p_A, p_B), rel=1e-9
    )


def test_eq12_broadcasts() -> None:
    g, p_A, p_B = (np.array(x) for x in zip(*_params(5), strict=True))
    want = [paper.success_probability(5, *p) for p in _params(5)]
    np.testing.assert_allclose(
        paper.success_probability(5, g, p_A, p_B), want, rtol=1e-15
    )


# ------------------------------------------------------------------- Eqs. C2-C3


@pytest.mark.parametrize("d", DIMS)
def test_c2_c3_corrected_is_the_exact_steady_state(d: int) -> None:
    for g, p_A, p_B in _params(d):
        rho, _ = _exact(d, g, p_A, p_B)
        np.testing.assert_allclose(
            paper.steady_state(d, g, p_A, p_B), rho, rtol=RTOL, atol=1e-15
        )


@pytest.mark.parametrize("d", DIMS)
def test_c2_c3_as_printed_have_couplings_g_not_g_over_sqrt2(d: int) -> None:
    """Typo (convention): C2-C3 as printed (with g) are the steady state for
    g_k = g, not for the g_k = g/sqrt(2) of Sec. III; printed C2-C3 at g is
    ``paper.steady_state(d, sqrt(2) g, ...)``. They also hold for d = 2, where the
    paper states d >= 3."""
    g, p_A, p_B = _params(d, 1)[0]
    printed = paper.steady_state(d, math.sqrt(2) * g, p_A, p_B)
    rho_sec3, _ = _exact(d, g, p_A, p_B)
    rho_gk_g, _ = _exact(d, g, p_A, p_B, couplings=(g,) * d)
    assert _rel_err(printed, rho_sec3) > 1e-3
    np.testing.assert_allclose(printed, rho_gk_g, rtol=RTOL, atol=1e-15)
    # printed N = (d+1)^2 (p_A p_B (p_A + p_B)^2 + 2 g^2 (p_A^2 + 2d p_A p_B + d p_B^2))
    # is the trace of the bracket of C2: c_1 at (0, 0) times N equals printed c_1
    N = (d + 1) ** 2 * (
        p_A * p_B * (p_A + p_B) ** 2
        + 2 * g**2 * (p_A**2 + 2 * d * p_A * p_B + d * p_B**2)
    )
    c1 = (d + 1) * p_A * p_B * (p_A + p_B) ** 2 + 2 * g**2 * (
        (d + 1) ** 2 * p_B**2 + 2 * d * (d + 1) * p_A * p_B
    )
    assert printed[0, 0].real * N == pytest.approx(c1 + 2 * g**2 * p_A**2, rel=1e-12)


def test_c2_c3_trace_and_hermiticity() -> None:
    for d in DIMS:
        rho = paper.steady_state(d, *_params(d, 1)[0])
        assert np.trace(rho).real == pytest.approx(1.0, abs=1e-14)
        np.testing.assert_allclose(rho, rho.conj().T, atol=0)
        assert np.linalg.eigvalsh(rho).min() > -1e-15


# ----------------------------------------------------------------------- Eq. C11


def _c11_as_printed(d: int, g: float, p_A: float, p_B: float, kets: str) -> np.ndarray:
    """Eq. C11 transcribed literally (App. C coupling g), in the relabelled basis.

    Populations use original labels |k, l>, l = 1..d (relabelled |k, l-1>). The
    coherence kets |k+l-1, d-k-l> are read in original labels (``kets="original"``)
    or as already relabelled (``kets="relabelled"``)."""
    shift = 1 if kets == "original" else 0

    def idx(a: int, b: int) -> int:
        return a * d + (b - shift)

    rho = 2 * g**2 * p_A**2 * np.eye(d * d, dtype=complex)
    for k in range(d):
        rho[k * d + (d - k - 1), k * d + (d - k - 1)] += 2 * (d + 1) * g**2 * p_A * p_B
    for k in range(1, d - 1):
        for m in range(1, d - k):  # the printed l
            i, j = idx(k + m - 1, d - k - m), idx(k - 1, d - k)
            rho[i, j] += 2 * d * g * 1j * p_A * p_B
            rho[j, i] += 2 * d * g * 1j * p_A * p_B
    return rho / (2 * g**2 * p_A**2 * d**2 + 2 * d * (d + 1) * g**2 * p_A * p_B)


@pytest.mark.parametrize("d", DIMS)
def test_c11_corrected_is_the_exact_filtered_state(d: int) -> None:
    """rho' = (p_A 1 + d (d+1) p_B |S_d><S_d|) / (d (d p_A + (d+1) p_B)), for any g."""
    for g, p_A, p_B in _params(d):
        _, h = _exact(d, g, p_A, p_B)
        np.testing.assert_allclose(
            paper.filtered_state(d, p_A, p_B), h.rho_post, rtol=RTOL, atol=1e-15
        )


@pytest.mark.parametrize("d", DIMS)
def test_c11_as_printed_fails(d: int) -> None:
    """Typo: printed C11 has coherences 2 d g i p_A p_B (not Hermitian; should be
    2 (d+1) g^2 p_A p_B), sums k = 1..d-2, l = 1..d-k-1 that omit the coherences with
    original |d-1, 1>, and mixed original/relabelled kets. Its normalisation and
    populations are right: with C2's coherences it is ``paper.filtered_state``."""
    g, p_A, p_B = _params(d, 1)[0]
    _, h = _exact(d, g, p_A, p_B, couplings=(g,) * d)  # App. C coupling
    for kets in ("original", "relabelled"):
        printed = _c11_as_printed(d, g, p_A, p_B, kets)
        if d >= 3:  # for d = 2 the printed coherence sums are empty
            assert np.abs(printed - printed.conj().T).max() > 1e-3
        assert _rel_err(printed, h.rho_post) > 1e-2
        fixed = np.diag(np.diag(printed))  # keep the printed populations
        chain = [k * d + (d - k - 1) for k in range(d)]
        w = 2 * (d + 1) * g**2 * p_A * p_B
        norm = 2 * g**2 * p_A**2 * d**2 + 2 * d * (d + 1) * g**2 * p_A * p_B
        for i in chain:
            for j in chain:
                if i != j:
                    fixed[i, j] = w / norm
        np.testing.assert_allclose(fixed, h.rho_post, rtol=RTOL, atol=1e-15)


def test_c11_is_independent_of_g() -> None:
    d, p_A, p_B = 4, 0.002, 0.01
    for g in (1e-4, 0.01, 0.1):
        _, h = _exact(d, g, p_A, p_B)
        np.testing.assert_allclose(
            paper.filtered_state(d, p_A, p_B), h.rho_post, rtol=RTOL, atol=1e-15
        )


# ----------------------------------------------------------------------- Eq. C12


def _deficit(d: int, g: float, p_A: float, p_B: float) -> float:
    psi = paper.maximally_entangled_state(d)
    _, h = _exact(d, g, p_A, p_B)
    return 1.0 - float(np.vdot(psi, h.rho_post @ psi).real)


@pytest.mark.parametrize("d", DIMS)
def test_c12_deficit_is_linear_in_mu(d: int) -> None:
    """1 - <S_d|rho'|S_d> = (d-1)/d mu + O(mu^2): the coefficient extracted from the
    exact numerics; the exact deficit is (d^2-1) p_A / (d (d p_A + (d+1) p_B))."""
    g, p_B = 0.01, 0.01
    coeff = _taylor(lambda mu: _deficit(d, g, mu * p_B, p_B) / mu, 1e-4, 2)[0]
    assert coeff == pytest.approx(paper.deficit_coefficient(d), rel=RTOL)
    assert paper.deficit_coefficient(d) == (d - 1) / d
    for g, p_A, p_B in _params(d, 2):
        assert paper.fidelity_deficit(d, p_A, p_B) == pytest.approx(
            _deficit(d, g, p_A, p_B), rel=RTOL
        )


def test_c12_limit_state_is_eq11() -> None:
    """mu -> 0: rho' -> |S_d><S_d| (Eq. 11), the machine's target state."""
    for d in DIMS:
        psi = paper.maximally_entangled_state(d)
        np.testing.assert_allclose(psi, qudit(d).target, atol=1e-16)
        np.testing.assert_allclose(
            paper.filtered_state(d, 0.0, 1.0), np.outer(psi, psi.conj()), atol=1e-15
        )


def test_qutrit_machine_is_the_d2_qudit_machine() -> None:
    """For d = 2 (theta = pi/4) the qudit forms are the qutrit forms."""
    g, p_A, p_B = 0.01, 0.002, 0.01
    np.testing.assert_allclose(
        paper.filtered_state(2, p_A, p_B),
        paper_qutrit.filtered_state(g, math.pi / 4, p_A, p_B),
        rtol=1e-12,
        atol=1e-16,
    )
    assert paper.deficit_coefficient(2) == 0.5  # Eq. 6 at theta = pi/4: 1 - mu/2
